// "cuda.assorted": single-purpose ops on the GPU (kernels/assorted.cu): AffineGrid (2-D and
// 3-D, align_corners; float types) and CenterCropPad (any type, any axes). Both read their
// geometry off the layer's output shape (the size / shape inputs are shape inputs).
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/assorted.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool affineGridOf(const backend::LayerView& l, AffineGridProblem& p) {
  const ir::Shape& out = l.outputs[0].shape;
  if (!ir::allKnown(out) || (out.size() != 4 && out.size() != 5) || !isFloatingPoint(l.inputs[0].type)) return false;
  p = {};
  p.r = static_cast<int>(out.size()) - 2;
  if (out.back() != p.r) return false;
  p.batch = out[0];
  for (int d = 0; d < p.r; ++d) p.sizes[d] = out[1 + d];
  p.align_corners = l.attrs().i("align_corners", 0) != 0;
  return true;
}

bool cropPadOf(const backend::LayerView& l, CropPadProblem& p) {
  const ir::Shape& in = l.inputs[0].shape;
  const ir::Shape& out = l.outputs[0].shape;
  if (!ir::allKnown(in) || !ir::allKnown(out) || in.size() != out.size() || in.size() > CropPadProblem::kMaxRank)
    return false;
  const size_t es = elementSize(l.inputs[0].type);
  if (es != 1 && es != 2 && es != 4 && es != 8) return false;
  p = {};
  p.rank = static_cast<int>(in.size());
  for (int d = 0; d < p.rank; ++d) {
    p.in[d] = in[d];
    p.out[d] = out[d];
    p.offset[d] = in[d] >= out[d] ? (in[d] - out[d]) / 2 : -((out[d] - in[d]) / 2);
  }
  return true;
}

class AssortedKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<AssortedKernel>(*this); }
  explicit AssortedKernel(const backend::LayerView& layer)
      : name_(layerName(layer)), affine_(layer.node->op == "AffineGrid") {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    if (affine_ ? !affineGridOf(layer, affine_problem_) : !cropPadOf(layer, crop_problem_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.assorted cannot take these shapes");
  }
  void run(const backend::RunArgs& args) override {
    if (affine_) launchAffineGrid(type_, affine_problem_, args.inputs[0], args.outputs[0], streamOf(args));
    else launchCenterCropPad(elementSize(type_), crop_problem_, args.inputs[0], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  bool affine_;
  DataType type_ = DataType::kFLOAT;
  AffineGridProblem affine_problem_;
  CropPadProblem crop_problem_;
};

class AssortedProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.assorted"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "AffineGrid" || op == "CenterCropPad"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    const bool affine = opt.node->op == "AffineGrid";
    if (opt.inputs.empty() || opt.outputs.empty()) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      AffineGridProblem a;
      CropPadProblem c;
      if (affine ? !affineGridOf(*l, a) : !cropPadOf(*l, c)) return {};
    }
    return {backend::TacticConfig{.name = affine ? "cuda.assorted.affine_grid" : "cuda.assorted.center_crop_pad"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<AssortedKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(AssortedProvider);

}  // namespace
}  // namespace kiln::cuda
