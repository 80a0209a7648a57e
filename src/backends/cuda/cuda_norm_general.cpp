// "cuda.norm_general": BatchNormalization whose statistics are run-time inputs or, with
// training_mode, the batch's own (with the running statistics as outputs), and LpNormalization
// (p 1 or 2, any axis), in float, half, bfloat16 and double (kernels/norm_general.cu). cuda.norm
// keeps the inference form with constant statistics (folded to one multiply-add per channel);
// where both apply the timing picks.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/norm_general.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

class BatchNormKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<BatchNormKernel>(*this); }
  explicit BatchNormKernel(const backend::LayerView& layer) : name_(layerName(layer)) {
    const ir::Attributes& a = layer.attrs();
    args_.epsilon = a.f("epsilon", 1e-5f);
    args_.momentum = a.f("momentum", 0.9f);
    args_.training = a.i("training_mode", 0) != 0;
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& x = layer.inputs[0].shape;
    x_type_ = layer.inputs[0].type;
    param_type_ = layer.inputs[1].type;
    args_.batch = x[0];
    args_.channels = x[1];
    args_.pixels = 1;
    for (size_t d = 2; d < x.size(); ++d) args_.pixels *= x[d];
    running_mean_ = layer.outputs.size() > 1 && layer.outputs[1].present;
    running_var_ = layer.outputs.size() > 2 && layer.outputs[2].present;
  }
  void run(const backend::RunArgs& args) override {
    BatchNormArgs a = args_;
    a.x = args.inputs[0];
    a.scale = args.inputs[1];
    a.bias = args.inputs[2];
    a.mean = args.inputs[3];
    a.var = args.inputs[4];
    a.y = args.outputs[0];
    a.running_mean = running_mean_ ? args.outputs[1] : nullptr;
    a.running_var = running_var_ ? args.outputs[2] : nullptr;
    launchBatchNormGeneral(x_type_, param_type_, a, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // statistics are read at each run

 private:
  std::string name_;
  BatchNormArgs args_;
  DataType x_type_ = DataType::kFLOAT, param_type_ = DataType::kFLOAT;
  bool running_mean_ = false, running_var_ = false;
};

class LpNormKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LpNormKernel>(*this); }
  explicit LpNormKernel(const backend::LayerView& layer) : name_(layerName(layer)) {
    p_ = static_cast<int>(layer.attrs().i("p", 2));
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& x = layer.inputs[0].shape;
    type_ = layer.inputs[0].type;
    const int64_t rank = static_cast<int64_t>(x.size());
    int64_t axis = layer.attrs().i("axis", -1);
    if (axis < 0) axis += rank;
    outer_ = extent_ = inner_ = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer_ : d == axis ? extent_ : inner_) *= x[d];
  }
  void run(const backend::RunArgs& args) override {
    launchLpNormalization(type_, args.inputs[0], args.outputs[0], outer_, extent_, inner_, p_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  DataType type_ = DataType::kFLOAT;
  int p_ = 2;
  int64_t outer_ = 1, extent_ = 1, inner_ = 1;
};

bool batchNormFits(const backend::LayerView& l) {
  if (l.inputs.size() < 5 || !ir::allKnown(l.inputs[0].shape) || l.inputs[0].shape.size() < 2) return false;
  if (!isFloatingPoint(l.inputs[0].type)) return false;
  for (int i = 1; i <= 4; ++i)
    if (!hasInput(l, i) || l.inputs[i].type != l.inputs[1].type || !isFloatingPoint(l.inputs[i].type)) return false;
  if (l.inputs[0].shape[1] > (int64_t{1} << 31) - 1) return false;  // one block per channel
  return true;
}

bool lpNormFits(const backend::LayerView& l) {
  if (l.inputs.empty() || !isFloatingPoint(l.inputs[0].type) || !ir::allKnown(l.inputs[0].shape)) return false;
  const int64_t rank = static_cast<int64_t>(l.inputs[0].shape.size()), axis = l.attrs().i("axis", -1);
  const int64_t p = l.attrs().i("p", 2);
  return rank > 0 && axis >= -rank && axis < rank && (p == 1 || p == 2);
}

class NormGeneralProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.norm_general"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "BatchNormalization" || op == "LpNormalization"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    const bool batch_norm = opt.node->op == "BatchNormalization";
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (batch_norm ? !batchNormFits(*l) : !lpNormFits(*l)) return {};
    return {backend::TacticConfig{.name = batch_norm ? "cuda.norm_general.batch" : "cuda.norm_general.lp"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    if (layer.node->op == "BatchNormalization") return std::make_unique<BatchNormKernel>(layer);
    return std::make_unique<LpNormKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(NormGeneralProvider);

}  // namespace
}  // namespace kiln::cuda
