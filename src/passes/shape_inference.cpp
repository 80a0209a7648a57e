#include "passes/shape_inference.h"

#include <algorithm>

#include "backends/cpu/reference.h"
#include "ir/op_schema.h"
#include "passes/shape_values.h"

namespace kiln::passes {

void inferShapes(ir::Graph& graph, const InferenceOptions& options) {
  for (const ir::Node& node : graph.nodes) inferNode(graph, node, options);
  // A graph output must have a known type; a declared output shape is checked against it.
}

namespace {

//! Shape and Size of a tensor whose dims are all known (no symbol, no unknown dim) are
//! constants, whether or not its data is known: their output gets its value (after `infer`
//! set its type and shape). Returns false, leaving the output alone, otherwise.
bool foldShapeOf(ir::Graph& graph, const ir::Node& node) {
  if ((node.op != "Shape" && node.op != "Size") || node.inputs.size() != 1 || node.inputs[0] == ir::kAbsent ||
      node.outputs.size() != 1 || node.outputs[0] == ir::kAbsent)
    return false;
  const ir::TensorInfo& in = graph.tensors[node.inputs[0]];
  if (!in.rank_known || !ir::allKnown(in.shape)) return false;
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  ir::Tensor value;
  if (node.op == "Size") {
    value = ir::Tensor::scalarInt64(volume(in.shape));
  } else {
    const auto clamp = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
    const int64_t start = clamp(node.attrs.i("start", 0)), end = clamp(node.attrs.i("end", rank));
    std::vector<int64_t> dims;
    for (int64_t d = start; d < end; ++d) dims.push_back(in.shape[d]);
    value = ir::Tensor::fromInt64({static_cast<int64_t>(dims.size())}, dims);
  }
  ir::TensorInfo& out = graph.tensors[node.outputs[0]];
  if (out.type != DataType::kINT64 || !out.rank_known || out.shape != value.shape()) return false;
  out.value = std::make_shared<const ir::Tensor>(std::move(value));
  return true;
}

}  // namespace

void inferNode(ir::Graph& graph, const ir::Node& node, const InferenceOptions& options) {
  const ir::OpSchema* schema = ir::findSchema(node.op);
  if (!schema) throw Error(ErrorCode::kUnsupported, node.describe() + ": operator is not supported");
  if (options.fold_constants && (node.op == "Shape" || node.op == "Size")) {
    ir::InferContext ctx(node, graph.tensors, graph.opset);
    schema->infer(ctx);
    if (foldShapeOf(graph, node)) return;
  }
  bool all_values = schema->foldable && options.fold_constants;
  for (int id : node.inputs)
    if (id != ir::kAbsent && !graph.tensors[id].value) all_values = false;
  if (all_values) {
    // Infer first, so that a fold whose outputs would be too large is declined before
    // anything is allocated.
    ir::InferContext probe(node, graph.tensors, graph.opset);
    schema->infer(probe);
    size_t bytes = 0;
    bool known = true;
    for (int id : node.outputs) {
      if (id == ir::kAbsent) continue;
      const ir::TensorInfo& t = graph.tensors[id];
      if (!t.rank_known || !ir::allKnown(t.shape)) {
        known = false;
        break;
      }
      size_t n = elementSize(t.type);
      for (int64_t d : t.shape) n = d == 0 ? 0 : (n > options.max_folded_bytes ? n : n * static_cast<size_t>(d));
      bytes += n;
    }
    if (known && bytes <= options.max_folded_bytes) {
      cpu::evaluateNode(node, graph.tensors, graph.opset);
      return;
    }
    propagateShapeValue(node, graph.tensors);
    return;  // shapes and types are set; the node stays to run at run time
  }
  ir::InferContext ctx(node, graph.tensors, graph.opset);
  schema->infer(ctx);
  propagateShapeValue(node, graph.tensors);
}

void removeFoldedNodes(ir::Graph& graph) {
  // A folded node that (transitively) reads a model weight moves to the weight program, so
  // that refit can recompute its outputs; other folded nodes are simply dropped.
  std::vector<bool> from_weight(graph.tensors.size(), false);
  for (size_t id = 0; id < graph.tensors.size(); ++id) from_weight[id] = graph.tensors[id].is_initializer;
  std::vector<ir::Node> kept;
  for (ir::Node& node : graph.nodes) {
    bool folded = true;
    for (int id : node.outputs)
      if (id != ir::kAbsent && !graph.tensors[id].value) folded = false;
    if (!folded) {
      kept.push_back(std::move(node));
      continue;
    }
    bool derived = false;
    for (int id : node.inputs)
      if (id != ir::kAbsent && from_weight[id]) derived = true;
    if (!derived) continue;
    for (int id : node.outputs)
      if (id != ir::kAbsent) from_weight[id] = true;
    graph.weight_program.push_back(std::move(node));
  }
  graph.nodes = std::move(kept);
  graph.removeDeadCode();
}

}  // namespace kiln::passes
