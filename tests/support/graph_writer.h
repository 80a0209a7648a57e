// GraphWriter: a graph written node by node for the optimizer's pass tests (float32 inputs,
// random constants, shapes inferred at the end without folding).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/shape_inference.h"
#include "support/tactic_harness.h"

namespace kiln::testing {

//! A graph written node by node: float32 inputs and random constants, shapes inferred at the end.
class GraphWriter {
 public:
  int input(const std::string& name, ir::Shape shape) {
    const int id = g_.tensorId(name);
    g_.tensors[id].shape = std::move(shape);
    g_.tensors[id].rank_known = true;
    g_.inputs.push_back(id);
    return id;
  }
  int weight(const std::string& name, ir::Shape shape) {
    const int id = g_.addConstant(name, randomTensor(DataType::kFLOAT, shape, seed_++));
    g_.tensors[id].is_initializer = true;
    return id;
  }
  int scalar(double value) {
    return g_.addConstant("c" + std::to_string(g_.tensors.size()),
                          ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{value}));
  }
  int shape(std::vector<int64_t> dims) {
    const int64_t rank = static_cast<int64_t>(dims.size());
    return g_.addConstant("shape" + std::to_string(g_.tensors.size()), ir::Tensor::fromInt64({rank}, dims));
  }
  int node(const std::string& op, std::vector<int> inputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.name = op + "_" + std::to_string(g_.nodes.size());
    n.op = op;
    n.inputs = std::move(inputs);
    const int out = g_.addTensor(n.name + "_out");
    n.outputs = {out};
    attrs.owner = n.describe();
    n.attrs = std::move(attrs);
    g_.nodes.push_back(std::move(n));
    return out;
  }
  ir::Graph finish(std::vector<int> outputs) {
    g_.outputs = std::move(outputs);
    g_.opset = 21;
    passes::inferShapes(g_, passes::InferenceOptions{.fold_constants = false});
    return g_;
  }
  const std::string& name(int id) const { return g_.tensors[id].name; }

 private:
  ir::Graph g_;
  uint32_t seed_ = 11;
};

}  // namespace kiln::testing
