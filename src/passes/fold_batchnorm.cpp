#include "passes/fold_batchnorm.h"

#include <vector>

#include "passes/pattern.h"

namespace kiln::passes {

int foldBatchNormIntoConv(ir::Graph& graph, const std::set<std::string>& keep) {
  std::vector<int> uses(graph.tensors.size(), 0);
  for (const auto& n : graph.nodes)
    for (int id : n.inputs)
      if (id != ir::kAbsent) ++uses[id];
  for (int id : graph.outputs) ++uses[id];
  std::vector<int> producer(graph.tensors.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (int id : graph.nodes[i].outputs)
      if (id != ir::kAbsent) producer[id] = static_cast<int>(i);

  int folded = 0;
  std::vector<bool> erase(graph.nodes.size(), false);
  for (size_t b = 0; b < graph.nodes.size(); ++b) {
    ir::Node& bn = graph.nodes[b];
    if (bn.op != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
    if (bn.attrs.i("training_mode", 0) != 0) continue;  // the batch's statistics: not foldable
    int conv_out = bn.inputs[0];
    int c = producer[conv_out];
    if (c < 0 || erase[c] || uses[conv_out] != 1 || keep.count(graph.tensors[conv_out].name)) continue;
    ir::Node& conv = graph.nodes[c];
    if (conv.op != "Conv" || conv.inputs.size() < 2) continue;
    bool constant = graph.tensors[conv.inputs[1]].value != nullptr;
    for (int i = 1; i < 5; ++i) constant = constant && graph.tensors[bn.inputs[i]].value != nullptr;
    bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != ir::kAbsent;
    if (has_bias) constant = constant && graph.tensors[conv.inputs[2]].value != nullptr;
    if (!constant) continue;
    DataType type = graph.tensors[conv.inputs[1]].type;
    if (!isFloatingPoint(type)) continue;
    const int64_t out_channels = graph.tensors[conv.inputs[1]].shape.at(0);
    const size_t weight_rank = graph.tensors[conv.inputs[1]].shape.size();

    std::string base = conv.name + "+" + bn.name;
    double epsilon = bn.attrs.f("epsilon", 1e-5f);
    int eps = graph.addConstant(base + "/epsilon", ir::Tensor::fromDouble(type, {}, std::vector<double>{epsilon}));
    int var_eps = addWeightProgramNode(graph, base, "Add", {bn.inputs[4], eps});
    int stddev = addWeightProgramNode(graph, base, "Sqrt", {var_eps});
    int factor = addWeightProgramNode(graph, base, "Div", {bn.inputs[1], stddev});  // scale / sqrt(var + eps)
    std::vector<int64_t> shape(weight_rank, 1);
    shape[0] = out_channels;
    int factor_shape =
        graph.addConstant(base + "/factor_shape", ir::Tensor::fromInt64({static_cast<int64_t>(weight_rank)}, shape));
    int factor_w = addWeightProgramNode(graph, base, "Reshape", {factor, factor_shape});
    int weight = addWeightProgramNode(graph, base, "Mul", {conv.inputs[1], factor_w});
    int centered = has_bias ? addWeightProgramNode(graph, base, "Sub", {conv.inputs[2], bn.inputs[3]})
                            : addWeightProgramNode(graph, base, "Neg", {bn.inputs[3]});
    int scaled = addWeightProgramNode(graph, base, "Mul", {centered, factor});
    int bias = addWeightProgramNode(graph, base, "Add", {scaled, bn.inputs[2]});

    ir::Node& conv_ref = graph.nodes[c];  // addTensor may not move nodes, but be explicit
    conv_ref.inputs.resize(3);
    conv_ref.inputs[1] = weight;
    conv_ref.inputs[2] = bias;
    conv_ref.outputs[0] = graph.nodes[b].outputs[0];
    conv_ref.name = base;
    conv_ref.attrs.owner = conv_ref.describe();
    erase[b] = true;
    ++folded;
  }
  if (folded) {
    std::vector<ir::Node> kept;
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      if (!erase[i]) kept.push_back(std::move(graph.nodes[i]));
    graph.nodes = std::move(kept);
    graph.removeDeadCode();
  }
  return folded;
}

}  // namespace kiln::passes
