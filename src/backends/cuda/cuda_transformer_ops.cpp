// "cuda.transformer_ops": RMSNormalization (any axis, broadcast scale) and RotaryEmbedding
// (3-D / 4-D, interleaved or halves, partial rotation, with or without position_ids) in their
// general ONNX forms on the GPU (kernels/transformer_ops.cu), float, half, bfloat16 and double.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/transformer_ops.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool rmsNormOf(const backend::LayerView& l, RmsNormProblem& p) {
  if (l.inputs.size() < 2 || !hasInput(l, 1)) return false;
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& s = l.inputs[1].shape;
  if (!ir::allKnown(x) || !ir::allKnown(s) || x.empty() || l.inputs[1].type != l.inputs[0].type) return false;
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = l.attrs().i("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || rank - axis > RmsNormProblem::kMaxRank) return false;
  p = {};
  p.rank = static_cast<int>(rank - axis);
  if (s.size() > static_cast<size_t>(p.rank)) return false;
  p.inner = 1;
  for (int d = 0; d < p.rank; ++d) {
    p.dims[d] = x[axis + d];
    p.inner *= p.dims[d];
  }
  p.rows = 1;
  for (int64_t d = 0; d < axis; ++d) p.rows *= x[d];
  int64_t stride = 1;
  const size_t offset = p.rank - s.size();
  for (size_t d = s.size(); d-- > 0;) {
    if (s[d] != 1 && s[d] != p.dims[d + offset]) return false;
    p.scale_strides[d + offset] = s[d] == 1 ? 0 : stride;
    stride *= s[d];
  }
  p.epsilon = l.attrs().f("epsilon", 1e-5f);
  return true;
}

bool rotaryOf(const backend::LayerView& l, RotaryProblem& p) {
  if (l.inputs.size() < 3) return false;
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& c = l.inputs[1].shape;
  if (!ir::allKnown(x) || !ir::allKnown(c) || (x.size() != 3 && x.size() != 4) || c.empty()) return false;
  p = {};
  p.heads_first = x.size() == 4;
  p.batch = x[0];
  p.seq = p.heads_first ? x[2] : x[1];
  p.heads = p.heads_first ? x[1] : l.attrs().i("num_heads", 0);
  if (p.heads < 1 || (!p.heads_first && x[2] % p.heads != 0)) return false;
  p.head_size = p.heads_first ? x[3] : x[2] / p.heads;
  const int64_t dim = l.attrs().i("rotary_embedding_dim", 0);
  p.dim = dim > 0 ? dim : p.head_size;
  if (p.dim % 2 != 0 || p.dim > p.head_size) return false;
  p.interleaved = l.attrs().i("interleaved", 0) != 0;
  p.row = c.back();
  const bool by_position = hasInput(l, 3);
  if (by_position && l.inputs[3].type != DataType::kINT64) return false;
  p.table_rows = by_position ? c[0] : p.batch * p.seq;
  return true;
}

class TransformerOpKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<TransformerOpKernel>(*this); }
  explicit TransformerOpKernel(const backend::LayerView& layer)
      : name_(layerName(layer)), rms_(layer.node->op == "RMSNormalization") {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    positions_ = !rms_ && hasInput(layer, 3);
    if (rms_ ? !rmsNormOf(layer, rms_problem_) : !rotaryOf(layer, rotary_problem_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.transformer_ops cannot take these shapes");
  }
  void run(const backend::RunArgs& args) override {
    if (rms_) launchRmsNorm(type_, rms_problem_, args.inputs[0], args.inputs[1], args.outputs[0], streamOf(args));
    else
      launchRotary(type_, rotary_problem_, args.inputs[0], args.inputs[1], args.inputs[2],
                   positions_ ? static_cast<const int64_t*>(args.inputs[3]) : nullptr, args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // scale is read at each run

 private:
  std::string name_;
  bool rms_;
  bool positions_ = false;
  DataType type_ = DataType::kFLOAT;
  RmsNormProblem rms_problem_;
  RotaryProblem rotary_problem_;
};

class TransformerOpsProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.transformer_ops"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "RMSNormalization" || op == "RotaryEmbedding"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || !isFloatingPoint(opt.inputs[0].type)) return {};
    const bool rms = opt.node->op == "RMSNormalization";
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      RmsNormProblem r;
      RotaryProblem q;
      if (rms ? !rmsNormOf(*l, r) : !rotaryOf(*l, q)) return {};
    }
    return {backend::TacticConfig{.name = rms ? "cuda.transformer_ops.rms_norm" : "cuda.transformer_ops.rotary"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<TransformerOpKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(TransformerOpsProvider);

}  // namespace
}  // namespace kiln::cuda
