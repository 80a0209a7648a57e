// "cuda.spatial": kiln's CUDA kernels for spatial ops no other GPU provider covers: Col2Im
// (any number of spatial dims up to kCol2ImMaxDims, strides, dilations, pads) in float, half,
// bf16 and double, with image_shape and block_shape known on the host. The geometry is read in
// Kernel::reshape; run() only launches.
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/spatial.h"
#include "backends/cuda/layer_view.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

//! Col2Im's geometry at the layer's shapes: an empty string on success, else why not.
std::string planCol2Im(const backend::LayerView& l, Col2ImGeometry& g) {
  if (l.inputs.size() < 3 || !hasInput(l, 0) || !hasInput(l, 1) || !hasInput(l, 2)) return "missing inputs";
  if (l.outputs.empty() || !l.outputs[0].present) return "no output";
  const DataType type = l.inputs[0].type;
  if (!isFloatingPoint(type) || l.outputs[0].type != type) return std::string(toString(type)) + " data";
  const ir::Tensor* image_t = hostValue(l, 1);
  const ir::Tensor* block_t = hostValue(l, 2);
  if (!image_t || !block_t) return "image_shape or block_shape not known on the host";
  const std::vector<int64_t> image = image_t->toInt64(), block = block_t->toInt64();
  const size_t nd = image.size();
  if (nd < 1 || nd > static_cast<size_t>(kCol2ImMaxDims) || block.size() != nd)
    return std::to_string(nd) + " spatial dims";
  const ir::Attributes& a = l.attrs();
  const std::vector<int64_t> strides = a.ints("strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dilations = a.ints("dilations", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> pads = a.ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (strides.size() != nd || dilations.size() != nd || pads.size() != 2 * nd)
    return "strides, dilations or pads of the wrong length";
  const ir::Shape& x = l.inputs[0].shape;
  if (x.size() != 3) return "input of rank " + std::to_string(x.size());
  g = Col2ImGeometry{};
  g.dims = static_cast<int>(nd);
  for (size_t d = 0; d < nd; ++d) {
    if (image[d] < 1 || block[d] < 1 || strides[d] < 1 || dilations[d] < 1) return "non-positive geometry";
    const int64_t span = image[d] + pads[d] + pads[nd + d] - (dilations[d] * (block[d] - 1) + 1);
    if (span < 0) return "a block larger than the padded image";
    g.image[d] = image[d];
    g.block[d] = block[d];
    g.strides[d] = strides[d];
    g.dilations[d] = dilations[d];
    g.pads[d] = pads[d];
    g.grid[d] = span / strides[d] + 1;
    g.columns *= g.grid[d];
    g.kvol *= block[d];
    g.pixels *= image[d];
  }
  if (g.columns != x[2])
    return "an input of " + std::to_string(x[2]) + " columns where the geometry gives " + std::to_string(g.columns);
  if (x[1] % g.kvol != 0) return "channels not a multiple of prod(block_shape)";
  g.batch = x[0];
  g.channels = x[1] / g.kvol;
  return "";
}

class Col2ImKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<Col2ImKernel>(*this); }
  explicit Col2ImKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }

  void reshape(const backend::LayerView& layer) override {
    const std::string why = planCol2Im(layer, geometry_);
    if (!why.empty()) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.spatial Col2Im does not support " + why);
    type_ = layer.inputs[0].type;
  }

  void run(const backend::RunArgs& args) override {
    launchCol2Im(type_, args.inputs[0], args.outputs[0], geometry_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  DataType type_ = DataType::kFLOAT;
  Col2ImGeometry geometry_;
};

bool supported(const backend::LayerView& l) {
  Col2ImGeometry g;
  if (l.node->op == "Col2Im") return planCol2Im(l, g).empty();
  return false;
}

class SpatialProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.spatial"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "Col2Im"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!supported(*l)) return {};
    return {backend::TacticConfig{.name = "col2im"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    if (!supported(layer))
      throw Error(ErrorCode::kUnsupported,
                  layerName(layer) + ": cuda.spatial does not support this layer's types or inputs");
    return std::make_unique<Col2ImKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(SpatialProvider);

}  // namespace
}  // namespace kiln::cuda
