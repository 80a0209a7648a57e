// The reference kernels as tactics (source kREFERENCE): one candidate for every operator.
// They run on views of the runtime's buffers, so the oracle and the CPU engine share code.
#include "backends/backend.h"
#include "backends/cpu/reference.h"

namespace kiln::cpu {
namespace {

class ReferenceKernelTactic final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  ReferenceKernelTactic(const ir::Node& node, int opset, const ReferenceKernel& kernel)
      : node_(node), opset_(opset), kernel_(kernel) {}

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    std::vector<ir::Tensor> inputs;
    std::vector<ir::Tensor> outputs;
    inputs.reserve(layer.inputs.size());
    outputs.reserve(layer.outputs.size());
    KernelContext ctx{.node = node_, .opset = opset_};
    for (size_t i = 0; i < layer.inputs.size(); ++i) {
      const void* p = i < args.inputs.size() ? args.inputs[i] : nullptr;
      if (!layer.inputs[i].present || !p) {
        ctx.inputs.push_back(nullptr);
        continue;
      }
      inputs.push_back(ir::Tensor::view(layer.inputs[i].type, layer.inputs[i].shape, const_cast<void*>(p)));
      ctx.inputs.push_back(&inputs.back());
    }
    for (size_t o = 0; o < layer.outputs.size(); ++o) {
      void* p = o < args.outputs.size() ? args.outputs[o] : nullptr;
      if (!layer.outputs[o].present || !p) {
        ctx.outputs.push_back(nullptr);
        continue;
      }
      outputs.push_back(ir::Tensor::view(layer.outputs[o].type, layer.outputs[o].shape, p));
      ctx.outputs.push_back(&outputs.back());
    }
    kernel_(ctx);
  }

  bool refit(const backend::LayerView&) override { return true; }  // reads weights from its inputs

 private:
  const ir::Node& node_;
  int opset_;
  const ReferenceKernel& kernel_;
};

class ReferenceProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "reference"; }
  TacticSource source() const override { return TacticSource::kREFERENCE; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return findReferenceKernel(op) != nullptr; }
  std::vector<backend::TacticConfig> candidates(const backend::LayerView&, const backend::LayerView& opt,
                                                const backend::LayerView&, const backend::BuildOptions&) const override {
    return {backend::TacticConfig{.name = "reference." + opt.node->op,
                                  .inplace_inputs = referenceInPlaceInputs(opt.node->op)}};
  }
  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    const ReferenceKernel* kernel = findReferenceKernel(layer.node->op);
    if (!kernel) throw Error(ErrorCode::kUnsupported, layer.node->describe() + ": no reference kernel");
    return std::make_unique<ReferenceKernelTactic>(*layer.node, layer.opset, *kernel);
  }
};

KILN_TACTIC_PROVIDER(ReferenceProvider);

}  // namespace
}  // namespace kiln::cpu
