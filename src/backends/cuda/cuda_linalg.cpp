// "cuda.linalg": kiln's CUDA kernels for Det (matrices up to 16 x 16, one thread each),
// ReverseSequence and TensorScatter (any element type of 1, 2, 4 or 8 bytes), as tactics. Shapes are read in
// Kernel::reshape; run() only launches.
#include <algorithm>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/linalg.h"
#include "backends/cuda/layer_view.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

bool isDetType(DataType t) {
  return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16 || t == DataType::kDOUBLE;
}

class LinalgKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LinalgKernel>(*this); }
  explicit LinalgKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) {
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& x = layer.inputs[0].shape;
    type_ = layer.inputs[0].type;
    if (op_ == "Det") {
      n_ = x.back();
      count_ = n_ > 0 ? volume(x) / (n_ * n_) : volume(layer.outputs[0].shape);
      return;
    }
    if (op_ == "TensorScatter") {
      int64_t axis = layer.attrs().i("axis", -2);
      if (axis < 0) axis += static_cast<int64_t>(x.size());
      const ir::Shape& u = layer.inputs[1].shape;
      outer_ = 1, inner_ = 1;
      for (int64_t d = 0; d < axis; ++d) outer_ *= x[d];
      for (size_t d = static_cast<size_t>(axis) + 1; d < x.size(); ++d) inner_ *= x[d];
      steps_ = x[axis];
      update_extent_ = u[axis];
      per_batch_ = x[0] > 0 ? outer_ / x[0] : 1;
      circular_ = layer.attrs().s("mode", "linear") == "circular";
      return;
    }
    time_major_ = layer.attrs().i("batch_axis", 1) == 1;
    steps_ = time_major_ ? x[0] : x[1];
    batch_ = time_major_ ? x[1] : x[0];
    inner_ = 1;
    for (size_t d = 2; d < x.size(); ++d) inner_ *= x[d];
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t s = streamOf(args);
    if (op_ == "Det") launchDet(type_, args.inputs[0], args.outputs[0], count_, n_, s);
    else if (op_ == "TensorScatter")
      launchTensorScatter(elementSize(type_), args.inputs[0], args.inputs[1],
                          args.inputs.size() > 2 ? static_cast<const int64_t*>(args.inputs[2]) : nullptr,
                          args.outputs[0], outer_, steps_, update_extent_, inner_, std::max<int64_t>(per_batch_, 1),
                          circular_, s);
    else
      launchReverseSequence(elementSize(type_), args.inputs[0], static_cast<const int64_t*>(args.inputs[1]),
                            args.outputs[0], steps_, batch_, inner_, time_major_, s);
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_, op_;
  DataType type_ = DataType::kFLOAT;
  int64_t n_ = 0, count_ = 0, steps_ = 0, batch_ = 0, inner_ = 1;
  int64_t outer_ = 1, update_extent_ = 0, per_batch_ = 1;
  bool time_major_ = true, circular_ = false;
};

//! True when the layer can run here at these shapes.
bool supported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.inputs.empty() || !l.inputs[0].present || l.outputs.empty() || !l.outputs[0].present) return false;
  const DataType t = l.inputs[0].type;
  const ir::Shape& x = l.inputs[0].shape;
  if (l.outputs[0].type != t) return false;
  if (op == "Det") return isDetType(t) && x.size() >= 2 && x.back() == x[x.size() - 2] && x.back() <= kDetMaxOrder;
  if (op == "TensorScatter") {
    const size_t es = elementSize(t);
    if (!(es == 1 || es == 2 || es == 4 || es == 8) || !hasInput(l, 1) || l.inputs[1].type != t || x.empty())
      return false;
    if (hasInput(l, 2) && l.inputs[2].type != DataType::kINT64) return false;
    int64_t axis = l.attrs().i("axis", -2);
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    const ir::Shape& u = l.inputs[1].shape;
    if (axis < 1 || axis >= static_cast<int64_t>(x.size()) || u.size() != x.size()) return false;
    for (size_t d = 0; d < x.size(); ++d)
      if (static_cast<int64_t>(d) != axis && u[d] != x[d]) return false;
    const std::string mode = l.attrs().s("mode", "linear");
    return mode == "linear" || mode == "circular";
  }
  if (op == "ReverseSequence") {
    const size_t es = elementSize(t);
    const int64_t batch_axis = l.attrs().i("batch_axis", 1), time_axis = l.attrs().i("time_axis", 0);
    return (es == 1 || es == 2 || es == 4 || es == 8) && x.size() >= 2 && hasInput(l, 1) &&
           l.inputs[1].type == DataType::kINT64 && batch_axis + time_axis == 1 && (batch_axis == 0 || batch_axis == 1);
  }
  return false;
}

class LinalgProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.linalg"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "Det" || op == "ReverseSequence" || op == "TensorScatter";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!supported(*l)) return {};
    if (opt.node->op == "TensorScatter") return {backend::TacticConfig{.name = "tensor_scatter"}};
    return {backend::TacticConfig{.name = opt.node->op == "Det" ? "det_pivoting" : "reverse_sequence"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    if (!supported(layer))
      throw Error(ErrorCode::kUnsupported,
                  layerName(layer) + ": cuda.linalg does not support this layer's types or shapes");
    return std::make_unique<LinalgKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(LinalgProvider);

}  // namespace
}  // namespace kiln::cuda
