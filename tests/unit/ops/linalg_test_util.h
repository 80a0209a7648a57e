// Helpers for the linear-algebra / reduction op tests: a one-node graph run on the CPU
// reference backend, and shape inference on hand-built tensor infos.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::testing {

//! One node `op` whose inputs are graph inputs in0..inN (constants where `constant[i]`), with
//! outputs out0..; normalized from `opset` into the canonical form like the importer does.
struct OneNode {
  ir::Graph graph;
  std::map<std::string, ir::Tensor> feeds;

  OneNode(const std::string& op, const std::vector<ir::Tensor>& inputs, ir::Attributes attrs = {}, int num_outputs = 1,
          int opset = 21, std::vector<bool> constant = {}) {
    graph.opset = opset;
    ir::Node node;
    node.name = "n";
    node.op = op;
    node.attrs = std::move(attrs);
    node.attrs.owner = "node 'n' (" + op + ")";
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string name = "in" + std::to_string(i);
      if (i < constant.size() && constant[i]) {
        node.inputs.push_back(graph.addConstant(name, inputs[i]));
        continue;
      }
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
    EXPECT_NE(schema, nullptr) << op;
    if (schema && schema->normalize) schema->normalize(graph, node, opset);
    graph.nodes.push_back(std::move(node));
  }

  std::map<std::string, ir::Tensor> run() const { return cpu::runReference(graph, feeds); }
  ir::Tensor run1() const { return run().at("out0"); }
};

//! Infers the outputs of `op` for inputs of the given types and shapes (dims may be unknown
//! or symbolic); returns the output infos. `values[i]`, when non-empty, is input i's value.
inline std::vector<ir::TensorInfo> inferShapes(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                               ir::Attributes attrs = {}, int num_outputs = 1, int opset = 21) {
  std::vector<ir::TensorInfo> tensors = inputs;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(attrs);
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

inline ir::TensorInfo info(DataType type, ir::Shape shape) {
  return ir::TensorInfo{.name = "t", .type = type, .shape = std::move(shape), .rank_known = true};
}

inline ir::TensorInfo constInfo(const ir::Tensor& value) {
  ir::TensorInfo t = info(value.type(), value.shape());
  t.value = std::make_shared<const ir::Tensor>(value);
  return t;
}

//! Uniform random values in [-1, 1) (never all zeros), as `type`.
inline ir::Tensor randomTensor(DataType type, ir::Shape shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = dist(rng);
  return ir::Tensor::fromDouble(type, std::move(shape), v);
}

inline ir::Tensor floats(ir::Shape shape, std::vector<double> v) {
  return ir::Tensor::fromDouble(DataType::kFLOAT, std::move(shape), v);
}

inline ir::Tensor int64s(ir::Shape shape, std::vector<int64_t> v) { return ir::Tensor::fromInt64(std::move(shape), v); }

inline ir::Attributes attrs(std::initializer_list<std::pair<const std::string, ir::AttributeValue>> list) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

inline void expectNear(const ir::Tensor& got, const std::vector<double>& want, double tol, const char* what = "") {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  auto g = got.toDouble();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << what << " element " << i;
}

}  // namespace kiln::testing
