// kiln's fallback CUDA convolution: Conv and FusedConv over NCHW (and NCW, as H = 1) as an
// implicit GEMM, per group: Y_g[Cout_g, N*OH*OW] = W_g[Cout_g, Cin_g*KH*KW] x im2col(X)_g,
// where the im2col columns are gathered straight from X into the shared-memory tiles of the
// GEMM core (no im2col buffer, no workspace). Groups, strides, pads (auto_pad resolved by
// ir::resolveWindow), dilations and bias; FusedConv's residual and activation are applied to
// the accumulator as it is stored (no second pass over Y); fp32/fp16/bf16 with float
// accumulation. Constant weights and bias are uploaded once in instantiate() and again by
// refit(). Depthwise convolutions (group == C_in == C_out) get kiln's depthwise kernel too
// (depthwise_conv.cu, two launch shapes), in NCHW and in NHWC; NHWC layers get only those.
#include <algorithm>

#include "backends/cuda/kernels/compute_common.cuh"
#include "backends/cuda/kernels/conv_activation.cuh"
#include "backends/cuda/kernels/depthwise_conv.h"
#include "ir/ops/conv_epilogue.h"
#include "ir/ops/window.h"

namespace kiln::cuda {
namespace {

struct ConvGeometry {
  int batch = 0, channels = 0, h = 1, w = 1;
  int out_channels = 0, groups = 1, cin_g = 0, cout_g = 0;
  int kh = 1, kw = 1, oh = 1, ow = 1;
  int sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
};

template <typename T>
__global__ void __launch_bounds__(kGemmThreads)
    convImplicitGemm(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                     const T* __restrict__ residual, T* __restrict__ y, ConvGeometry g, ir::ConvEpilogue epilogue) {
  const int group = blockIdx.z;
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  const int window = g.kh * g.kw;
  const int K = g.cin_g * window;
  const int out_pixels = g.oh * g.ow;
  const int columns = g.batch * out_pixels;
  const T* wg = w + static_cast<int64_t>(group) * g.cout_g * K;
  const T* xg = x + static_cast<int64_t>(group) * g.cin_g * g.h * g.w;

  auto loadA = [&](int m, int k) { return toFloat(wg[m * K + k]); };
  auto loadB = [&](int k, int p) {
    const int ci = k / window, r = k - ci * window;
    const int i = r / g.kw, j = r - i * g.kw;
    const int n = p / out_pixels, q = p - n * out_pixels;
    const int oy = q / g.ow, ox = q - oy * g.ow;
    const int iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
    if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return 0.0f;
    return toFloat(xg[(static_cast<int64_t>(n) * g.channels + ci) * g.h * g.w + iy * g.w + ix]);
  };
  auto store = [&](int m, int p, float acc) {
    const int oc = group * g.cout_g + m;
    const int n = p / out_pixels, q = p - n * out_pixels;
    if (bias) acc += toFloat(bias[oc]);
    const int64_t at = (static_cast<int64_t>(n) * g.out_channels + oc) * out_pixels + q;
    if (residual) acc += toFloat(residual[at]);
    y[at] = fromFloat<T>(convActivate(epilogue, acc));
  };
  tiledGemm(g.cout_g, columns, K, m0, n0, loadA, loadB, store, /*a_k_fast=*/true, /*b_n_fast=*/true);
}

ConvGeometry convGeometry(const backend::LayerView& layer) {
  const ir::Shape& xs = layer.inputs[0].shape;
  const ir::Shape& ws = layer.inputs[1].shape;
  const ir::Window win = ir::resolveWindow(layer.attrs(), ir::Shape(xs.begin() + 2, xs.end()),
                                           std::vector<int64_t>(ws.begin() + 2, ws.end()), false);
  ConvGeometry g;
  g.batch = static_cast<int>(xs[0]);
  g.channels = static_cast<int>(xs[1]);
  g.out_channels = static_cast<int>(ws[0]);
  g.groups = static_cast<int>(layer.attrs().i("group", 1));
  g.cin_g = static_cast<int>(ws[1]);
  g.cout_g = g.out_channels / g.groups;
  const size_t wd = win.rank() - 1;  // W's index in the window: 1 for 2-D, 0 for 1-D
  if (win.rank() == 2) {
    g.h = static_cast<int>(xs[2]);
    g.kh = static_cast<int>(win.kernel[0]);
    g.oh = static_cast<int>(win.out[0]);
    g.sh = static_cast<int>(win.strides[0]);
    g.dh = static_cast<int>(win.dilations[0]);
    g.ph = static_cast<int>(win.pads_begin[0]);
  }
  g.w = static_cast<int>(xs.back());
  g.kw = static_cast<int>(win.kernel[wd]);
  g.ow = static_cast<int>(win.out[wd]);
  g.sw = static_cast<int>(win.strides[wd]);
  g.dw = static_cast<int>(win.dilations[wd]);
  g.pw = static_cast<int>(win.pads_begin[wd]);
  return g;
}

class ConvKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ConvKernel>(*this); }
  ConvKernel(const backend::LayerView& layer, backend::Device& device)
      : ComputeKernel(layer, device), epilogue_(ir::convEpilogue(layer.attrs())) {
    if (layer.node->op == "FusedConv" && ir::convChannelsLast(layer.attrs()))
      throw Error(ErrorCode::kUnsupported, layer.node->describe() + ": cuda.conv takes NCHW only, not layout NHWC");
    has_bias_ = hasInput(layer, 2);
    has_residual_ = layer.node->op == "FusedConv" && hasInput(layer, 3);
    refit(layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    g_ = convGeometry(layer);
  }

  bool refit(const backend::LayerView& layer) override {
    weights_.prepare(device_, layer, 1);
    if (has_bias_) bias_.prepare(device_, layer, 2);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    const int64_t columns = static_cast<int64_t>(g_.batch) * g_.oh * g_.ow;
    if (columns == 0 || g_.cout_g == 0) return;
    cudaStream_t stream = streamOf(args);
    const dim3 grid(gridFor(columns, kTileN), gridFor(g_.cout_g, kTileM), static_cast<unsigned>(g_.groups));
    dispatchCompute(type_, [&]<typename T>() {
      const T* bias = has_bias_ ? static_cast<const T*>(bias_.get(args)) : nullptr;
      const T* residual = has_residual_ ? static_cast<const T*>(args.inputs[3]) : nullptr;
      convImplicitGemm<T><<<grid, kGemmThreads, 0, stream>>>(static_cast<const T*>(args.inputs[0]),
                                                             static_cast<const T*>(weights_.get(args)), bias, residual,
                                                             static_cast<T*>(args.outputs[0]), g_, epilogue_);
    });
    checkLaunch();
  }

 private:
  ir::ConvEpilogue epilogue_;  //!< none for a Conv
  bool has_bias_ = false, has_residual_ = false;
  DataType type_ = DataType::kFLOAT;
  ConvGeometry g_;
  ConstantOrInput weights_, bias_;
};

class ConvProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.conv"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "Conv" || op == "FusedConv"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.size() < 2 || opt.outputs.empty()) return {};
    std::vector<backend::TacticConfig> configs = depthwiseConvCandidates(min, opt, max);
    if (opt.node->op == "FusedConv" && ir::convChannelsLast(opt.attrs())) return configs;  // the GEMM: NCHW only
    if (!implicitGemmSupported(min, opt, max)) return configs;
    configs.push_back(backend::TacticConfig{.name = "cuda.conv.implicit_gemm.64x64x16"});
    return configs;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    if (isDepthwiseConvTactic(config.name)) return makeDepthwiseConvKernel(layer, config, device);
    return std::make_unique<ConvKernel>(layer, device);
  }

 private:
  static bool implicitGemmSupported(const backend::LayerView& min, const backend::LayerView& opt,
                                    const backend::LayerView& max) {
    const DataType t = opt.outputs[0].type;
    if (!isComputeType(t) || opt.inputs[0].type != t || opt.inputs[1].type != t) return false;
    if (hasInput(opt, 2) && opt.inputs[2].type != t) return false;
    if (hasInput(opt, 3) && (opt.inputs[3].type != t || opt.inputs[3].shape != opt.outputs[0].shape)) return false;
    const size_t rank = opt.inputs[0].shape.size();
    if (rank != 3 && rank != 4) return false;
    const int64_t groups = opt.attrs().i("group", 1);
    if (groups < 1 || groups > 65535) return false;
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      if (!allFitInt32(*l)) return false;
      // The per-group weight rows and the gathered column index stay in 32 bits.
      const ir::Shape& ys = l->outputs[0].shape;
      if (numel(ys) / std::max<int64_t>(ys[1], 1) >= std::numeric_limits<int32_t>::max()) return false;
    }
    return true;
  }
};

KILN_TACTIC_PROVIDER(ConvProvider);

}  // namespace
}  // namespace kiln::cuda
