// "cuda.spectral": DFT (opsets 17 to 20: axis as an attribute or an input, dft_length,
// onesided, inverse, real or complex input) and STFT (window or frame_length) on the GPU
// (kernels/spectral.cu), in float, half, bfloat16 and double. The scalar inputs (axis,
// dft_length, frame_step, frame_length) must be known on the host; reshape() reads them.
#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/spectral.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

//! Input i's first value when known on the host; nullopt when absent or unknown.
std::optional<int64_t> hostScalar(const backend::LayerView& l, int i) {
  if (!hasInput(l, i)) return std::nullopt;
  const ir::Tensor* t = hostValue(l, i);
  if (!t || t->numel() < 1) return std::nullopt;
  return t->intAt(0);
}

bool dftProblem(const backend::LayerView& l, DftProblem& p) {
  const ir::Shape& xs = l.inputs[0].shape;
  const ir::Shape& ys = l.outputs[0].shape;
  if (!ir::allKnown(xs) || !ir::allKnown(ys) || xs.size() != ys.size() || xs.size() < 2) return false;
  const int64_t rank = static_cast<int64_t>(xs.size());
  int64_t axis = 0;
  if (l.opset < 20) {
    axis = l.attrs().i("axis", 1);
  } else if (hasInput(l, 2)) {
    const std::optional<int64_t> a = hostScalar(l, 2);
    if (!a) return false;
    axis = *a;
  } else {
    axis = -2;
  }
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank - 1) return false;
  p = {};
  p.inverse = l.attrs().i("inverse", 0) != 0;
  const bool onesided = l.attrs().i("onesided", 0) != 0;
  p.in_len = xs[axis];
  p.out_len = ys[axis];
  p.in_c = xs.back();
  p.out_c = ys.back();
  for (int64_t d = 0; d < axis; ++d) p.outer *= xs[d];
  for (int64_t d = axis + 1; d < rank - 1; ++d) p.inner *= xs[d];
  if (hasInput(l, 1)) {
    const std::optional<int64_t> n = hostScalar(l, 1);
    if (!n) return false;
    p.n = *n;
  } else {
    p.n = p.inverse && onesided ? p.out_len : p.in_len;
  }
  p.onesided_inverse = p.inverse && onesided;
  return p.n > 0 && (p.in_c == 1 || p.in_c == 2) && (p.out_c == 1 || p.out_c == 2);
}

bool stftProblem(const backend::LayerView& l, StftProblem& p) {
  const ir::Shape& xs = l.inputs[0].shape;
  const ir::Shape& ys = l.outputs[0].shape;
  if (!ir::allKnown(xs) || !ir::allKnown(ys) || xs.size() != 3 || ys.size() != 4) return false;
  const std::optional<int64_t> step = hostScalar(l, 1);
  if (!step || *step <= 0) return false;
  p = {};
  p.batch = xs[0];
  p.length = xs[1];
  p.in_c = xs[2];
  p.frames = ys[1];
  p.bins = ys[2];
  p.step = *step;
  if (hasInput(l, 2)) {
    if (l.inputs[2].shape.size() != 1 || l.inputs[2].type != l.inputs[0].type) return false;
    p.frame = l.inputs[2].shape[0];
  } else {
    const std::optional<int64_t> frame = hostScalar(l, 3);
    if (!frame) return false;
    p.frame = *frame;
  }
  return p.frame > 0 && (p.in_c == 1 || p.in_c == 2);
}

class SpectralKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<SpectralKernel>(*this); }
  explicit SpectralKernel(const backend::LayerView& layer) : name_(layerName(layer)), stft_(layer.node->op == "STFT") {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    window_ = stft_ && hasInput(layer, 2);
    if (stft_ ? !stftProblem(layer, stft_problem_) : !dftProblem(layer, dft_problem_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.spectral needs its scalar inputs known on the host");
  }
  void run(const backend::RunArgs& args) override {
    if (stft_)
      launchStft(type_, stft_problem_, args.inputs[0], window_ ? args.inputs[2] : nullptr, args.outputs[0],
                 streamOf(args));
    else launchDft(type_, dft_problem_, args.inputs[0], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  bool stft_;
  bool window_ = false;
  DataType type_ = DataType::kFLOAT;
  DftProblem dft_problem_;
  StftProblem stft_problem_;
};

class SpectralProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.spectral"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "DFT" || op == "STFT"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || !isFloatingPoint(opt.inputs[0].type) || opt.outputs[0].type != opt.inputs[0].type)
      return {};
    const bool stft = opt.node->op == "STFT";
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      DftProblem d;
      StftProblem s;
      if (stft ? !stftProblem(*l, s) : !dftProblem(*l, d)) return {};
    }
    return {backend::TacticConfig{.name = stft ? "cuda.spectral.stft" : "cuda.spectral.dft"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<SpectralKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(SpectralProvider);

}  // namespace
}  // namespace kiln::cuda
