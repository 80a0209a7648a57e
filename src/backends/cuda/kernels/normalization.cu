// kiln's CUDA normalizations: LayerNormalization (rows from `axis`, optional Mean and
// InvStdDev outputs), BatchNormalization in its inference form (a per-channel y = x * a + b
// whose a and b are folded on the host from the constant statistics; refit folds again) and
// InstanceNormalization (per (n, c) plane). Statistics in float, two passes (mean, then the
// mean of squared deviations), as the reference does in double.
#include <algorithm>
#include <cmath>

#include "backends/cuda/kernels/compute_common.cuh"

namespace kiln::cuda {
namespace {

// ---- LayerNormalization ----------------------------------------------------------------------

struct LayerNormGeometry {
  int rows = 0, inner = 0;
  int scale_count = 1, bias_count = 1;  //!< the normalized index i reads scale[i % scale_count]
  float epsilon = 1e-5f;
};

//! Mean and 1/sqrt(var + eps) of `count` elements spread over `threads` lanes of a warp or block.
template <typename T, typename Reduce>
__device__ __forceinline__ void rowMoments(const T* src, int count, int lane, int threads, float epsilon,
                                           const Reduce& reduce, float& mean, float& inv_std) {
  float sum = 0.0f;
  for (int i = lane; i < count; i += threads) sum += toFloat(src[i]);
  mean = reduce(sum) / static_cast<float>(count);
  float sq = 0.0f;
  for (int i = lane; i < count; i += threads) {
    const float d = toFloat(src[i]) - mean;
    sq = fmaf(d, d, sq);
  }
  inv_std = rsqrtf(reduce(sq) / static_cast<float>(count) + epsilon);
}

template <typename T>
__device__ __forceinline__ void layerNormRow(const T* src, T* dst, const T* scale, const T* bias, int lane,
                                             int threads, const LayerNormGeometry& g, float mean, float inv_std) {
  for (int i = lane; i < g.inner; i += threads) {
    float v = (toFloat(src[i]) - mean) * inv_std * toFloat(scale[i % g.scale_count]);
    if (bias) v += toFloat(bias[i % g.bias_count]);
    dst[i] = fromFloat<T>(v);
  }
}

//! kBlock: one block per row; else one warp per row (8 rows per block).
template <typename T, bool kBlock>
__global__ void layerNorm(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ scale,
                          const T* __restrict__ bias, float* __restrict__ mean_out, float* __restrict__ inv_std_out,
                          LayerNormGeometry g) {
  __shared__ float scratch[32];
  const int row = kBlock ? blockIdx.x : blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = kBlock ? threadIdx.x : (threadIdx.x & 31);
  const int threads = kBlock ? blockDim.x : 32;
  if (!kBlock && row >= g.rows) return;
  const T* src = x + static_cast<int64_t>(row) * g.inner;
  float mean, inv_std;
  if constexpr (kBlock) {
    rowMoments(src, g.inner, lane, threads, g.epsilon, [&](float v) { return blockSum(v, scratch); }, mean, inv_std);
  } else {
    rowMoments(src, g.inner, lane, threads, g.epsilon, [](float v) { return warpSum(v); }, mean, inv_std);
  }
  layerNormRow(src, y + static_cast<int64_t>(row) * g.inner, scale, bias, lane, threads, g, mean, inv_std);
  if (lane == 0) {
    if (mean_out) mean_out[row] = mean;
    if (inv_std_out) inv_std_out[row] = inv_std;
  }
}

//! Elements of a broadcast operand when it is [1.., suffix of `normalized`]; 0 otherwise.
int64_t suffixBroadcastCount(const ir::Shape& operand, const ir::Shape& normalized) {
  size_t first = 0;
  while (first < operand.size() && operand[first] == 1) ++first;
  const size_t n = operand.size() - first;
  if (n > normalized.size()) return 0;
  int64_t count = 1;
  for (size_t i = 0; i < n; ++i) {
    if (operand[first + i] != normalized[normalized.size() - n + i]) return 0;
    count *= operand[first + i];
  }
  return count;
}

//! One warp per row, the row read once into registers as 16-byte vectors (up to kMaxVec per
//! lane: inner <= 32 * kMaxVec * 16 / sizeof(T)), with per-element scale and bias. This is the
//! transformer case (hidden 768 in float16: three vectors per lane); it needs inner to be a
//! whole number of vectors and 16-byte aligned pointers (see layerNormVectorizable).
template <typename T, int kMaxVec>
__global__ void layerNormWarpVec(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ scale,
                                 const T* __restrict__ bias, float* __restrict__ mean_out, float* __restrict__ inv_std_out,
                                 LayerNormGeometry g) {
  constexpr int kPer = 16 / sizeof(T);
  const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= g.rows) return;
  const int vectors = g.inner / kPer;
  const uint4* src = reinterpret_cast<const uint4*>(x + static_cast<int64_t>(row) * g.inner);
  uint4* dst = reinterpret_cast<uint4*>(y + static_cast<int64_t>(row) * g.inner);
  float v[kMaxVec][kPer];
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kMaxVec; ++k) {
    if (lane + k * 32 >= vectors) continue;
    const uint4 raw = src[lane + k * 32];
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      v[k][j] = toFloat(e[j]);
      sum += v[k][j];
    }
  }
  const float mean = warpSum(sum) / static_cast<float>(g.inner);
  float sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kMaxVec; ++k) {
    if (lane + k * 32 >= vectors) continue;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const float d = v[k][j] - mean;
      sq = fmaf(d, d, sq);
    }
  }
  const float inv_std = rsqrtf(warpSum(sq) / static_cast<float>(g.inner) + g.epsilon);
#pragma unroll
  for (int k = 0; k < kMaxVec; ++k) {
    const int idx = lane + k * 32;
    if (idx >= vectors) continue;
    const uint4 sraw = reinterpret_cast<const uint4*>(scale)[idx];
    uint4 braw{};
    if (bias) braw = reinterpret_cast<const uint4*>(bias)[idx];
    const T* sc = reinterpret_cast<const T*>(&sraw);
    const T* bi = reinterpret_cast<const T*>(&braw);
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      float r = (v[k][j] - mean) * inv_std * toFloat(sc[j]);
      if (bias) r += toFloat(bi[j]);
      o[j] = fromFloat<T>(r);
    }
    dst[idx] = out;
  }
  if (lane == 0) {
    if (mean_out) mean_out[row] = mean;
    if (inv_std_out) inv_std_out[row] = inv_std;
  }
}

//! Whether layerNormWarpVec<T, 8> can run this layer on these pointers.
template <typename T>
bool layerNormVectorizable(const LayerNormGeometry& g, const void* x, const void* y, const void* scale, const void* bias) {
  constexpr int kPer = 16 / sizeof(T);
  auto aligned = [](const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return g.inner % kPer == 0 && g.inner <= 32 * 8 * kPer && g.scale_count == g.inner &&
         (bias == nullptr || g.bias_count == g.inner) && aligned(x) && aligned(y) && aligned(scale) && aligned(bias);
}

bool layerNormGeometry(const backend::LayerView& layer, LayerNormGeometry& g) {
  const ir::Shape& s = layer.inputs[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  int64_t axis = layer.attrs().i("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  const ir::Shape normalized(s.begin() + axis, s.end());
  g = {};
  g.inner = static_cast<int>(numel(normalized));
  g.rows = g.inner > 0 ? static_cast<int>(numel(s) / g.inner) : 0;
  g.epsilon = layer.attrs().f("epsilon", 1e-5f);
  g.scale_count = static_cast<int>(suffixBroadcastCount(layer.inputs[1].shape, normalized));
  if (g.scale_count == 0) return false;
  if (hasInput(layer, 2)) {
    g.bias_count = static_cast<int>(suffixBroadcastCount(layer.inputs[2].shape, normalized));
    if (g.bias_count == 0) return false;
  }
  return true;
}

class LayerNormKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LayerNormKernel>(*this); }
  LayerNormKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    has_bias_ = hasInput(layer, 2);
    refit(layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    if (!layerNormGeometry(layer, g_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.norm cannot broadcast Scale/B at these shapes");
  }

  bool refit(const backend::LayerView& layer) override {
    scale_.prepare(device_, layer, 1);
    if (has_bias_) bias_.prepare(device_, layer, 2);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (g_.rows == 0 || g_.inner == 0) return;
    cudaStream_t stream = streamOf(args);
    float* mean = args.outputs.size() > 1 ? static_cast<float*>(args.outputs[1]) : nullptr;
    float* inv_std = args.outputs.size() > 2 ? static_cast<float*>(args.outputs[2]) : nullptr;
    dispatchCompute(type_, [&]<typename T>() {
      const T* x = static_cast<const T*>(args.inputs[0]);
      T* y = static_cast<T*>(args.outputs[0]);
      const T* scale = static_cast<const T*>(scale_.get(args));
      const T* bias = has_bias_ ? static_cast<const T*>(bias_.get(args)) : nullptr;
      constexpr int kPer = 16 / sizeof(T);
      if (layerNormVectorizable<T>(g_, x, y, scale, bias)) {
        if (g_.inner <= 32 * 4 * kPer)
          layerNormWarpVec<T, 4><<<gridFor(g_.rows, 8), 256, 0, stream>>>(x, y, scale, bias, mean, inv_std, g_);
        else
          layerNormWarpVec<T, 8><<<gridFor(g_.rows, 8), 256, 0, stream>>>(x, y, scale, bias, mean, inv_std, g_);
      } else if (g_.inner <= 1024) {
        layerNorm<T, false><<<gridFor(g_.rows, 8), 256, 0, stream>>>(x, y, scale, bias, mean, inv_std, g_);
      } else {
        layerNorm<T, true><<<g_.rows, 512, 0, stream>>>(x, y, scale, bias, mean, inv_std, g_);
      }
    });
    checkLaunch();
  }

 private:
  bool has_bias_ = false;
  DataType type_ = DataType::kFLOAT;
  LayerNormGeometry g_;
  ConstantOrInput scale_, bias_;
};

// ---- BatchNormalization (inference) ----------------------------------------------------------

template <typename T>
__global__ void channelAffine(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ ab, int total,
                              int channels, int pixels) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int c = (i / pixels) % channels;
    y[i] = fromFloat<T>(fmaf(toFloat(x[i]), ab[c], ab[channels + c]));
  }
}

class BatchNormKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<BatchNormKernel>(*this); }
  BatchNormKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    if (!refit(layer)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.norm needs constant BatchNormalization statistics");
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    const ir::Shape& s = layer.inputs[0].shape;
    total_ = static_cast<int>(numel(s));
    channels_ = static_cast<int>(s[1]);
    pixels_ = s[0] * s[1] > 0 ? static_cast<int>(numel(s) / (s[0] * s[1])) : 0;
  }

  //! Folds y = (x - mean) / sqrt(var + eps) * scale + B into a = scale / sqrt(var + eps),
  //! b = B - mean * a (in double) and uploads [a..., b...].
  bool refit(const backend::LayerView& layer) override {
    for (int i = 1; i <= 4; ++i)
      if (!layer.isConstant(i)) return false;
    const double epsilon = layer.attrs().f("epsilon", 1e-5f);
    const std::vector<double> scale = layer.constants[1]->toDouble(), bias = layer.constants[2]->toDouble();
    const std::vector<double> mean = layer.constants[3]->toDouble(), var = layer.constants[4]->toDouble();
    const size_t c = scale.size();
    if (bias.size() != c || mean.size() != c || var.size() != c) return false;
    std::vector<float> ab(2 * c);
    for (size_t k = 0; k < c; ++k) {
      const double a = scale[k] / std::sqrt(var[k] + epsilon);
      ab[k] = static_cast<float>(a);
      ab[c + k] = static_cast<float>(bias[k] - mean[k] * a);
    }
    auto fresh = std::make_shared<DeviceBuffer>();  // clones keep reading the old upload
    fresh->upload(device_, ab.data(), ab.size() * sizeof(float));
    ab_ = std::move(fresh);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (total_ == 0) return;
    cudaStream_t stream = streamOf(args);
    const unsigned blocks = std::min<unsigned>(gridFor(total_, 256), 65535u * 8u);
    dispatchCompute(type_, [&]<typename T>() {
      channelAffine<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(args.inputs[0]), static_cast<T*>(args.outputs[0]),
                                                   static_cast<const float*>(ab_->data()), total_, channels_, pixels_);
    });
    checkLaunch();
  }

 private:
  DataType type_ = DataType::kFLOAT;
  int total_ = 0, channels_ = 1, pixels_ = 1;
  std::shared_ptr<const DeviceBuffer> ab_;  //!< [a..., b...], shared with clones
};

// ---- InstanceNormalization -------------------------------------------------------------------

//! One block per (n, c) plane.
template <typename T>
__global__ void instanceNorm(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ scale,
                             const T* __restrict__ bias, int channels, int pixels, float epsilon) {
  __shared__ float scratch[32];
  const int plane = blockIdx.x;
  const int c = plane % channels;
  const T* src = x + static_cast<int64_t>(plane) * pixels;
  T* dst = y + static_cast<int64_t>(plane) * pixels;
  float mean, inv_std;
  rowMoments(src, pixels, threadIdx.x, blockDim.x, epsilon, [&](float v) { return blockSum(v, scratch); }, mean,
             inv_std);
  const float a = toFloat(scale[c]) * inv_std;
  const float b = toFloat(bias[c]) - mean * a;
  for (int i = threadIdx.x; i < pixels; i += blockDim.x) dst[i] = fromFloat<T>(fmaf(toFloat(src[i]), a, b));
}

class InstanceNormKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<InstanceNormKernel>(*this); }
  InstanceNormKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    refit(layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    const ir::Shape& s = layer.inputs[0].shape;
    planes_ = static_cast<int>(s[0] * s[1]);
    channels_ = static_cast<int>(s[1]);
    pixels_ = planes_ > 0 ? static_cast<int>(numel(s) / planes_) : 0;
    epsilon_ = layer.attrs().f("epsilon", 1e-5f);
  }

  bool refit(const backend::LayerView& layer) override {
    scale_.prepare(device_, layer, 1);
    bias_.prepare(device_, layer, 2);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (planes_ == 0 || pixels_ == 0) return;
    cudaStream_t stream = streamOf(args);
    const int threads = pixels_ >= 1024 ? 512 : (pixels_ >= 256 ? 256 : 64);
    dispatchCompute(type_, [&]<typename T>() {
      instanceNorm<T><<<planes_, threads, 0, stream>>>(static_cast<const T*>(args.inputs[0]), static_cast<T*>(args.outputs[0]),
                                                       static_cast<const T*>(scale_.get(args)),
                                                       static_cast<const T*>(bias_.get(args)), channels_, pixels_, epsilon_);
    });
    checkLaunch();
  }

 private:
  DataType type_ = DataType::kFLOAT;
  int planes_ = 0, channels_ = 1, pixels_ = 0;
  float epsilon_ = 1e-5f;
  ConstantOrInput scale_, bias_;
};

// ---- the provider ----------------------------------------------------------------------------

class NormProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.norm"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "LayerNormalization" || op == "BatchNormalization" || op == "InstanceNormalization";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max, const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!isComputeType(t) || opt.inputs[0].type != t) return {};
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!allFitInt32(*l)) return {};
    const std::string& op = opt.node->op;
    if (op == "LayerNormalization") {
      // Statistics outputs are written in float only (stash_type 1).
      for (int o = 1; o <= 2; ++o)
        if (hasOutput(opt, o) && opt.outputs[o].type != DataType::kFLOAT) return {};
      for (int i = 1; i <= 2; ++i)
        if (hasInput(opt, i) && opt.inputs[i].type != t) return {};
      LayerNormGeometry g;
      for (const backend::LayerView* l : {&min, &opt, &max})
        if (!layerNormGeometry(*l, g)) return {};
      return {backend::TacticConfig{.name = "cuda.norm.layer"}};
    }
    if (op == "BatchNormalization") {
      if (opt.attrs().i("training_mode", 0) != 0 || opt.inputs.size() < 5) return {};
      for (size_t o = 1; o < opt.outputs.size(); ++o)
        if (opt.outputs[o].present) return {};
      for (int i = 1; i <= 4; ++i)
        if (!opt.isConstant(i)) return {};
      if (opt.inputs[0].shape.size() < 2) return {};
      return {backend::TacticConfig{.name = "cuda.norm.batch"}};
    }
    // InstanceNormalization
    if (opt.inputs.size() < 3 || opt.inputs[1].type != t || opt.inputs[2].type != t) return {};
    if (opt.inputs[0].shape.size() < 3) return {};
    return {backend::TacticConfig{.name = "cuda.norm.instance"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device& device) const override {
    const std::string& op = layer.node->op;
    if (op == "LayerNormalization") return std::make_unique<LayerNormKernel>(layer, device);
    if (op == "BatchNormalization") return std::make_unique<BatchNormKernel>(layer, device);
    return std::make_unique<InstanceNormKernel>(layer, device);
  }
};

KILN_TACTIC_PROVIDER(NormProvider);

}  // namespace
}  // namespace kiln::cuda
