// Helpers for the elementwise-family op tests: run one node on the CPU reference backend, infer
// one node's output shapes, and build small tensors. (Own namespace: other op families keep
// their own helpers.)
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::ew_test {

using ir::Tensor;

inline ir::Attributes attrs(std::initializer_list<std::pair<const std::string, ir::AttributeValue>> list = {}) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

//! Runs `op` on `inputs` (each a graph input; the indices in `absent` become omitted optional
//! inputs, their tensors ignored) and returns its outputs in order.
inline std::vector<Tensor> runOp(const std::string& op, const std::vector<Tensor>& inputs, ir::Attributes a = {},
                                 int num_outputs = 1, int opset = 21, std::vector<int> absent = {}) {
  ir::Graph graph;
  graph.opset = opset;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(a);
  node.attrs.owner = "node 'n' (" + op + ")";
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (std::find(absent.begin(), absent.end(), static_cast<int>(i)) != absent.end()) {
      node.inputs.push_back(ir::kAbsent);
      continue;
    }
    std::string name = "in" + std::to_string(i);
    int id = graph.tensorId(name);
    graph.tensors[id].type = inputs[i].type();
    graph.tensors[id].shape = inputs[i].shape();
    graph.tensors[id].rank_known = true;
    graph.inputs.push_back(id);
    node.inputs.push_back(id);
    feeds[name] = inputs[i];
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

inline Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, ir::Attributes a = {}) {
  return runOp(op, inputs, std::move(a)).at(0);
}

inline ir::TensorInfo info(DataType type, ir::Shape shape) {
  return ir::TensorInfo{.name = "t", .type = type, .shape = std::move(shape), .rank_known = true};
}

//! Infers `op`'s outputs for inputs of the given types and shapes (dims may be unknown or
//! symbolic, see ir::kFirstSymbol).
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                         ir::Attributes a = {}, int num_outputs = 1, int opset = 21) {
  std::vector<ir::TensorInfo> tensors = inputs;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(a);
  node.attrs.owner = "node 'n' (" + op + ")";
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(static_cast<int>(i));
  for (int o = 0; o < num_outputs; ++o) {
    node.outputs.push_back(static_cast<int>(tensors.size()));
    tensors.push_back(ir::TensorInfo{.name = "out" + std::to_string(o)});
  }
  ir::InferContext ctx(node, tensors, opset);
  ir::findSchema(op)->infer(ctx);
  return {tensors.begin() + static_cast<ptrdiff_t>(inputs.size()), tensors.end()};
}

//! The error code `fn` throws (kiln::Error), or 0 when it does not throw.
template <typename Fn>
int errorCode(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

inline Tensor make(DataType type, ir::Shape shape, std::vector<double> v) {
  return Tensor::fromDouble(type, std::move(shape), v);
}

inline Tensor floats(ir::Shape shape, std::vector<double> v) { return make(DataType::kFLOAT, std::move(shape), v); }

//! Uniform random values in [lo, hi) as `type` (never all zeros).
inline Tensor randomTensor(DataType type, ir::Shape shape, unsigned seed, double lo = -3.0, double hi = 3.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = dist(rng);
  return Tensor::fromDouble(type, std::move(shape), v);
}

inline void expectNear(const Tensor& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  auto g = got.toDouble();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << "element " << i;
}

inline void expectValues(const Tensor& got, const std::vector<int64_t>& want) {
  EXPECT_EQ(got.toInt64(), want);
}

}  // namespace kiln::ew_test
