// "cuda.loss": NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss on the GPU
// (kernels/loss.cu): reductions none / sum / mean, optional weights, ignore_index, any number
// of extra dims, int32 / int64 labels, the optional log_prob output; float, half, bfloat16 and
// double scores. Sum and mean use a workspace of two doubles per label.
#include <algorithm>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/loss.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool problemOf(const backend::LayerView& l, LossProblem& p) {
  if (l.inputs.size() < 2 || !hasInput(l, 1)) return false;
  const ir::Shape& x = l.inputs[0].shape;
  if (x.size() < 2) return false;
  for (int64_t d : x)
    if (d < 0) return false;
  p = {};
  p.type = l.inputs[0].type;
  p.label_type = l.inputs[1].type;
  if (!isFloatingPoint(p.type) || (p.label_type != DataType::kINT32 && p.label_type != DataType::kINT64)) return false;
  if (hasInput(l, 2) && l.inputs[2].type != p.type) return false;
  p.n = x[0];
  p.c = x[1];
  p.d = 1;
  for (size_t k = 2; k < x.size(); ++k) p.d *= x[k];
  p.softmax = l.node->op == "SoftmaxCrossEntropyLoss";
  p.has_ignore = l.attrs().has("ignore_index");
  p.ignore_index = l.attrs().i("ignore_index", 0);
  const std::string reduction = l.attrs().s("reduction", "mean");
  p.reduction = reduction == "none" ? 0 : reduction == "sum" ? 1 : 2;
  return true;
}

class LossKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LossKernel>(*this); }
  explicit LossKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  size_t workspaceSize(const backend::LayerView& layer) const override {
    LossProblem p;
    return problemOf(layer, p) ? lossWorkspace(p) : 0;
  }
  void reshape(const backend::LayerView& layer) override {
    if (!problemOf(layer, p_)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.loss cannot take this layer");
    weights_ = hasInput(layer, 2);
    log_prob_ = p_.softmax && layer.outputs.size() > 1 && layer.outputs[1].present;
  }
  void run(const backend::RunArgs& args) override {
    if (args.workspace_size < lossWorkspace(p_))
      throw Error(ErrorCode::kInternal, name_ + ": cuda.loss got a workspace smaller than it asked for");
    launchLoss(p_, args.inputs[0], args.inputs[1], weights_ ? args.inputs[2] : nullptr, args.outputs[0],
               log_prob_ ? args.outputs[1] : nullptr, args.workspace, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  LossProblem p_;
  bool weights_ = false, log_prob_ = false;
};

class LossProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.loss"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "NegativeLogLikelihoodLoss" || op == "SoftmaxCrossEntropyLoss";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    size_t workspace = 0;  // the most any shape of the profile needs
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      LossProblem p;
      if (!problemOf(*l, p)) return {};
      workspace = std::max(workspace, lossWorkspace(p));
    }
    return {backend::TacticConfig{.name = "cuda.loss", .workspace = workspace}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<LossKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(LossProvider);

}  // namespace
}  // namespace kiln::cuda
