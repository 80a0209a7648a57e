// "cuda.onnx_attention": the ONNX Attention operator (opsets 23 to 25) on the GPU in every
// variant its reference takes (kernels/onnx_attention.cu): 3-D / 4-D inputs, grouped heads,
// bool or float masks of any broadcast rank, is_causal, past key / value with the present
// outputs, nonpad_kv_seqlen, sliding windows, scale, softcap and the qk_matmul_output modes, in
// float, half, bfloat16 and double. The geometry is read in reshape(); run() only launches.
#include <cmath>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/onnx_attention.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool problemOf(const backend::LayerView& l, OnnxAttentionProblem& p) {
  if (l.inputs.size() < 3) return false;
  for (size_t i = 0; i < l.inputs.size(); ++i)
    if (l.inputs[i].present && !ir::allKnown(l.inputs[i].shape)) return false;
  const ir::Shape& q = l.inputs[0].shape;
  const ir::Shape& k = l.inputs[1].shape;
  const ir::Shape& v = l.inputs[2].shape;
  if (q.size() != k.size() || q.size() != v.size() || (q.size() != 3 && q.size() != 4)) return false;
  const ir::Attributes& a = l.attrs();
  p = {};
  p.type = l.inputs[0].type;
  if (!isFloatingPoint(p.type)) return false;
  p.seq_first = q.size() == 3;
  if (p.seq_first) {
    p.q_heads = a.i("q_num_heads", 0);
    p.kv_heads = a.i("kv_num_heads", 0);
    if (p.q_heads < 1 || p.kv_heads < 1 || q[2] % p.q_heads != 0 || k[2] % p.kv_heads != 0 || v[2] % p.kv_heads != 0)
      return false;
    p.batch = q[0];
    p.q_len = q[1];
    p.kv_len = k[1];
    p.dim = q[2] / p.q_heads;
    p.v_dim = v[2] / p.kv_heads;
  } else {
    p.batch = q[0];
    p.q_heads = q[1];
    p.q_len = q[2];
    p.dim = q[3];
    p.kv_heads = k[1];
    p.kv_len = k[2];
    p.v_dim = v[3];
  }
  if (p.kv_heads < 1 || p.q_heads % p.kv_heads != 0) return false;
  if (hasInput(l, 4) != hasInput(l, 5)) return false;
  if (hasInput(l, 4)) {
    if (l.inputs[4].shape.size() != 4) return false;
    p.past = l.inputs[4].shape[2];
  }
  const int64_t total = p.past + p.kv_len;
  if (hasInput(l, 3)) {
    const ir::Shape& m = l.inputs[3].shape;
    p.mask_type = l.inputs[3].type;
    if (m.empty() || m.size() > 4 || (p.mask_type != DataType::kBOOL && !isFloatingPoint(p.mask_type))) return false;
    if (m.back() > total) return false;
    p.has_mask = true;
    p.mask_columns = m.back();
    int64_t stride = 1;
    for (size_t i = 0; i < m.size(); ++i) {  // right-aligned to [B, H, Sq, columns]
      const size_t d = m.size() - 1 - i, logical = 3 - i;
      p.mask_strides[logical] = m[d] == 1 ? 0 : stride;
      stride *= m[d];
    }
  }
  if (hasInput(l, 6)) {
    if (l.inputs[6].type != DataType::kINT64) return false;
    p.has_nonpad = true;
  }
  p.scale = a.has("scale") ? a.f("scale") : 1.0 / std::sqrt(static_cast<double>(p.dim));
  p.softcap = a.f("softcap", 0.0f);
  p.causal = a.i("is_causal", 0) != 0;
  p.mode = static_cast<int>(a.i("qk_matmul_output_mode", 0));
  p.left_window = a.i("left_window_size", -1);
  p.right_window = a.i("right_window_size", -1);
  return p.mode >= 0 && p.mode <= 3;
}

class OnnxAttentionKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<OnnxAttentionKernel>(*this); }
  explicit OnnxAttentionKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    if (!problemOf(layer, p_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.onnx_attention cannot take these shapes");
    for (int o = 0; o < 4; ++o) wants_[o] = o < static_cast<int>(layer.outputs.size()) && layer.outputs[o].present;
  }
  void run(const backend::RunArgs& args) override {
    auto in = [&](int i) { return i < static_cast<int>(args.inputs.size()) ? args.inputs[i] : nullptr; };
    auto out = [&](int o) { return wants_[o] ? args.outputs[o] : nullptr; };
    const OnnxAttentionArgs a{in(0),
                              in(1),
                              in(2),
                              p_.has_mask ? in(3) : nullptr,
                              p_.past ? in(4) : nullptr,
                              p_.past ? in(5) : nullptr,
                              p_.has_nonpad ? static_cast<const int64_t*>(in(6)) : nullptr,
                              out(0),
                              out(1),
                              out(2),
                              out(3)};
    launchOnnxAttention(p_, a, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  OnnxAttentionProblem p_;
  bool wants_[4] = {};
};

class OnnxAttentionProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.onnx_attention"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "Attention"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      OnnxAttentionProblem p;
      if (!problemOf(*l, p)) return {};
    }
    return {backend::TacticConfig{.name = "cuda.onnx_attention"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<OnnxAttentionKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(OnnxAttentionProvider);

}  // namespace
}  // namespace kiln::cuda
