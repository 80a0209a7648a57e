// kiln's depthwise 2-D convolution (see depthwise_conv.h): Y = act(conv(X, W) + B + R) with
// one filter per channel, FusedConv's whole epilogue applied to the accumulators as they are
// stored, fp32 / fp16 / bf16 storage with float accumulation. A memory-bound op (9 multiply-adds
// per element read for 3x3), so the kernels are shaped by their loads:
//
// NHWC: one thread per (n, oy, strip of kPixels consecutive output columns, vector of V
// channels); consecutive threads take consecutive channel vectors of one pixel, so a warp's
// loads and stores are contiguous. V is 16 bytes of channels (8 fp16 / bf16, 4 fp32) when C is
// a multiple of it and X, Y and R are 16-byte aligned, else 1 (scalar). The thread keeps its
// kPixels x V accumulators and one kernel row of taps (KW x V floats) in registers, so each
// tap is loaded once per strip, not once per pixel. W is re-laid out on the host as
// [KH * KW][C] (tap-major) so that a tap's V channels are one load too. The fast path (3x3,
// W stride 1 or 2, W dilation 1) walks the (kPixels - 1) * stride + 3 input columns of the
// strip once per kernel row and feeds each to every (pixel, tap) pair that reads it; other
// kernels take the general path (any size, strides, dilations, pads).
//
// NCHW: one thread per (n, c, oy, strip of kPixels output columns), consecutive threads on
// consecutive strips of one row; scalar loads, the same column reuse, W as the model has it
// ([C][KH * KW]).
//
// Two tactics per layout, timed by the builder: 4 columns per thread in blocks of 256 threads
// ("4px"), 2 columns in blocks of 64 ("2px", for small layers: batch 1 spreads thin).
#include <cstring>
#include <vector>

#include "backends/cuda/kernels/compute_common.cuh"
#include "backends/cuda/kernels/conv_activation.cuh"
#include "backends/cuda/kernels/depthwise_conv.h"
#include "ir/ops/conv_epilogue.h"
#include "ir/ops/window.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxBlock = 256;

//! A launch shape, one tactic each (the builder times them): output columns per thread (the
//! taps in registers serve them all, the input columns they share are loaded once) and threads
//! per block. Wide strips in large blocks save loads on large layers; narrow strips in small
//! blocks spread a small layer (batch 1) over more of the SMs.
struct Variant {
  const char* suffix;
  int pixels, block;
};
constexpr Variant kVariants[] = {{"4px", 4, 256}, {"2px", 2, 64}};

struct DepthwiseGeometry {
  int batch = 0, channels = 0, h = 0, w = 0, oh = 0, ow = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int items = 0;  //!< threads of the launch (set by the launcher: it depends on V)
};

//! V elements at an address aligned to their size: one load or store.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ void loadFloats(const T* p, float (&out)[V]) {
  const Pack<T, V> pack = *reinterpret_cast<const Pack<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) out[i] = toFloat(pack.v[i]);
}

//! kKW > 0: kernel width kKW, W stride kSW and W dilation 1, known at compile time (the fast
//! path); kKW == 0: everything from `g`.
template <typename T, int V, int kKW, int kSW, int kPixels>
__global__ void __launch_bounds__(kMaxBlock)
    depthwiseNhwc(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                  const T* __restrict__ residual, T* __restrict__ y, DepthwiseGeometry g, ir::ConvEpilogue epilogue) {
  const int item = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (item >= g.items) return;
  const int vectors = g.channels / V;
  const int strips = (g.ow + kPixels - 1) / kPixels;
  const int cv = item % vectors;
  int rest = item / vectors;
  const int strip = rest % strips;
  rest /= strips;
  const int oy = rest % g.oh;
  const int n = rest / g.oh;
  const int c = cv * V, ox0 = strip * kPixels;
  const int kw = kKW > 0 ? kKW : g.kw;

  float acc[kPixels][V] = {};
  const T* xn = x + n * g.h * g.w * g.channels + c;
  for (int r = 0; r < g.kh; ++r) {
    const int iy = oy * g.sh - g.ph + r * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    const T* row = xn + iy * g.w * g.channels;
    const T* taps = w + r * kw * g.channels + c;
    if constexpr (kKW > 0) {
      float wt[kKW][V];
#pragma unroll
      for (int s = 0; s < kKW; ++s) loadFloats<T, V>(taps + s * g.channels, wt[s]);
      const int ix0 = ox0 * kSW - g.pw;
#pragma unroll
      for (int j = 0; j < (kPixels - 1) * kSW + kKW; ++j) {
        const int ix = ix0 + j;
        if (ix < 0 || ix >= g.w) continue;
        float in[V];
        loadFloats<T, V>(row + ix * g.channels, in);
#pragma unroll
        for (int p = 0; p < kPixels; ++p) {
          const int s = j - p * kSW;  // the tap of pixel p that reads column j
          if (s < 0 || s >= kKW) continue;
#pragma unroll
          for (int i = 0; i < V; ++i) acc[p][i] = fmaf(wt[s][i], in[i], acc[p][i]);
        }
      }
    } else {
      for (int s = 0; s < kw; ++s) {
        float wt[V];
        loadFloats<T, V>(taps + s * g.channels, wt);
        const int ix0 = ox0 * g.sw - g.pw + s * g.dw;
#pragma unroll
        for (int p = 0; p < kPixels; ++p) {
          const int ix = ix0 + p * g.sw;
          if (ix < 0 || ix >= g.w) continue;
          float in[V];
          loadFloats<T, V>(row + ix * g.channels, in);
#pragma unroll
          for (int i = 0; i < V; ++i) acc[p][i] = fmaf(wt[i], in[i], acc[p][i]);
        }
      }
    }
  }

  // The epilogue: B (scalar loads: a runtime B need not be aligned), R, the activation.
  float b[V] = {};
  if (bias) {
#pragma unroll
    for (int i = 0; i < V; ++i) b[i] = toFloat(bias[c + i]);
  }
#pragma unroll
  for (int p = 0; p < kPixels; ++p) {
    const int ox = ox0 + p;
    if (ox >= g.ow) break;
    const int at = ((n * g.oh + oy) * g.ow + ox) * g.channels + c;
    float res[V] = {};
    if (residual) loadFloats<T, V>(residual + at, res);
    Pack<T, V> out;
#pragma unroll
    for (int i = 0; i < V; ++i) out.v[i] = fromFloat<T>(convActivate(epilogue, acc[p][i] + b[i] + res[i]));
    *reinterpret_cast<Pack<T, V>*>(y + at) = out;
  }
}

template <typename T, int kKW, int kSW, int kPixels>
__global__ void __launch_bounds__(kMaxBlock)
    depthwiseNchw(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                  const T* __restrict__ residual, T* __restrict__ y, DepthwiseGeometry g, ir::ConvEpilogue epilogue) {
  const int item = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (item >= g.items) return;
  const int strips = (g.ow + kPixels - 1) / kPixels;
  const int strip = item % strips;
  const int rest = item / strips;
  const int oy = rest % g.oh;
  const int plane = rest / g.oh;  // n * C + c
  const int c = plane % g.channels;
  const int ox0 = strip * kPixels;
  const int kw = kKW > 0 ? kKW : g.kw;

  float acc[kPixels] = {};
  const T* xp = x + plane * g.h * g.w;
  const T* wc = w + c * g.kh * kw;
  for (int r = 0; r < g.kh; ++r) {
    const int iy = oy * g.sh - g.ph + r * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    const T* row = xp + iy * g.w;
    if constexpr (kKW > 0) {
      float wt[kKW];
#pragma unroll
      for (int s = 0; s < kKW; ++s) wt[s] = toFloat(wc[r * kKW + s]);
      const int ix0 = ox0 * kSW - g.pw;
#pragma unroll
      for (int j = 0; j < (kPixels - 1) * kSW + kKW; ++j) {
        const int ix = ix0 + j;
        if (ix < 0 || ix >= g.w) continue;
        const float in = toFloat(row[ix]);
#pragma unroll
        for (int p = 0; p < kPixels; ++p) {
          const int s = j - p * kSW;
          if (s >= 0 && s < kKW) acc[p] = fmaf(wt[s], in, acc[p]);
        }
      }
    } else {
      for (int s = 0; s < kw; ++s) {
        const float wt = toFloat(wc[r * kw + s]);
        const int ix0 = ox0 * g.sw - g.pw + s * g.dw;
#pragma unroll
        for (int p = 0; p < kPixels; ++p) {
          const int ix = ix0 + p * g.sw;
          if (ix >= 0 && ix < g.w) acc[p] = fmaf(wt, toFloat(row[ix]), acc[p]);
        }
      }
    }
  }
  const float b = bias ? toFloat(bias[c]) : 0.0f;
#pragma unroll
  for (int p = 0; p < kPixels; ++p) {
    const int ox = ox0 + p;
    if (ox >= g.ow) break;
    const int at = (plane * g.oh + oy) * g.ow + ox;
    const float r = residual ? toFloat(residual[at]) : 0.0f;
    y[at] = fromFloat<T>(convActivate(epilogue, acc[p] + b + r));
  }
}

//! Which compiled form a geometry takes: 3x3 with W stride 1 or 2 and W dilation 1 (any H
//! stride, dilation and pads), or the general one.
enum class Form { k3x3Stride1, k3x3Stride2, kGeneral };

Form formOf(const DepthwiseGeometry& g) {
  if (g.kw == 3 && g.dw == 1 && g.sw == 1) return Form::k3x3Stride1;
  if (g.kw == 3 && g.dw == 1 && g.sw == 2) return Form::k3x3Stride2;
  return Form::kGeneral;
}

template <typename T, int V, int kPixels>
void launchNhwc(DepthwiseGeometry g, Form form, int block, const T* x, const T* w, const T* bias, const T* residual,
                T* y, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  g.items = g.batch * g.oh * ((g.ow + kPixels - 1) / kPixels) * (g.channels / V);
  const unsigned blocks = gridFor(g.items, block);
  switch (form) {
    case Form::k3x3Stride1:
      depthwiseNhwc<T, V, 3, 1, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
    case Form::k3x3Stride2:
      depthwiseNhwc<T, V, 3, 2, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
    case Form::kGeneral:
      depthwiseNhwc<T, V, 0, 1, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
  }
}

template <typename T, int kPixels>
void launchNchw(DepthwiseGeometry g, Form form, int block, const T* x, const T* w, const T* bias, const T* residual,
                T* y, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  g.items = g.batch * g.channels * g.oh * ((g.ow + kPixels - 1) / kPixels);
  const unsigned blocks = gridFor(g.items, block);
  switch (form) {
    case Form::k3x3Stride1:
      depthwiseNchw<T, 3, 1, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
    case Form::k3x3Stride2:
      depthwiseNchw<T, 3, 2, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
    case Form::kGeneral:
      depthwiseNchw<T, 0, 1, kPixels><<<blocks, block, 0, stream>>>(x, w, bias, residual, y, g, epilogue);
      break;
  }
}

//! Launches the NHWC (`nhwc`) or NCHW kernel of kPixels columns per thread, `block` threads per
//! block; NHWC with 16-byte vectors of channels when C and every activation pointer allow,
//! else scalar.
template <typename T, int kPixels>
void launch(bool nhwc, const DepthwiseGeometry& g, Form form, int block, const T* x, const T* w, const T* bias,
            const T* residual, T* y, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  if (!nhwc) return launchNchw<T, kPixels>(g, form, block, x, w, bias, residual, y, epilogue, stream);
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (g.channels % kWide == 0 && aligned16(x) && aligned16(y) && (!residual || aligned16(residual)))
    return launchNhwc<T, kWide, kPixels>(g, form, block, x, w, bias, residual, y, epilogue, stream);
  launchNhwc<T, 1, kPixels>(g, form, block, x, w, bias, residual, y, epilogue, stream);
}

bool channelsLast(const backend::LayerView& layer) {
  return layer.node->op == "FusedConv" && ir::convChannelsLast(layer.attrs());
}

//! X and W's shapes in NCHW order (X [N, C, H, W], W [C, 1, KH, KW]) whatever the layout.
std::pair<ir::Shape, ir::Shape> nchwShapes(const backend::LayerView& layer) {
  ir::Shape xs = layer.inputs[0].shape, ws = layer.inputs[1].shape;
  if (channelsLast(layer)) {
    xs = {xs[0], xs[3], xs[1], xs[2]};
    ws = {ws[0], ws[3], ws[1], ws[2]};
  }
  return {xs, ws};
}

DepthwiseGeometry geometryOf(const backend::LayerView& layer) {
  const auto [xs, ws] = nchwShapes(layer);
  const ir::Window win = ir::resolveWindow(layer.attrs(), ir::Shape(xs.begin() + 2, xs.end()),
                                           std::vector<int64_t>(ws.begin() + 2, ws.end()), false);
  DepthwiseGeometry g;
  g.batch = static_cast<int>(xs[0]);
  g.channels = static_cast<int>(xs[1]);
  g.h = static_cast<int>(xs[2]);
  g.w = static_cast<int>(xs[3]);
  g.kh = static_cast<int>(win.kernel[0]);
  g.kw = static_cast<int>(win.kernel[1]);
  g.oh = static_cast<int>(win.out[0]);
  g.ow = static_cast<int>(win.out[1]);
  g.sh = static_cast<int>(win.strides[0]);
  g.sw = static_cast<int>(win.strides[1]);
  g.dh = static_cast<int>(win.dilations[0]);
  g.dw = static_cast<int>(win.dilations[1]);
  g.ph = static_cast<int>(win.pads_begin[0]);
  g.pw = static_cast<int>(win.pads_begin[1]);
  return g;
}

class DepthwiseConvKernel final : public ComputeKernel {
 public:
  DepthwiseConvKernel(const backend::LayerView& layer, const Variant& variant, backend::Device& device)
      : ComputeKernel(layer, device),
        epilogue_(ir::convEpilogue(layer.attrs())),
        nhwc_(channelsLast(layer)),
        variant_(variant) {
    has_bias_ = hasInput(layer, 2);
    has_residual_ = layer.node->op == "FusedConv" && hasInput(layer, 3);
    refit(layer);
    reshape(layer);
  }
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<DepthwiseConvKernel>(*this); }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    g_ = geometryOf(layer);
    form_ = formOf(g_);
  }

  bool refit(const backend::LayerView& layer) override {
    if (!layer.isConstant(1))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.conv's depthwise kernel needs W as a constant");
    const ir::Tensor& w = *layer.constants[1];
    // W is [C][KH * KW] in both layouts (OIHW [C, 1, KH, KW], KRSC [C, KH, KW, 1]); the NHWC
    // kernel reads it tap-major, [KH * KW][C], so that V channels of one tap are one load.
    auto fresh = std::make_shared<DeviceBuffer>();
    if (nhwc_) {
      const size_t bytes = elementSize(w.type());
      const int64_t channels = w.shape()[0];
      const int64_t taps = channels > 0 ? static_cast<int64_t>(w.byteSize() / bytes) / channels : 0;
      std::vector<std::byte> tap_major(w.byteSize());
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t t = 0; t < taps; ++t)
          std::memcpy(tap_major.data() + (t * channels + c) * bytes, w.raw() + (c * taps + t) * bytes, bytes);
      fresh->upload(device_, tap_major.data(), tap_major.size());
    } else {
      fresh->upload(device_, w);
    }
    weights_ = std::move(fresh);
    if (has_bias_) bias_.prepare(device_, layer, 2);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (static_cast<int64_t>(g_.batch) * g_.channels * g_.oh * g_.ow == 0) return;
    cudaStream_t stream = streamOf(args);
    const void* residual = has_residual_ ? args.inputs[3] : nullptr;
    dispatchCompute(type_, [&]<typename T>() {
      const T* x = static_cast<const T*>(args.inputs[0]);
      const T* w = static_cast<const T*>(weights_->data());
      const T* bias = has_bias_ ? static_cast<const T*>(bias_.get(args)) : nullptr;
      const T* r = static_cast<const T*>(residual);
      T* y = static_cast<T*>(args.outputs[0]);
      if (variant_.pixels == 4)
        return launch<T, 4>(nhwc_, g_, form_, variant_.block, x, w, bias, r, y, epilogue_, stream);
      launch<T, 2>(nhwc_, g_, form_, variant_.block, x, w, bias, r, y, epilogue_, stream);
    });
    checkLaunch();
  }

 private:
  ir::ConvEpilogue epilogue_;  //!< none for a Conv
  bool nhwc_ = false, has_bias_ = false, has_residual_ = false;
  Variant variant_;
  DataType type_ = DataType::kFLOAT;
  DepthwiseGeometry g_;
  Form form_ = Form::kGeneral;
  std::shared_ptr<const DeviceBuffer> weights_;  //!< shared by clones; refit makes a new one
  ConstantOrInput bias_;
};

//! See depthwiseConvCandidates.
bool supported(const backend::LayerView& min, const backend::LayerView& opt, const backend::LayerView& max) {
  if (opt.node->op != "Conv" && opt.node->op != "FusedConv") return false;
  if (opt.inputs.size() < 2 || opt.outputs.empty()) return false;
  const bool nhwc = channelsLast(opt);
  const DataType t = opt.outputs[0].type;
  if (!isComputeType(t) || opt.inputs[0].type != t || opt.inputs[1].type != t) return false;
  if (hasInput(opt, 2) && opt.inputs[2].type != t) return false;
  if (hasInput(opt, 3) && opt.inputs[3].type != t) return false;
  const int64_t group = opt.attrs().i("group", 1);
  for (const backend::LayerView* l : {&min, &opt, &max}) {
    if (!l->isConstant(1)) return false;  // re-laid out (NHWC) and uploaded once, off the enqueue path
    const ir::Shape& xs = l->inputs[0].shape;
    const ir::Shape& ws = l->inputs[1].shape;
    const ir::Shape& ys = l->outputs[0].shape;
    if (xs.size() != 4 || ws.size() != 4 || ys.size() != 4) return false;
    const int64_t c = nhwc ? xs[3] : xs[1];
    const int64_t per_group = nhwc ? ws[3] : ws[1];
    const int64_t out_channels = nhwc ? ys[3] : ys[1];
    if (c < 1 || group != c || ws[0] != c || per_group != 1 || out_channels != c) return false;
    if (hasInput(*l, 2) && l->inputs[2].shape != ir::Shape{c}) return false;
    if (hasInput(*l, 3) && l->inputs[3].shape != ys) return false;
    if (!allFitInt32(*l)) return false;
  }
  return true;
}

}  // namespace

std::vector<backend::TacticConfig> depthwiseConvCandidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                           const backend::LayerView& max) {
  if (!supported(min, opt, max)) return {};
  std::vector<backend::TacticConfig> configs;
  const std::string prefix = channelsLast(opt) ? "cuda.conv.depthwise.nhwc." : "cuda.conv.depthwise.nchw.";
  for (const Variant& v : kVariants) configs.push_back(backend::TacticConfig{.name = prefix + v.suffix});
  return configs;
}

bool isDepthwiseConvTactic(const std::string& name) { return name.rfind("cuda.conv.depthwise.", 0) == 0; }

std::unique_ptr<backend::Kernel> makeDepthwiseConvKernel(const backend::LayerView& layer,
                                                         const backend::TacticConfig& config, backend::Device& device) {
  for (const Variant& v : kVariants)
    if (config.name.rfind("cuda.conv.depthwise.", 0) == 0 && config.name.ends_with(std::string(".") + v.suffix))
      return std::make_unique<DepthwiseConvKernel>(layer, v, device);
  throw Error(ErrorCode::kInvalidArgument, layer.node->describe() + ": no depthwise tactic named " + config.name);
}

}  // namespace kiln::cuda
