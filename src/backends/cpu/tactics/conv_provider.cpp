// "cpu.conv" (source kCPU): 1-D/2-D Conv and FusedConv in fp32 as GEMMs on kiln's blocked
// kernel. Per image and group, Y[ocg][pixels] = W_g[ocg][cg*kh*kw] x col[cg*kh*kw][pixels],
// where col is the im2col of the input (in the workspace) or, for a pointwise (1x1, stride 1,
// unpadded) convolution, the input planes themselves. Constant weights are packed once per
// group in instantiate() and again by refit(); the bias initializes Y and the GEMM accumulates
// on it; FusedConv's residual and activation then run over the group's block of Y while it is
// still in cache.
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/tactics/conv_common.h"
#include "backends/cpu/tactics/gemm_kernel.h"
#include "backends/cpu/tactics/linalg_common.h"

namespace kiln::cpu::tactics {
namespace {

constexpr int32_t kIm2col = 0;
constexpr int32_t kPointwise = 1;

//! GEMM panel scratch: the B panel always (col or X is packed per block), the A panel when
//! the weights are not constant.
size_t panelBytes(const Blocking& b, const ConvParams& p, const backend::LayerView& layer, bool pack_a) {
  const ir::Shape& w = layer.inputs[1].shape;
  const ir::Shape& y = layer.outputs[0].shape;
  int64_t kdim = 1, pixels = 1;
  for (size_t d = 1; d < w.size(); ++d) kdim *= w[d];
  for (size_t d = 2; d < y.size(); ++d) pixels *= std::max<int64_t>(y[d], 1);
  const int64_t ocg = std::max<int64_t>(w[0] / p.group, 1);
  const int64_t kc = std::min<int64_t>(b.kc, std::max<int64_t>(kdim, 1));
  const int64_t nc = std::min<int64_t>(b.nc, (pixels + b.nr - 1) / b.nr * b.nr);
  const int64_t mc = std::min<int64_t>(b.mc, (ocg + b.mr - 1) / b.mr * b.mr);
  size_t bytes = alignBytes(static_cast<size_t>(kc * nc) * sizeof(float));
  if (pack_a) bytes += alignBytes(static_cast<size_t>(mc * kc) * sizeof(float));
  return bytes;
}

size_t convWorkspace(const Blocking& b, const ConvParams& p, int32_t variant, const backend::LayerView& layer,
                     bool pack_a) {
  return (variant == kIm2col ? im2colBytes(p, layer) : 0) + panelBytes(b, p, layer, pack_a);
}

class ConvKernel final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  ConvKernel(const backend::LayerView& layer, const ConvParams& params, const Blocking& blocking, int32_t variant)
      : params_(params), tail_(convTail(layer)), blocking_(blocking), variant_(variant) {
    pre_w_ = layer.isConstant(1);
    if (variant_ == kPointwise && !params_.pointwise())
      throw Error(ErrorCode::kInvalidPlan, layer.node->describe() + ": the 1x1 cpu.conv tactic does not fit this layer");
    if (pre_w_ && !pack(layer))
      throw Error(ErrorCode::kInternal, layer.node->describe() + ": cpu.conv could not pack its weights");
  }

  size_t workspaceSize(const backend::LayerView& layer) const override {
    return convWorkspace(blocking_, params_, variant_, layer, !pre_w_);
  }

  bool refit(const backend::LayerView& layer) override { return !pre_w_ || pack(layer); }

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    requireWorkspace(args, workspaceSize(layer));
    const ConvShape s = convShape(params_, layer);
    const auto* x = static_cast<const float*>(args.inputs[0]);
    const auto* w = static_cast<const float*>(args.inputs[1]);
    const float* bias =
        layer.inputs.size() > 2 && layer.inputs[2].present ? static_cast<const float*>(args.inputs[2]) : nullptr;
    const float* residual = tail_.residual ? static_cast<const float*>(args.inputs[3]) : nullptr;
    auto* y = static_cast<float*>(args.outputs[0]);

    auto* ws = static_cast<std::byte*>(args.workspace);
    float* col = nullptr;
    if (variant_ == kIm2col) {
      col = reinterpret_cast<float*>(ws);
      ws += im2colBytes(params_, layer);
    }
    float* ws_b = reinterpret_cast<float*>(ws);
    float* ws_a = nullptr;
    if (!pre_w_) {
      const size_t b_bytes = panelBytes(blocking_, params_, layer, false);
      ws_a = reinterpret_cast<float*>(ws + b_bytes);
    }

    const int64_t pixels = s.pixels(), in_plane = s.h * s.w;
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t g = 0; g < params_.group; ++g) {
        const float* xg = x + (n * s.c + g * s.cg) * in_plane;
        float* yg = y + (n * s.oc + g * s.ocg) * pixels;
        if (bias) fillBias(bias + g * s.ocg, s.ocg, pixels, yg);
        Operand a;
        if (pre_w_) {
          a.packed = packed_.data() + static_cast<size_t>(g) * group_stride_;
        } else {
          a.view = MatrixView{w + g * s.ocg * s.kdim, s.kdim, 1};
        }
        Operand b;
        if (variant_ == kIm2col) {
          im2col(params_, s, xg, col);
          b.view = MatrixView{col, pixels, 1};
        } else {
          b.view = MatrixView{xg, in_plane, 1};
        }
        gemm(blocking_, s.ocg, pixels, s.kdim, 1.0f, a, b, yg, pixels, bias != nullptr, ws_a, ws_b);
        if (tail_.any()) applyConvTail(tail_, residual ? residual + (yg - y) : nullptr, s.ocg * pixels, yg);
      }
    }
  }

 private:
  bool pack(const backend::LayerView& layer) {
    const ir::Tensor* t = layer.isConstant(1) ? layer.constants[1] : nullptr;
    if (!t || t->type() != DataType::kFLOAT || t->shape() != layer.inputs[1].shape) return false;
    if (!w_shape_.empty() && t->shape() != w_shape_) return false;
    w_shape_ = t->shape();
    const int64_t oc = w_shape_[0], ocg = oc / params_.group;
    const int64_t kdim = t->numel() / std::max<int64_t>(oc, 1);
    group_stride_ = packedSizeA(blocking_, ocg, kdim);
    packed_.assign(group_stride_ * static_cast<size_t>(params_.group), 0.0f);
    const float* data = t->values<float>().data();
    for (int64_t g = 0; g < params_.group; ++g)
      packAllA(blocking_, MatrixView{data + g * ocg * kdim, kdim, 1}, ocg, kdim, 1.0f,
               packed_.data() + static_cast<size_t>(g) * group_stride_);
    return true;
  }

  ConvParams params_;
  ConvTail tail_;
  Blocking blocking_;
  int32_t variant_ = kIm2col;
  bool pre_w_ = false;
  ir::Shape w_shape_;
  std::vector<float> packed_;
  size_t group_stride_ = 0;
};

class CpuConvProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cpu.conv"; }
  TacticSource source() const override { return TacticSource::kCPU; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return op == "Conv" || op == "FusedConv"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    ConvParams p;
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      if (!allFloat32(*l) || !parseConv(*l, p)) return {};
      for (const auto& t : l->inputs)
        if (t.present && !knownShape(t.shape)) return {};
      if (!knownShape(l->outputs[0].shape)) return {};
    }
    const bool pack_a = !max.isConstant(1);
    // A pointwise convolution needs no im2col: its input planes are the GEMM's B already,
    // and an im2col copy would only cost time.
    const int32_t variant = p.pointwise() ? kPointwise : kIm2col;
    std::vector<backend::TacticConfig> out;
    for (const Blocking& b : standardBlockings()) {
      backend::TacticConfig c{.name = std::string(variant == kPointwise ? "cpu.conv.1x1." : "cpu.conv.im2col.") + b.name(),
                              .params = encodeBlocking(b, variant),
                              .workspace = convWorkspace(b, p, variant, max, pack_a),
                              .formats = "fp32 linear"};
      if (c.workspace <= options.workspace_limit) out.push_back(std::move(c));
    }
    return out;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    Blocking b;
    int32_t variant = 0;
    ConvParams p;
    std::string why;
    if (!decodeBlocking(config.params, b, variant) || (variant != kIm2col && variant != kPointwise))
      throw Error(ErrorCode::kInvalidPlan, layer.node->describe() + ": malformed cpu.conv tactic '" + config.name + "'");
    if (!parseConv(layer, p, &why))
      throw Error(ErrorCode::kUnsupported, layer.node->describe() + ": cpu.conv cannot run it: " + why);
    return std::make_unique<ConvKernel>(layer, p, b, variant);
  }
};

KILN_TACTIC_PROVIDER(CpuConvProvider);

}  // namespace
}  // namespace kiln::cpu::tactics
