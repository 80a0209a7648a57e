// "cuda.quantize": QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked; int8,
// uint8, int16, uint16 and, for DequantizeLinear, int32) and DynamicQuantizeLinear on the GPU
// (kernels/quantize.cu), as the reference computes them. The scale map is resolved on the host
// in reshape(); run() only launches.
#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/quantize.h"
#include "backends/cuda/layer_view.h"
#include "ir/onnx_types.h"

namespace kiln::cuda {
namespace {

bool isQuantizedType(DataType t) {
  return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kINT16 || t == DataType::kUINT16;
}

//! The scale map of the reference's ScaleIndex for x and scale shapes.
ScaleMap scaleMapOf(const backend::LayerView& layer) {
  const ir::Shape& x = layer.inputs[0].shape;
  const ir::Shape& scale = layer.inputs[1].shape;
  ScaleMap m;
  const int64_t block = layer.attrs().i("block_size", 0);
  if (scale.empty() || (scale.size() == 1 && scale[0] == 1 && block == 0)) return m;  // per tensor
  int64_t axis = layer.attrs().i("axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  m.dim = x[axis];
  m.scale_dim = block > 0 ? scale[axis] : 1;
  m.block = block > 0 ? block : 1;
  for (size_t d = axis + 1; d < x.size(); ++d) m.inner *= x[d];
  m.per_axis = block == 0;
  return m;
}

//! QuantizeLinear's precision: the `precision` attribute's type, else the scale's.
DataType precisionOf(const backend::LayerView& layer) {
  const std::optional<DataType> t = ir::fromOnnxType(layer.attrs().i("precision", 0));
  return t && isFloatingPoint(*t) ? *t : layer.inputs[1].type;
}

class QuantizeKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<QuantizeKernel>(*this); }
  explicit QuantizeKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    x_type_ = layer.inputs[0].type;
    y_type_ = layer.outputs[0].type;
    n_ = volume(layer.inputs[0].shape);
    if (op_ == "DynamicQuantizeLinear") return;
    scale_type_ = layer.inputs[1].type;
    has_zero_ = hasInput(layer, 2);
    map_ = scaleMapOf(layer);
    if (op_ == "QuantizeLinear") precision_ = precisionOf(layer);
  }
  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (op_ == "DynamicQuantizeLinear") {
      launchDynamicQuantize(static_cast<const float*>(args.inputs[0]), static_cast<uint8_t*>(args.outputs[0]),
                            static_cast<float*>(args.outputs[1]), static_cast<uint8_t*>(args.outputs[2]), n_, stream);
    } else {
      const void* zero = has_zero_ ? args.inputs[2] : nullptr;
      if (op_ == "QuantizeLinear")
        launchQuantize(x_type_, scale_type_, precision_, y_type_, args.inputs[0], args.inputs[1], zero, args.outputs[0],
                       n_, map_, stream);
      else
        launchDequantize(x_type_, scale_type_, y_type_, args.inputs[0], args.inputs[1], zero, args.outputs[0], n_, map_,
                         stream);
    }
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // scales are read at each run

 private:
  std::string name_, op_;
  DataType x_type_ = DataType::kFLOAT, y_type_ = DataType::kUINT8, scale_type_ = DataType::kFLOAT;
  DataType precision_ = DataType::kFLOAT;
  bool has_zero_ = false;
  int64_t n_ = 0;
  ScaleMap map_;
};

bool fits(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.inputs.empty() || l.outputs.empty() || !ir::allKnown(l.inputs[0].shape)) return false;
  if (op == "DynamicQuantizeLinear")
    return l.inputs[0].type == DataType::kFLOAT && l.outputs.size() == 3 && l.outputs[1].present &&
           l.outputs[2].present;
  if (l.inputs.size() < 2 || !hasInput(l, 1) || !isFloatingPoint(l.inputs[1].type) || !ir::allKnown(l.inputs[1].shape))
    return false;
  const ir::Shape& scale = l.inputs[1].shape;
  const int64_t block = l.attrs().i("block_size", 0);
  const bool per_tensor = scale.empty() || (scale.size() == 1 && scale[0] == 1 && block == 0);
  if (!per_tensor) {
    const int64_t rank = static_cast<int64_t>(l.inputs[0].shape.size()), axis = l.attrs().i("axis", 1);
    if (axis < -rank || axis >= rank) return false;
  }
  if (op == "QuantizeLinear")
    return isFloatingPoint(l.inputs[0].type) && isQuantizedType(l.outputs[0].type) && isFloatingPoint(precisionOf(l));
  return (isQuantizedType(l.inputs[0].type) || l.inputs[0].type == DataType::kINT32) &&
         isFloatingPoint(l.outputs[0].type);
}

class QuantizeProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.quantize"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!fits(*l)) return {};
    return {backend::TacticConfig{.name = "cuda.quantize"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<QuantizeKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(QuantizeProvider);

}  // namespace
}  // namespace kiln::cuda
