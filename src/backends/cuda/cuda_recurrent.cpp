// "cuda.recurrent": RNN, GRU and LSTM on the GPU (kernels/recurrent.cu) in every form the
// reference takes: forward, reverse and bidirectional, layout 0 and 1, sequence_lens, initial
// states, clip, the eleven activation functions with alpha / beta, linear_before_reset,
// peepholes and input_forget; float, half, bfloat16 and double; hidden sizes up to 1024.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/recurrent.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/recurrent.h"

namespace kiln::cuda {
namespace {

bool problemOf(const backend::LayerView& l, RecurrentProblem& p) {
  if (l.inputs.size() < 3 || !hasInput(l, 1) || !hasInput(l, 2)) return false;
  for (const backend::TensorDesc& t : l.inputs)
    if (t.present)
      for (int64_t d : t.shape)
        if (d < 0) return false;
  const ir::Shape& x = l.inputs[0].shape;
  if (x.size() != 3 || l.inputs[2].shape.size() != 3) return false;
  p = {};
  p.type = l.inputs[0].type;
  if (!isFloatingPoint(p.type)) return false;
  for (int i : {1, 2, 3, 5, 6, 7})
    if (hasInput(l, i) && l.inputs[i].type != p.type) return false;
  if (hasInput(l, 4) && l.inputs[4].type != DataType::kINT32) return false;
  const ir::Attributes& a = l.attrs();
  try {
    const ir::RecurrentCell cell = ir::recurrentCellOf(l.node->op);
    const ir::RecurrentDirection direction = ir::recurrentDirection(a);
    p.cell = cell == ir::RecurrentCell::kRNN ? 0 : cell == ir::RecurrentCell::kGRU ? 1 : 2;
    p.gates = ir::recurrentGates(cell);
    p.directions = ir::numDirections(direction);
    p.reverse_only = direction == ir::RecurrentDirection::kReverse;
    p.per_direction = ir::recurrentActivationsPerDirection(cell);
    const std::vector<ir::RecurrentActivation> fns = ir::recurrentActivations(a, cell, p.directions);
    if (fns.size() > static_cast<size_t>(RecurrentProblem::kMaxActivations)) return false;
    for (size_t k = 0; k < fns.size(); ++k)
      p.fns[k] = RecurrentFn{static_cast<int>(fns[k].kind), fns[k].alpha, fns[k].beta};
  } catch (const Error&) {
    return false;
  }
  p.batch_first = a.i("layout", 0) == 1;
  p.clip = a.has("clip") ? a.f("clip") : 0.0;
  p.linear_before_reset = a.i("linear_before_reset", 0) != 0;
  p.input_forget = a.i("input_forget", 0) != 0;
  p.seq = p.batch_first ? x[1] : x[0];
  p.batch = p.batch_first ? x[0] : x[1];
  p.input = x[2];
  p.hidden = l.inputs[2].shape[2];
  return p.hidden <= kMaxRecurrentHidden;
}

class RecurrentKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<RecurrentKernel>(*this); }
  explicit RecurrentKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    if (!problemOf(layer, p_)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.recurrent cannot take this layer");
    for (int i = 0; i < 8; ++i) has_in_[i] = hasInput(layer, i);
    for (int o = 0; o < 3; ++o) has_out_[o] = o < static_cast<int>(layer.outputs.size()) && layer.outputs[o].present;
  }
  void run(const backend::RunArgs& args) override {
    auto in = [&](int i) { return has_in_[i] ? args.inputs[i] : nullptr; };
    auto out = [&](int o) { return has_out_[o] ? args.outputs[o] : nullptr; };
    const RecurrentArgs a{in(0), in(1), in(2), in(3), in(5), in(6), in(7), in(4), out(0), out(1), out(2)};
    launchRecurrent(p_, a, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // weights are read at each run

 private:
  std::string name_;
  RecurrentProblem p_;
  bool has_in_[8] = {};
  bool has_out_[3] = {};
};

class RecurrentProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.recurrent"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "RNN" || op == "GRU" || op == "LSTM"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      RecurrentProblem p;
      if (!problemOf(*l, p)) return {};
    }
    return {backend::TacticConfig{.name = "cuda.recurrent"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<RecurrentKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(RecurrentProvider);

}  // namespace
}  // namespace kiln::cuda
