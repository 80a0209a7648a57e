#include "passes/shape_inputs.h"

#include <algorithm>
#include <map>

#include "ir/op_schema.h"

namespace kiln::passes {

namespace {

bool isShapeInputType(DataType t) { return t == DataType::kINT64 || t == DataType::kINT32; }

//! A node output left without a concrete shape: unknown rank or an unknown (not symbolic) dim.
bool unresolved(const ir::TensorInfo& t) {
  if (!t.rank_known) return true;
  return std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d == ir::kUnknownDim; });
}

}  // namespace

std::vector<ShapeInput> findShapeInputs(const ir::Graph& graph, std::vector<ShapeInput>* other_types) {
  std::vector<int> producer(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int id : graph.nodes[n].outputs)
      if (id != ir::kAbsent) producer[id] = static_cast<int>(n);
  std::vector<bool> is_input(graph.tensors.size(), false);
  for (int id : graph.inputs) is_input[id] = true;

  std::map<int, std::string> found;  // input tensor -> first reader
  std::vector<bool> visited(graph.tensors.size(), false);
  // The graph inputs a missing value comes from, through nodes the host could evaluate.
  const auto trace = [&](int start, const std::string& reader) {
    std::vector<int> stack = {start};
    while (!stack.empty()) {
      const int id = stack.back();
      stack.pop_back();
      if (id == ir::kAbsent || visited[id] || graph.tensors[id].value) continue;
      visited[id] = true;
      if (is_input[id]) {
        found.emplace(id, reader);
        continue;
      }
      if (producer[id] < 0) continue;
      const ir::Node& node = graph.nodes[producer[id]];
      const ir::OpSchema* schema = ir::findSchema(node.op);
      if (!schema || !schema->foldable || node.op == "Shape" || node.op == "Size") continue;
      for (int in : node.inputs) stack.push_back(in);
    }
  };

  // Each rule runs again on a copy of the inferred tensors, so that it says which values it
  // missed; only nodes left with an unresolved output shape count.
  std::vector<ir::TensorInfo> tensors = graph.tensors;
  for (const ir::Node& node : graph.nodes) {
    const ir::OpSchema* schema = ir::findSchema(node.op);
    if (!schema) continue;
    ir::InferContext ctx(node, tensors, graph.opset);
    bool failed = false;
    try {
      schema->infer(ctx);
    } catch (const Error&) {
      failed = true;  // e.g. requireValue: the values are needed
    }
    bool open = failed;
    for (int id : node.outputs)
      if (id != ir::kAbsent && unresolved(tensors[id])) open = true;
    if (!open) continue;
    for (int i : ctx.missingValues()) trace(node.inputs[i], node.describe());
  }
  std::vector<ShapeInput> result;
  if (other_types) other_types->clear();
  for (int id : graph.inputs) {
    auto it = found.find(id);
    if (it == found.end()) continue;
    if (isShapeInputType(graph.tensors[id].type)) result.push_back({.tensor = id, .reader = it->second});
    else if (other_types) other_types->push_back({.tensor = id, .reader = it->second});
  }
  return result;
}

}  // namespace kiln::passes
