// "cuda.linear_attention": LinearAttention on the GPU (kernels/linear_attention.cu), every
// update rule (linear, gated, delta, gated_delta), per-head or per-key decay, grouped heads,
// with or without past_state and present_state; float, half, bfloat16 and double. The state is
// kept in double in a workspace (declared in the tactic).
#include <algorithm>
#include <cmath>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/linear_attention.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool problemOf(const backend::LayerView& l, LinearAttentionProblem& p) {
  if (l.inputs.size() < 3) return false;
  for (const backend::TensorDesc& t : l.inputs)
    if (t.present)
      for (int64_t d : t.shape)
        if (d < 0) return false;
  const ir::Shape& q = l.inputs[0].shape;
  const ir::Shape& k = l.inputs[1].shape;
  const ir::Shape& v = l.inputs[2].shape;
  if (q.size() != 3 || k.size() != 3 || v.size() != 3) return false;
  const ir::Attributes& a = l.attrs();
  p = {};
  p.type = l.inputs[0].type;
  if (!isFloatingPoint(p.type)) return false;
  for (int i = 3; i <= 5; ++i)
    if (hasInput(l, i) && l.inputs[i].type != p.type) return false;
  p.q_heads = a.i("q_num_heads", 0);
  p.kv_heads = a.i("kv_num_heads", 0);
  if (p.q_heads < 1 || p.kv_heads < 1 || p.q_heads % p.kv_heads != 0) return false;
  p.batch = q[0];
  p.steps = q[1];
  p.dk = k[2] / p.kv_heads;
  p.dv = v[2] / p.kv_heads;
  const std::string rule = a.s("update_rule", "gated_delta");
  p.gated = rule == "gated" || rule == "gated_delta";
  p.delta = rule == "delta" || rule == "gated_delta";
  if ((p.gated && !hasInput(l, 4)) || (p.delta && !hasInput(l, 5))) return false;
  p.decay_width = p.gated ? l.inputs[4].shape[2] : 0;
  p.beta_width = p.delta ? l.inputs[5].shape[2] : 0;
  p.has_state = hasInput(l, 3);
  p.scale = a.has("scale") ? a.f("scale") : 1.0 / std::sqrt(static_cast<double>(p.dk));
  return true;
}

class LinearAttentionKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LinearAttentionKernel>(*this); }
  explicit LinearAttentionKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  size_t workspaceSize(const backend::LayerView& layer) const override {
    LinearAttentionProblem p;
    return problemOf(layer, p) ? linearAttentionWorkspace(p) : 0;
  }
  void reshape(const backend::LayerView& layer) override {
    if (!problemOf(layer, p_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.linear_attention cannot take these shapes");
    state_out_ = layer.outputs.size() > 1 && layer.outputs[1].present;
  }
  void run(const backend::RunArgs& args) override {
    if (args.workspace_size < linearAttentionWorkspace(p_))
      throw Error(ErrorCode::kInternal, name_ + ": cuda.linear_attention got a workspace smaller than it asked for");
    auto in = [&](int i, bool present) { return present ? args.inputs[i] : nullptr; };
    launchLinearAttention(p_, args.inputs[0], args.inputs[1], args.inputs[2], in(3, p_.has_state), in(4, p_.gated),
                          in(5, p_.delta), args.outputs[0], state_out_ ? args.outputs[1] : nullptr, args.workspace,
                          streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  LinearAttentionProblem p_;
  bool state_out_ = false;
};

class LinearAttentionProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.linear_attention"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "LinearAttention"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    size_t workspace = 0;
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      LinearAttentionProblem p;
      if (!problemOf(*l, p)) return {};
      workspace = std::max(workspace, linearAttentionWorkspace(p));
    }
    return {backend::TacticConfig{.name = "cuda.linear_attention", .workspace = workspace}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<LinearAttentionKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(LinearAttentionProvider);

}  // namespace
}  // namespace kiln::cuda
