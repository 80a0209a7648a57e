// Helpers for the shape / movement / resize op tests: run one node on the CPU reference
// backend, or infer one node's output shapes from inputs whose values may be known.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::mv_test {

using ir::Shape;
using ir::Tensor;

inline ir::Attributes attrs(std::initializer_list<std::pair<const std::string, ir::AttributeValue>> list = {}) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

inline Tensor ints(std::vector<int64_t> v) { return Tensor::fromInt64({static_cast<int64_t>(v.size())}, v); }
inline Tensor floats(Shape shape, std::vector<double> v) { return Tensor::fromDouble(DataType::kFLOAT, std::move(shape), v); }
//! 0, 1, 2, ... as `type` (distinct values make misplaced elements visible).
inline Tensor iota(DataType type, Shape shape) {
  Tensor t(type, shape);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::fromDouble(type, std::move(shape), v);
}
inline Tensor randomFloats(Shape shape, unsigned seed = 7) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-2.0, 2.0);
  Tensor t(DataType::kFLOAT, shape);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (double& x : v) x = dist(gen);
  return Tensor::fromDouble(DataType::kFLOAT, std::move(shape), v);
}

//! Runs `op` on `inputs` (std::nullopt = absent optional input); returns its outputs.
inline std::vector<Tensor> runOp(const std::string& op, const std::vector<std::optional<Tensor>>& inputs,
                                 ir::Attributes a = {}, int num_outputs = 1, int opset = 21) {
  ir::Graph graph;
  graph.opset = opset;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(a);
  node.attrs.owner = "node 'n' (" + op + ")";
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      node.inputs.push_back(ir::kAbsent);
      continue;
    }
    std::string name = "in" + std::to_string(i);
    int id = graph.tensorId(name);
    graph.tensors[id].type = inputs[i]->type();
    graph.tensors[id].shape = inputs[i]->shape();
    graph.tensors[id].rank_known = true;
    graph.inputs.push_back(id);
    node.inputs.push_back(id);
    feeds[name] = *inputs[i];
  }
  for (int o = 0; o < num_outputs; ++o) {
    int id = graph.tensorId("out" + std::to_string(o));
    node.outputs.push_back(id);
    graph.outputs.push_back(id);
  }
  const ir::OpSchema* schema = ir::findSchema(op);
  if (!schema) throw Error(ErrorCode::kInternal, "no schema for " + op);
  if (schema->normalize) schema->normalize(graph, node, opset);
  graph.nodes.push_back(std::move(node));
  auto result = cpu::runReference(graph, feeds);
  std::vector<Tensor> outs;
  for (int o = 0; o < num_outputs; ++o) outs.push_back(result.at("out" + std::to_string(o)));
  return outs;
}

inline Tensor run1(const std::string& op, const std::vector<std::optional<Tensor>>& inputs, ir::Attributes a = {},
                   int opset = 21) {
  return runOp(op, inputs, std::move(a), 1, opset).at(0);
}

//! An input for infer(): type and shape, and a value when it is known at build time.
struct In {
  DataType type = DataType::kFLOAT;
  Shape shape;
  std::optional<Tensor> value;
};
inline In known(Tensor v) { return In{v.type(), v.shape(), v}; }

//! Infers `op`'s outputs; dims may be kUnknownDim or symbols (kFirstSymbol - k).
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<In>& inputs, ir::Attributes a = {},
                                         int num_outputs = 1, int opset = 21) {
  std::vector<ir::TensorInfo> tensors;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(a);
  node.attrs.owner = "node 'n' (" + op + ")";
  for (const In& in : inputs) {
    ir::TensorInfo t{.name = "in" + std::to_string(tensors.size()), .type = in.type, .shape = in.shape, .rank_known = true};
    if (in.value) t.value = std::make_shared<const Tensor>(*in.value);
    node.inputs.push_back(static_cast<int>(tensors.size()));
    tensors.push_back(std::move(t));
  }
  for (int o = 0; o < num_outputs; ++o) {
    node.outputs.push_back(static_cast<int>(tensors.size()));
    tensors.push_back(ir::TensorInfo{.name = "out" + std::to_string(o)});
  }
  ir::InferContext ctx(node, tensors, opset);
  ir::findSchema(op)->infer(ctx);
  return std::vector<ir::TensorInfo>(tensors.end() - num_outputs, tensors.end());
}

inline Shape inferShape(const std::string& op, const std::vector<In>& inputs, ir::Attributes a = {}) {
  return infer(op, inputs, std::move(a)).at(0).shape;
}

inline ErrorCode errorCode(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return static_cast<ErrorCode>(0);
}

constexpr int64_t kBatch = ir::kFirstSymbol;      // symbol 0
constexpr int64_t kSeq = ir::kFirstSymbol - 1;    // symbol 1
constexpr int64_t kU = ir::kUnknownDim;

}  // namespace kiln::mv_test
