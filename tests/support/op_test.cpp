#include "support/op_test.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "backends/cpu/reference.h"

namespace kiln::testing {

ir::Attributes attrs(AttrList list) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

ir::Attributes attrsFromMap(const std::map<std::string, ir::AttributeValue>& values) {
  ir::Attributes a;
  for (const auto& [k, v] : values) a.set(k, v);
  return a;
}

OneNode::OneNode(const std::string& op, const std::vector<std::optional<ir::Tensor>>& inputs, ir::Attributes attrs,
                 int num_outputs, int opset, std::vector<bool> constant, std::vector<int> absent_outputs)
    : num_outputs_(num_outputs) {
  graph.opset = opset;
  ir::Node node;
  node.name = "n";
  node.op = op;
  node.attrs = std::move(attrs);
  node.attrs.owner = "node 'n' (" + op + ")";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      node.inputs.push_back(ir::kAbsent);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    if (i < constant.size() && constant[i]) {
      node.inputs.push_back(graph.addConstant(name, *inputs[i]));
      continue;
    }
    int id = graph.tensorId(name);
    graph.tensors[id].type = inputs[i]->type();
    graph.tensors[id].shape = inputs[i]->shape();
    graph.tensors[id].rank_known = true;
    graph.inputs.push_back(id);
    node.inputs.push_back(id);
    feeds[name] = *inputs[i];
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
  if (!schema) throw Error(ErrorCode::kInternal, "no schema for " + op);
  if (schema->normalize) schema->normalize(graph, node, opset);
  graph.nodes.push_back(std::move(node));
}

std::map<std::string, ir::Tensor> OneNode::run() const { return cpu::runReference(graph, feeds); }

std::vector<ir::Tensor> OneNode::outputs() const {
  const auto results = run();
  std::vector<ir::Tensor> out;
  for (int o = 0; o < num_outputs_; ++o) {
    auto it = results.find("out" + std::to_string(o));
    out.push_back(it == results.end() ? ir::Tensor() : it->second);
  }
  return out;
}

std::vector<std::optional<ir::Tensor>> optionalInputs(const std::vector<ir::Tensor>& inputs,
                                                      const std::vector<int>& absent) {
  std::vector<std::optional<ir::Tensor>> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (std::find(absent.begin(), absent.end(), static_cast<int>(i)) != absent.end())
      out.emplace_back(std::nullopt);
    else
      out.emplace_back(inputs[i]);
  }
  return out;
}

std::vector<ir::Tensor> runNodeOutputs(const std::string& op, const std::vector<std::optional<ir::Tensor>>& inputs,
                                       ir::Attributes attrs, int num_outputs, int opset, std::vector<bool> constant,
                                       std::vector<int> absent_outputs) {
  return OneNode(op, inputs, std::move(attrs), num_outputs, opset, std::move(constant), std::move(absent_outputs))
      .outputs();
}

std::vector<ir::TensorInfo> inferNode(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                      ir::Attributes attrs, int num_outputs, int opset) {
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
  const ir::OpSchema* schema = ir::findSchema(op);
  if (!schema) throw Error(ErrorCode::kInternal, "no schema for " + op);
  ir::InferContext ctx(node, tensors, opset);
  schema->infer(ctx);
  return {tensors.begin() + static_cast<ptrdiff_t>(inputs.size()), tensors.end()};
}

ir::TensorInfo info(DataType type, ir::Shape shape, std::string name) {
  return ir::TensorInfo{.name = std::move(name), .type = type, .shape = std::move(shape), .rank_known = true};
}

ir::TensorInfo constInfo(const ir::Tensor& value, std::string name) {
  ir::TensorInfo t = info(value.type(), value.shape(), std::move(name));
  t.value = std::make_shared<const ir::Tensor>(value);
  return t;
}

void expectNear(const ir::Tensor& got, const std::vector<double>& want, double tol, const char* what, bool relative) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const std::vector<double> g = got.toDouble();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(g[i], want[i], relative ? tol * (1.0 + std::fabs(want[i])) : tol) << what << " element " << i;
}

}  // namespace kiln::testing
