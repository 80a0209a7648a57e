// "cuda.qlinear_matmul": QLinearMatMul on the GPU (kernels/qlinear_matmul.cu): int8 / uint8
// operands with per-tensor, per-row / per-column or batched scales and zero points, broadcast
// batch dims, 1-D operands; y quantized per tensor. The shapes are laid out on the host in
// reshape(); run() only launches.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/qlinear_matmul.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool operandOf(ir::Shape shape, const ir::Shape& param, bool is_a, QOperand& o) {
  if (shape.size() == 1) {
    if (is_a) shape.insert(shape.begin(), 1);
    else shape.push_back(1);
  }
  if (shape.size() < 2 || shape.size() > QOperand::kMaxRank || param.size() > QOperand::kMaxRank) return false;
  o = {};
  o.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) o.dims[d] = shape[d];
  o.param_rank = static_cast<int>(param.size());
  for (size_t d = 0; d < param.size(); ++d) {
    o.param_dims[d] = param[d];
    o.param_volume *= param[d];
  }
  return true;
}

//! The problem of `layer` at its shapes; false when this kernel does not take it.
bool problemOf(const backend::LayerView& l, QLinearMatMulProblem& p) {
  if (l.inputs.size() != 8) return false;
  for (int i = 0; i < 8; ++i)
    if (!hasInput(l, i) || !ir::allKnown(l.inputs[i].shape)) return false;
  p = {};
  if (!operandOf(l.inputs[0].shape, l.inputs[1].shape, true, p.a) ||
      !operandOf(l.inputs[3].shape, l.inputs[4].shape, false, p.b))
    return false;
  p.m = p.a.dims[p.a.rank - 2];
  p.k = p.a.dims[p.a.rank - 1];
  p.n = p.b.dims[p.b.rank - 1];
  const int ra = p.a.rank - 2, rb = p.b.rank - 2;
  p.batch_rank = std::max(ra, rb);
  if (p.batch_rank > QLinearMatMulProblem::kMaxBatch) return false;
  for (int d = 0; d < p.batch_rank; ++d) {
    const int da = d - (p.batch_rank - ra), db = d - (p.batch_rank - rb);
    p.batch_a[d] = da >= 0 ? p.a.dims[da] : 1;
    p.batch_b[d] = db >= 0 ? p.b.dims[db] : 1;
    p.batch[d] = std::max(p.batch_a[d], p.batch_b[d]);
    p.batches *= p.batch[d];
  }
  p.a_type = l.inputs[0].type;
  p.b_type = l.inputs[3].type;
  p.y_type = l.outputs[0].type;
  p.scale_type = l.inputs[1].type;
  const auto quantized = [](DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; };
  const auto scale = [](DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; };
  return quantized(p.a_type) && quantized(p.b_type) && quantized(p.y_type) && scale(p.scale_type) &&
         l.inputs[4].type == p.scale_type && l.inputs[6].type == p.scale_type && volume(l.inputs[6].shape) == 1 &&
         volume(l.inputs[7].shape) == 1;
}

class QLinearMatMulKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<QLinearMatMulKernel>(*this); }
  explicit QLinearMatMulKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    if (!problemOf(layer, p_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.qlinear_matmul cannot take these shapes and types");
  }
  void run(const backend::RunArgs& args) override {
    const void* inputs[8];
    for (int i = 0; i < 8; ++i) inputs[i] = args.inputs[i];
    launchQLinearMatMul(p_, inputs, args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  QLinearMatMulProblem p_;
};

class QLinearMatMulProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.qlinear_matmul"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "QLinearMatMul"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      QLinearMatMulProblem p;
      if (!problemOf(*l, p)) return {};
    }
    return {backend::TacticConfig{.name = "cuda.qlinear_matmul"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<QLinearMatMulKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(QLinearMatMulProvider);

}  // namespace
}  // namespace kiln::cuda
