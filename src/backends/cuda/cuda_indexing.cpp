// "cuda.indexing": kiln's CUDA kernels for the index-driven ops GatherND (with batch_dims),
// GatherElements, ScatterND and ScatterElements (every "reduction"), as tactics. Index
// tensors are device data; the host side (here) computes only shape math, in
// Kernel::reshape. Scatters copy data into the output first, then apply the updates in the
// reference's order (duplicates resolve as on the CPU). Indices out of range read zeros /
// are skipped, where the reference raises an error.
#include <algorithm>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/indexing.h"
#include "backends/cuda/layer_view.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

bool isIndexType(DataType t) { return t == DataType::kINT32 || t == DataType::kINT64; }

bool movableElement(DataType t) {
  size_t es = elementSize(t);
  return isDeviceType(t) && (es == 1 || es == 2 || es == 4 || es == 8);
}

int64_t product(const ir::Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

int normalizedAxis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

ScatterReduction reductionOf(const backend::LayerView& layer) {
  std::string r = layer.attrs().s("reduction", "none");
  return r == "add" ? ScatterReduction::kAdd : r == "mul" ? ScatterReduction::kMul
       : r == "max" ? ScatterReduction::kMax : r == "min" ? ScatterReduction::kMin : ScatterReduction::kNone;
}

//! GatherND / ScatterND plan (ScatterND: batch_dims 0).
GatherNDPlan tuplePlan(const backend::LayerView& layer, size_t batch_dims) {
  const ir::Shape& data = layer.inputs[0].shape;
  const ir::Shape& is = layer.inputs[1].shape;
  GatherNDPlan p;
  p.k = static_cast<int>(is.back());
  std::vector<int64_t> strides = ir::contiguousStrides(data);
  p.rows = p.k > 0 ? volume(is) / p.k : 0;
  int64_t batches = product(is, 0, batch_dims);
  p.rows_per_batch = batches > 0 ? std::max<int64_t>(p.rows / batches, 1) : 1;
  p.batch_stride = batch_dims ? strides[batch_dims - 1] : 0;
  p.block = product(data, batch_dims + p.k, data.size());
  for (int j = 0; j < p.k; ++j) {
    p.dims[j] = data[batch_dims + j];
    p.strides[j] = strides[batch_dims + j];
  }
  p.element_size = elementSize(layer.inputs[0].type);
  p.indices_int64 = layer.inputs[1].type == DataType::kINT64;
  return p;
}

ElementsPlan elementsPlan(const backend::LayerView& layer) {
  const ir::Shape& data = layer.inputs[0].shape;
  const ir::Shape& is = layer.inputs[1].shape;
  ElementsPlan p;
  p.rank = static_cast<int>(data.size());
  p.axis = normalizedAxis(layer.attrs().i("axis", 0), data.size());
  p.n = volume(is);
  std::vector<int64_t> strides = ir::contiguousStrides(data);
  for (int d = 0; d < p.rank; ++d) {
    p.idx_dims[d] = is[d];
    p.data_strides[d] = strides[d];
  }
  p.axis_dim = data[p.axis];
  p.element_size = elementSize(layer.inputs[0].type);
  p.indices_int64 = layer.inputs[1].type == DataType::kINT64;
  return p;
}

class GatherNDKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<GatherNDKernel>(*this); }
  explicit GatherNDKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    plan_ = tuplePlan(layer, static_cast<size_t>(layer.attrs().i("batch_dims", 0)));
  }
  void run(const backend::RunArgs& args) override {
    launchGatherND(plan_, args.inputs[0], args.inputs[1], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  GatherNDPlan plan_;
};

class GatherElementsKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<GatherElementsKernel>(*this); }
  explicit GatherElementsKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override { plan_ = elementsPlan(layer); }
  void run(const backend::RunArgs& args) override {
    launchGatherElements(plan_, args.inputs[0], args.inputs[1], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  ElementsPlan plan_;
};

//! ScatterND and ScatterElements: copy data to the output, then scatter.
class ScatterKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ScatterKernel>(*this); }
  explicit ScatterKernel(const backend::LayerView& layer)
      : name_(layerName(layer)), nd_(layer.node->op == "ScatterND"), reduction_(reductionOf(layer)) {
    reshape(layer);
  }
  size_t workspaceSize(const backend::LayerView& layer) const override {
    if (!nd_) return 0;
    int64_t k = layer.inputs[1].shape.back();
    return k > 0 ? static_cast<size_t>(volume(layer.inputs[1].shape) / k) * sizeof(int64_t) : 0;
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    bytes_ = static_cast<size_t>(volume(layer.inputs[0].shape)) * elementSize(type_);
    if (nd_) nd_plan_ = tuplePlan(layer, 0);
    else elements_plan_ = elementsPlan(layer);
  }
  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (bytes_ && args.outputs[0] != args.inputs[0])
      KILN_CUDA_CHECK(cudaMemcpyAsync(args.outputs[0], args.inputs[0], bytes_, cudaMemcpyDeviceToDevice, stream), name_);
    if (nd_)
      launchScatterND(nd_plan_, reduction_, type_, args.inputs[1], args.inputs[2], args.outputs[0],
                      static_cast<int64_t*>(args.workspace), stream);
    else
      launchScatterElements(elements_plan_, reduction_, type_, args.inputs[1], args.inputs[2], args.outputs[0], stream);
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  bool nd_;
  ScatterReduction reduction_;
  DataType type_ = DataType::kFLOAT;
  size_t bytes_ = 0;
  GatherNDPlan nd_plan_;
  ElementsPlan elements_plan_;
};

bool isScatter(std::string_view op) { return op == "ScatterND" || op == "ScatterElements"; }

//! Why the layer cannot run here at these shapes ("" when it can).
std::string unsupported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.inputs.size() < 2 || l.outputs.empty() || !l.inputs[0].present || !l.inputs[1].present) return "inputs";
  const DataType type = l.inputs[0].type;
  if (!isIndexType(l.inputs[1].type)) return "index type";
  const ir::Shape& data = l.inputs[0].shape;
  const ir::Shape& is = l.inputs[1].shape;
  if (data.size() > static_cast<size_t>(kMaxIndexRank) || is.empty()) return "rank";
  if (isScatter(op)) {
    if (l.inputs.size() < 3 || !l.inputs[2].present || l.inputs[2].type != type) return "updates";
    if (!isDeviceType(type) || elementSize(type) > 8) return "type";
  } else if (!movableElement(type)) {
    return "type";
  }
  if (op == "GatherND" || op == "ScatterND") {
    int64_t k = is.back();
    size_t b = op == "GatherND" ? static_cast<size_t>(l.attrs().i("batch_dims", 0)) : 0;
    if (k < 1 || b + static_cast<size_t>(k) > data.size() || b >= is.size()) return "tuple length";
  } else {
    if (is.size() != data.size()) return "rank";
    if (op == "ScatterElements" && l.inputs[2].shape != is) return "updates shape";
  }
  return "";
}

class IndexingProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.indexing"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "GatherND" || op == "GatherElements" || isScatter(op);
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!unsupported(*l).empty()) return {};
    const std::string& op = opt.node->op;
    backend::TacticConfig c{.name = op == "GatherND" ? "gather_nd" : op == "GatherElements" ? "gather_elements"
                                  : op == "ScatterND" ? "scatter_nd" : "scatter_elements"};
    if (op == "ScatterND") {
      int64_t k = max.inputs[1].shape.back();
      c.workspace = static_cast<size_t>(volume(max.inputs[1].shape) / k) * sizeof(int64_t);
    }
    return {c};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    const std::string& op = layer.node->op;
    std::string why = unsupported(layer);
    if (!why.empty()) throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.indexing does not support its " + why);
    if (op == "GatherND") return std::make_unique<GatherNDKernel>(layer);
    if (op == "GatherElements") return std::make_unique<GatherElementsKernel>(layer);
    if (isScatter(op)) return std::make_unique<ScatterKernel>(layer);
    throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.indexing has no kernel for " + op);
  }
};

KILN_TACTIC_PROVIDER(IndexingProvider);

}  // namespace
}  // namespace kiln::cuda
