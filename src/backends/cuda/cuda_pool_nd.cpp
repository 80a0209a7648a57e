// "cuda.pool_nd": the general windowed pooling tactic (kernels/pool_nd.cu). MaxPool (with its
// Indices output and storage_order), AveragePool and LpPool over one to three spatial dims, in
// every type the reference pools: floats (double too) for all three, integers for MaxPool.
// The window (auto_pad, pads, strides, dilations, ceil_mode) is resolved on the host by the
// shape rules' own resolver in reshape(); run() only launches. It is offered next to cuda.pool
// wherever both apply, and the timing picks.
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/pool_nd.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/window.h"

namespace kiln::cuda {
namespace {

PoolNdKind kindOf(std::string_view op) {
  if (op == "MaxPool") return PoolNdKind::kMax;
  if (op == "AveragePool") return PoolNdKind::kAverage;
  return PoolNdKind::kLp;
}

//! The problem of `layer` at its shapes; false when it is not one this kernel takes.
bool geometryOf(const backend::LayerView& layer, PoolNdGeometry& g) {
  const ir::Shape& x = layer.inputs[0].shape;
  const size_t rank = x.size();
  if (rank < 3 || rank > 2 + PoolNdGeometry::kMaxSpatial) return false;
  for (int64_t d : x)
    if (d < 0) return false;
  const ir::Attributes& a = layer.attrs();
  if (!a.has("kernel_shape")) return false;
  const ir::Window w = ir::resolveWindow(a, ir::Shape(x.begin() + 2, x.end()), a.ints("kernel_shape"), true);
  g = {};
  g.nd = static_cast<int>(rank - 2);
  g.planes = x[0] * x[1];
  for (int d = 0; d < g.nd; ++d) {
    g.in[d] = x[2 + d];
    g.out[d] = w.out[d];
    g.kernel[d] = w.kernel[d];
    g.strides[d] = w.strides[d];
    g.dilations[d] = w.dilations[d];
    g.pads_begin[d] = w.pads_begin[d];
    g.pads_end[d] = w.pads_end[d];
    if (g.out[d] < 0 || g.kernel[d] <= 0) return false;
  }
  g.count_include_pad = a.i("count_include_pad", 0) != 0;
  g.column_major = a.i("storage_order", 0) == 1;
  g.p = static_cast<double>(a.i("p", 2));
  return true;
}

bool typeFits(PoolNdKind kind, DataType t) {
  if (t == DataType::kBOOL) return false;
  return kind == PoolNdKind::kMax || isFloatingPoint(t);
}

class PoolNdKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<PoolNdKernel>(*this); }
  explicit PoolNdKernel(const backend::LayerView& layer) : name_(layerName(layer)), kind_(kindOf(layer.node->op)) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    if (!geometryOf(layer, g_)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.pool_nd cannot pool these shapes");
    indices_ = layer.outputs.size() > 1 && layer.outputs[1].present;
  }
  void run(const backend::RunArgs& args) override {
    int64_t* indices = indices_ && args.outputs.size() > 1 ? static_cast<int64_t*>(args.outputs[1]) : nullptr;
    launchPoolNd(kind_, type_, g_, args.inputs[0], args.outputs[0], indices, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }
  bool refit(const backend::LayerView&) override { return true; }  // no weights

 private:
  std::string name_;
  PoolNdKind kind_;
  DataType type_ = DataType::kFLOAT;
  PoolNdGeometry g_;
  bool indices_ = false;
};

class PoolNdProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.pool_nd"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "MaxPool" || op == "AveragePool" || op == "LpPool";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || opt.outputs.empty() || !opt.inputs[0].present) return {};
    const PoolNdKind kind = kindOf(opt.node->op);
    if (!typeFits(kind, opt.inputs[0].type) || opt.outputs[0].type != opt.inputs[0].type) return {};
    if (opt.outputs.size() > 1 && opt.outputs[1].present && kind != PoolNdKind::kMax) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      PoolNdGeometry g;
      if (!geometryOf(*l, g)) return {};
    }
    return {backend::TacticConfig{.name = "cuda.pool_nd"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<PoolNdKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(PoolNdProvider);

}  // namespace
}  // namespace kiln::cuda
