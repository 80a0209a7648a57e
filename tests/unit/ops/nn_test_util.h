// Helpers for the neural-network op tests (conv, pool, normalization, softmax): a one-node
// graph run on the CPU reference backend, shape inference alone, and random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::nn_testing {

inline ir::Attributes attrsOf(const std::string& op, std::map<std::string, ir::AttributeValue> values) {
  ir::Attributes a;
  for (auto& [k, v] : values) a.set(k, v);
  a.owner = "node 'n' (" + op + ")";
  return a;
}

//! Runs one node `op` on `inputs` (nullptr-free; use `absent` to skip optional slots) and
//! returns its outputs out0..out{num_outputs-1} (an output name in `skip_outputs` is absent).
inline std::vector<ir::Tensor> runNode(const std::string& op, const std::vector<ir::Tensor>& inputs,
                                       const ir::Attributes& attrs, int num_outputs = 1, int opset = 21,
                                       std::vector<int> absent_outputs = {}) {
  ir::Graph graph;
  graph.opset = opset;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = attrs;
  std::map<std::string, ir::Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    int id = graph.tensorId(name);
    graph.tensors[id].type = inputs[i].type();
    graph.tensors[id].shape = inputs[i].shape();
    graph.tensors[id].rank_known = true;
    graph.inputs.push_back(id);
    node.inputs.push_back(id);
    feeds[name] = inputs[i];
  }
  for (int o = 0; o < num_outputs; ++o) {
    if (std::find(absent_outputs.begin(), absent_outputs.end(), o) != absent_outputs.end()) {
      node.outputs.push_back(ir::kAbsent);
      continue;
    }
    int id = graph.tensorId("out" + std::to_string(o));
    node.outputs.push_back(id);
    graph.outputs.push_back(id);
  }
  const ir::OpSchema* schema = ir::findSchema(op);
  if (schema && schema->normalize) schema->normalize(graph, node, opset);
  graph.nodes.push_back(std::move(node));
  auto results = cpu::runReference(graph, feeds);
  std::vector<ir::Tensor> out;
  for (int o = 0; o < num_outputs; ++o) {
    auto it = results.find("out" + std::to_string(o));
    out.push_back(it == results.end() ? ir::Tensor() : it->second);
  }
  return out;
}

inline ir::TensorInfo info(DataType type, ir::Shape shape) {
  ir::TensorInfo t;
  t.type = type;
  t.shape = std::move(shape);
  t.rank_known = true;
  return t;
}

//! Shape inference of one node on inputs of the given types/shapes; returns output infos.
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                         const ir::Attributes& attrs, int num_outputs = 1, int opset = 21) {
  std::vector<ir::TensorInfo> tensors = inputs;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = attrs;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(static_cast<int>(i));
  for (int o = 0; o < num_outputs; ++o) {
    node.outputs.push_back(static_cast<int>(tensors.size()));
    tensors.push_back(ir::TensorInfo{.name = "out" + std::to_string(o)});
  }
  ir::InferContext ctx(node, tensors, opset);
  ir::findSchema(op)->infer(ctx);
  return {tensors.begin() + static_cast<ptrdiff_t>(inputs.size()), tensors.end()};
}

//! Error code thrown by shape inference, or 0 when it succeeds.
inline int inferError(const std::string& op, const std::vector<ir::TensorInfo>& inputs, const ir::Attributes& attrs,
                      int num_outputs = 1, int opset = 21) {
  try {
    infer(op, inputs, attrs, num_outputs, opset);
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

inline ir::Tensor randomTensor(DataType type, ir::Shape shape, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return ir::Tensor::fromDouble(type, std::move(shape), v);
}

inline ir::Tensor tensorOf(ir::Shape shape, std::vector<double> v, DataType type = DataType::kFLOAT) {
  return ir::Tensor::fromDouble(type, std::move(shape), v);
}

inline void expectNear(const ir::Tensor& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  std::vector<double> g = got.toDouble();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tol * (1.0 + std::fabs(want[i]))) << "at " << i;
}

}  // namespace kiln::nn_testing
