// "cuda.scan": CumSum and CumProd in every numeric type (the axis known on the host or read on
// the device), Trilu with k read on the device, and EyeLike, on the GPU (kernels/scan.cu).
// cuda.misc keeps its CumSum / Trilu for host-known scalars; where both apply the timing picks.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/scan.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

bool shapeOf(const ir::Shape& s, ScanShape& out) {
  if (s.size() > ScanShape::kMaxRank) return false;
  out = {};
  out.rank = static_cast<int>(s.size());
  for (size_t d = 0; d < s.size(); ++d) {
    if (s[d] < 0) return false;
    out.dims[d] = s[d];
  }
  return true;
}

bool fits(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.outputs.empty() || !l.outputs[0].present) return false;
  ScanShape s;
  if (op == "EyeLike") return l.outputs[0].shape.size() == 2 && shapeOf(l.outputs[0].shape, s);
  if (l.inputs.empty() || !l.inputs[0].present || !shapeOf(l.inputs[0].shape, s)) return false;
  const DataType t = l.inputs[0].type;
  if (op == "Trilu") {
    const size_t es = elementSize(t);
    return s.rank >= 2 && (es == 1 || es == 2 || es == 4 || es == 8) &&
           (!hasInput(l, 1) || l.inputs[1].type == DataType::kINT64);
  }
  // CumSum / CumProd
  return t != DataType::kBOOL && s.rank >= 1 && hasInput(l, 1) &&
         (l.inputs[1].type == DataType::kINT32 || l.inputs[1].type == DataType::kINT64);
}

class ScanKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ScanKernel>(*this); }
  explicit ScanKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) {
    const ir::Attributes& a = layer.attrs();
    exclusive_ = a.i("exclusive", 0) != 0;
    reverse_ = a.i("reverse", 0) != 0;
    upper_ = a.i("upper", 1) != 0;
    k_ = a.i("k", 0);
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    if (!fits(layer)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.scan cannot take this layer");
    if (op_ == "EyeLike") {
      type_ = layer.outputs[0].type;
      rows_ = layer.outputs[0].shape[0];
      cols_ = layer.outputs[0].shape[1];
      return;
    }
    type_ = layer.inputs[0].type;
    shapeOf(layer.inputs[0].shape, shape_);
    scalar_on_device_ = false;
    scalar_ = 0;
    if (hasInput(layer, 1)) {
      scalar_type_ = layer.inputs[1].type;
      if (const ir::Tensor* v = hostValue(layer, 1); v && v->numel() > 0) scalar_ = v->intAt(0);
      else scalar_on_device_ = true;
    }
  }
  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    const void* scalar = scalar_on_device_ ? args.inputs[1] : nullptr;
    if (op_ == "EyeLike") launchEyeLike(type_, rows_, cols_, k_, args.outputs[0], stream);
    else if (op_ == "Trilu")
      launchTriluGeneral(elementSize(type_), shape_, static_cast<const int64_t*>(scalar), scalar_, upper_,
                         args.inputs[0], args.outputs[0], stream);
    else
      launchCumulative(type_, shape_, scalar, scalar_type_, scalar_, op_ == "CumProd", exclusive_, reverse_,
                       args.inputs[0], args.outputs[0], stream);
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_, op_;
  bool exclusive_ = false, reverse_ = false, upper_ = true;
  int64_t k_ = 0;  //!< EyeLike's
  DataType type_ = DataType::kFLOAT, scalar_type_ = DataType::kINT64;
  ScanShape shape_;
  bool scalar_on_device_ = false;
  int64_t scalar_ = 0;  //!< the axis or Trilu's k when known on the host
  int64_t rows_ = 0, cols_ = 0;
};

class ScanProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.scan"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "CumSum" || op == "CumProd" || op == "Trilu" || op == "EyeLike";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!fits(*l)) return {};
    return {backend::TacticConfig{.name = "cuda.scan"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<ScanKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(ScanProvider);

}  // namespace
}  // namespace kiln::cuda
