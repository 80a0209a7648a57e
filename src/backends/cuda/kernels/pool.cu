// kiln's CUDA pooling: MaxPool and AveragePool over NCHW (and NCW, as H = 1), with strides,
// pads (auto_pad resolved by ir::resolveWindow, as the shape rule and the reference do),
// ceil_mode, dilations and count_include_pad; GlobalAveragePool and GlobalMaxPool over any
// number of spatial dims; NhwcMaxPool over channels-last tensors. One thread per output pixel
// for the windowed pools (per output pixel and 16 bytes of channels for NhwcMaxPool, or per
// output element where the channels do not split so); one warp
// (small planes) or one block (large planes) per (n, c) plane for the global ones.
#include <algorithm>

#include "backends/cuda/kernels/compute_common.cuh"
#include "ir/ops/window.h"

namespace kiln::cuda {
namespace {

struct PoolGeometry {
  int planes = 0, h = 1, w = 1, oh = 1, ow = 1;
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int ph = 0, pw = 0;          //!< pads at the start
  int ph_end = 0, pw_end = 0;  //!< pads at the end (count_include_pad counts positions inside them)
  bool include_pad = false;
};

template <typename T, bool kMax>
__global__ void windowPool(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g) {
  const int total = g.planes * g.oh * g.ow;
  for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < total; o += gridDim.x * blockDim.x) {
    const int ox = o % g.ow;
    const int rest = o / g.ow;
    const int oy = rest % g.oh;
    const int plane = rest / g.oh;
    const T* src = x + static_cast<int64_t>(plane) * g.h * g.w;
    const int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    float best = 0.0f, sum = 0.0f;
    bool any = false;
    int valid = 0, in_padded = 0;
    for (int i = 0; i < g.kh; ++i) {
      const int iy = y0 + i * g.dh;
      const bool row_in = iy >= 0 && iy < g.h;
      const bool row_padded = iy >= -g.ph && iy < g.h + g.ph_end;
      for (int j = 0; j < g.kw; ++j) {
        const int ix = x0 + j * g.dw;
        if (!kMax) in_padded += row_padded && ix >= -g.pw && ix < g.w + g.pw_end;
        if (!row_in || ix < 0 || ix >= g.w) continue;
        const float v = toFloat(src[iy * g.w + ix]);
        if (kMax) {
          if (!any || v > best) best = v;  // the reference's order: the first, then strictly greater
          any = true;
        } else {
          sum += v;
          ++valid;
        }
      }
    }
    float result;
    if (kMax) {
      result = any ? best : 0.0f;
    } else {
      const int divisor = g.include_pad ? in_padded : valid;
      result = divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f;
    }
    y[o] = fromFloat<T>(result);
  }
}

//! kBlock: one block per plane; else one warp per plane (8 planes per block).
template <typename T, bool kMax, bool kBlock>
__global__ void globalPool(const T* __restrict__ x, T* __restrict__ y, int planes, int pixels) {
  __shared__ float scratch[32];
  const int plane = kBlock ? blockIdx.x : blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = kBlock ? threadIdx.x : (threadIdx.x & 31);
  const int threads = kBlock ? blockDim.x : 32;
  if (!kBlock && plane >= planes) return;
  const T* src = x + static_cast<int64_t>(plane) * pixels;
  float acc = kMax ? -INFINITY : 0.0f;
  for (int i = lane; i < pixels; i += threads) {
    const float v = toFloat(src[i]);
    acc = kMax ? nanMax(acc, v) : acc + v;
  }
  if constexpr (kBlock) acc = kMax ? blockMax(acc, scratch) : blockSum(acc, scratch);
  else acc = kMax ? warpMax(acc) : warpSum(acc);
  if (lane == 0) y[plane] = fromFloat<T>(kMax ? acc : acc / static_cast<float>(pixels));
}

//! NhwcMaxPool: one thread per output element, consecutive threads on consecutive channels
//! (coalesced); g.planes is the batch and `channels` the innermost dim.
template <typename T>
__global__ void nhwcMaxPool(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g, int channels) {
  const int64_t total = static_cast<int64_t>(g.planes) * g.oh * g.ow * channels;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(o % channels);
    int64_t rest = o / channels;
    const int ox = static_cast<int>(rest % g.ow);
    rest /= g.ow;
    const int oy = static_cast<int>(rest % g.oh);
    const int64_t n = rest / g.oh;
    const T* src = x + n * g.h * g.w * channels + c;
    const int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    float best = 0.0f;
    bool any = false;
    for (int i = 0; i < g.kh; ++i) {
      const int iy = y0 + i * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int j = 0; j < g.kw; ++j) {
        const int ix = x0 + j * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        const float v = toFloat(src[(static_cast<int64_t>(iy) * g.w + ix) * channels]);
        if (!any || v > best) best = v;  // the reference's order: the first, then strictly greater
        any = true;
      }
    }
    y[o] = fromFloat<T>(any ? best : 0.0f);
  }
}

//! NhwcMaxPool, vectorized: one thread per output pixel and kVec consecutive channels (16-byte
//! loads and stores; needs channels % kVec == 0 and 16-byte aligned pointers). 32-bit indices:
//! the provider takes only tensors whose element counts fit.
template <typename T, int kVec>
__global__ void nhwcMaxPoolVec(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g, int channels) {
  const int groups = channels / kVec;
  const int total = g.planes * g.oh * g.ow * groups;
  for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < total; o += gridDim.x * blockDim.x) {
    const int cg = o % groups;
    int rest = o / groups;
    const int ox = rest % g.ow;
    rest /= g.ow;
    const int oy = rest % g.oh;
    const int n = rest / g.oh;
    const T* src = x + n * g.h * g.w * channels + cg * kVec;
    const int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    float best[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) best[k] = 0.0f;
    bool any = false;
    for (int i = 0; i < g.kh; ++i) {
      const int iy = y0 + i * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int j = 0; j < g.kw; ++j) {
        const int ix = x0 + j * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        alignas(16) T v[kVec];
        *reinterpret_cast<uint4*>(v) = __ldg(reinterpret_cast<const uint4*>(src + (iy * g.w + ix) * channels));
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          const float f = toFloat(v[k]);
          if (!any || f > best[k]) best[k] = f;  // the reference's order: the first, then strictly greater
        }
        any = true;
      }
    }
    alignas(16) T out[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) out[k] = fromFloat<T>(best[k]);
    *reinterpret_cast<uint4*>(y + static_cast<int64_t>(o) * kVec) = *reinterpret_cast<const uint4*>(out);
  }
}

bool isGlobal(std::string_view op) { return op == "GlobalAveragePool" || op == "GlobalMaxPool"; }

//! The window of a MaxPool/AveragePool layer in 2-D form (1-D pools get H = 1).
PoolGeometry poolGeometry(const backend::LayerView& layer) {
  // NhwcMaxPool [N, H, W, C] is read as N planes of H x W (the kernel walks the channels).
  const bool nhwc = layer.node->op == "NhwcMaxPool";
  const ir::Shape& given = layer.inputs[0].shape;
  const ir::Shape xs = nhwc ? ir::Shape{given[0], 1, given[1], given[2]} : given;
  const ir::Window win =
      ir::resolveWindow(layer.attrs(), ir::Shape(xs.begin() + 2, xs.end()), layer.attrs().ints("kernel_shape"), true);
  PoolGeometry g;
  g.planes = static_cast<int>(xs[0] * xs[1]);
  auto at = [&](const std::vector<int64_t>& v, size_t d, int64_t fallback) {
    return static_cast<int>(d < v.size() ? v[d] : fallback);
  };
  if (win.rank() == 2) {
    g.h = static_cast<int>(xs[2]);
    g.oh = at(win.out, 0, 1);
    g.kh = at(win.kernel, 0, 1);
    g.sh = at(win.strides, 0, 1);
    g.dh = at(win.dilations, 0, 1);
    g.ph = at(win.pads_begin, 0, 0);
    g.ph_end = at(win.pads_end, 0, 0);
  }
  const size_t d = win.rank() - 1;  // W's index in the window: 1 for 2-D, 0 for 1-D
  g.w = static_cast<int>(xs.back());
  g.ow = at(win.out, d, 1);
  g.kw = at(win.kernel, d, 1);
  g.sw = at(win.strides, d, 1);
  g.dw = at(win.dilations, d, 1);
  g.pw = at(win.pads_begin, d, 0);
  g.pw_end = at(win.pads_end, d, 0);
  g.include_pad = layer.attrs().i("count_include_pad", 0) != 0;
  return g;
}

class PoolKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<PoolKernel>(*this); }
  PoolKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    const std::string& op = layer.node->op;
    global_ = isGlobal(op);
    nhwc_ = op == "NhwcMaxPool";
    max_ = op == "MaxPool" || op == "GlobalMaxPool" || nhwc_;
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    const ir::Shape& xs = layer.inputs[0].shape;
    if (global_) {
      planes_ = static_cast<int>(xs[0] * xs[1]);
      pixels_ = planes_ > 0 ? static_cast<int>(numel(xs) / planes_) : 0;
    } else {
      g_ = poolGeometry(layer);
      channels_ = nhwc_ ? static_cast<int>(xs[3]) : 1;
    }
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    dispatchCompute(type_, [&]<typename T>() {
      const T* x = static_cast<const T*>(args.inputs[0]);
      T* y = static_cast<T*>(args.outputs[0]);
      if (global_) {
        if (planes_ == 0 || pixels_ == 0) return;
        if (pixels_ > 2048) {
          if (max_) globalPool<T, true, true><<<planes_, 256, 0, stream>>>(x, y, planes_, pixels_);
          else globalPool<T, false, true><<<planes_, 256, 0, stream>>>(x, y, planes_, pixels_);
        } else {
          if (max_) globalPool<T, true, false><<<gridFor(planes_, 8), 256, 0, stream>>>(x, y, planes_, pixels_);
          else globalPool<T, false, false><<<gridFor(planes_, 8), 256, 0, stream>>>(x, y, planes_, pixels_);
        }
      } else if (nhwc_) {
        const int64_t total = static_cast<int64_t>(g_.planes) * g_.oh * g_.ow * channels_;
        if (total == 0) return;
        constexpr int kVec = 16 / sizeof(T);
        if (channels_ % kVec == 0 && (reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) % 16 == 0) {
          const unsigned blocks =
              static_cast<unsigned>(std::min<int64_t>(gridFor(total / kVec, 256), int64_t{1} << 20));
          nhwcMaxPoolVec<T, kVec><<<blocks, 256, 0, stream>>>(x, y, g_, channels_);
        } else {
          const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(gridFor(total, 256), int64_t{1} << 20));
          nhwcMaxPool<T><<<blocks, 256, 0, stream>>>(x, y, g_, channels_);
        }
      } else {
        const int64_t total = static_cast<int64_t>(g_.planes) * g_.oh * g_.ow;
        if (total == 0) return;
        const unsigned blocks = std::min<unsigned>(gridFor(total, 256), 1u << 20);
        if (max_) windowPool<T, true><<<blocks, 256, 0, stream>>>(x, y, g_);
        else windowPool<T, false><<<blocks, 256, 0, stream>>>(x, y, g_);
      }
    });
    checkLaunch();
  }

  bool refit(const backend::LayerView&) override { return true; }

 private:
  bool global_ = false, max_ = false, nhwc_ = false;
  DataType type_ = DataType::kFLOAT;
  int planes_ = 0, pixels_ = 0, channels_ = 1;
  PoolGeometry g_;
};

class PoolProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.pool"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "MaxPool" || op == "AveragePool" || op == "NhwcMaxPool" || isGlobal(op);
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!isComputeType(t) || opt.inputs[0].type != t) return {};
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!allFitInt32(*l)) return {};
    const size_t rank = opt.inputs[0].shape.size();
    if (isGlobal(opt.node->op)) {
      if (rank < 3) return {};
      return {backend::TacticConfig{.name = "cuda.pool.global"}};
    }
    if (rank != 3 && rank != 4) return {};
    if (hasOutput(opt, 1)) return {};  // MaxPool's Indices are not produced here
    if (opt.node->op == "NhwcMaxPool") return {backend::TacticConfig{.name = "cuda.pool.nhwc_max"}};
    return {backend::TacticConfig{.name = "cuda.pool.window"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device& device) const override {
    return std::make_unique<PoolKernel>(layer, device);
  }
};

KILN_TACTIC_PROVIDER(PoolProvider);

}  // namespace
}  // namespace kiln::cuda
