// "cuda.grid_sample": GridSample on the GPU (kernels/grid_sample.cu) for one to three spatial
// dims, every mode (linear / nearest / cubic, under both opsets' names), padding mode and
// align_corners, X and grid in float, half, bfloat16 or double. run() only launches.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/grid_sample.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

//! The problem of `layer` at its shapes; false when this kernel does not take it.
bool geometryOf(const backend::LayerView& layer, GridSampleGeometry& g) {
  if (layer.inputs.size() < 2 || !hasInput(layer, 1)) return false;
  const ir::Shape& x = layer.inputs[0].shape;
  const ir::Shape& grid = layer.inputs[1].shape;
  const int r = static_cast<int>(x.size()) - 2;
  if (r < 1 || r > GridSampleGeometry::kMaxSpatial || grid.size() != x.size()) return false;
  for (int64_t d : x)
    if (d < 0) return false;
  for (int64_t d : grid)
    if (d < 0) return false;
  g = {};
  g.r = r;
  g.batch = x[0];
  g.channels = x[1];
  g.points = 1;
  for (int d = 0; d < r; ++d) {
    g.in[d] = x[2 + d];
    g.points *= grid[1 + d];
  }
  const ir::Attributes& a = layer.attrs();
  const std::string mode = a.s("mode", layer.opset >= 20 ? "linear" : "bilinear");
  g.mode = mode == "nearest"                        ? GridMode::kNearest
           : (mode == "cubic" || mode == "bicubic") ? GridMode::kCubic
                                                    : GridMode::kLinear;
  const std::string padding = a.s("padding_mode", "zeros");
  g.padding = padding == "border"       ? GridPadding::kBorder
              : padding == "reflection" ? GridPadding::kReflection
                                        : GridPadding::kZeros;
  g.align_corners = a.i("align_corners", 0) != 0;
  return true;
}

class GridSampleKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<GridSampleKernel>(*this); }
  explicit GridSampleKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    x_type_ = layer.inputs[0].type;
    grid_type_ = layer.inputs[1].type;
    if (!geometryOf(layer, g_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.grid_sample cannot take these shapes");
  }
  void run(const backend::RunArgs& args) override {
    launchGridSample(x_type_, grid_type_, g_, args.inputs[0], args.inputs[1], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }

 private:
  std::string name_;
  DataType x_type_ = DataType::kFLOAT, grid_type_ = DataType::kFLOAT;
  GridSampleGeometry g_;
};

class GridSampleProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.grid_sample"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "GridSample"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.size() < 2 || !isFloatingPoint(opt.inputs[0].type) || !isFloatingPoint(opt.inputs[1].type))
      return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      GridSampleGeometry g;
      if (!geometryOf(*l, g)) return {};
    }
    return {backend::TacticConfig{.name = "cuda.grid_sample"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<GridSampleKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(GridSampleProvider);

}  // namespace
}  // namespace kiln::cuda
