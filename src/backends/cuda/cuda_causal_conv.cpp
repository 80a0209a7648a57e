// "cuda.causal_conv": CausalConvWithState on the GPU (kernels/causal_conv.cu), float, half,
// bfloat16 and double, with or without bias, past_state and the present_state output, and the
// SiLU activation.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/causal_conv.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool fits(const backend::LayerView& l) {
  if (l.inputs.size() < 2 || !hasInput(l, 1) || l.inputs[0].shape.size() != 3 || l.inputs[1].shape.size() != 3)
    return false;
  if (!isFloatingPoint(l.inputs[0].type)) return false;
  for (const backend::TensorDesc* t : {&l.inputs[0], &l.inputs[1]})
    for (int64_t d : t->shape)
      if (d < 0) return false;
  return l.inputs[1].shape[2] >= 1;
}

class CausalConvKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CausalConvKernel>(*this); }
  explicit CausalConvKernel(const backend::LayerView& layer)
      : name_(layerName(layer)), silu_(layer.attrs().s("activation", "none") != "none") {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& x = layer.inputs[0].shape;
    type_ = layer.inputs[0].type;
    batch_ = x[0];
    channels_ = x[1];
    length_ = x[2];
    k_ = layer.inputs[1].shape[2];
    bias_ = hasInput(layer, 2);
    past_ = hasInput(layer, 3);
    present_ = layer.outputs.size() > 1 && layer.outputs[1].present;
  }
  void run(const backend::RunArgs& args) override {
    launchCausalConv(type_, args.inputs[0], args.inputs[1], bias_ ? args.inputs[2] : nullptr,
                     past_ ? args.inputs[3] : nullptr, args.outputs[0], present_ ? args.outputs[1] : nullptr, batch_,
                     channels_, length_, k_, silu_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // weights are read at each run

 private:
  std::string name_;
  bool silu_;
  DataType type_ = DataType::kFLOAT;
  int64_t batch_ = 0, channels_ = 0, length_ = 0, k_ = 1;
  bool bias_ = false, past_ = false, present_ = false;
};

class CausalConvProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.causal_conv"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "CausalConvWithState"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!fits(*l)) return {};
    return {backend::TacticConfig{.name = "cuda.causal_conv"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<CausalConvKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(CausalConvProvider);

}  // namespace
}  // namespace kiln::cuda
