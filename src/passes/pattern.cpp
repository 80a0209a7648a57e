#include "passes/pattern.h"

#include "backends/cpu/reference.h"
#include "passes/pipeline.h"

namespace kiln::passes {

PatternGraph::PatternGraph(const ir::Graph& graph, const std::set<std::string>& keep)
    : g_(graph),
      keep_(keep),
      producer_(producers(graph)),
      uses_(useCounts(graph)),
      consumers_(graph.tensors.size()),
      output_(graph.tensors.size(), false),
      taken_(graph.nodes.size(), false) {
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (int id : graph.nodes[i].inputs)
      if (id != ir::kAbsent) consumers_[id].push_back(static_cast<int>(i));
  for (int id : graph.outputs) output_[id] = true;
}

int PatternGraph::soleConsumer(int t) const {
  if (t == ir::kAbsent || uses_[t] != 1 || !removable(t) || consumers_[t].size() != 1) return -1;
  const int c = consumers_[t][0];
  return taken_[c] ? -1 : c;
}

bool PatternGraph::isOp(int n, const char* op, size_t inputs) const {
  return n >= 0 && node(n).op == op && node(n).domain.empty() && node(n).inputs.size() == inputs &&
         node(n).outputs.size() == 1 && out(n) != ir::kAbsent;
}

int PatternGraph::other(int n, int t) const {
  const auto& in = node(n).inputs;
  if (in.size() != 2) return ir::kAbsent;
  if (in[0] == t && in[1] != t) return in[1];
  if (in[1] == t && in[0] != t) return in[0];
  return ir::kAbsent;
}

bool PatternGraph::scalarConstant(int t, double want) const {
  if (t == ir::kAbsent || !info(t).value || info(t).value->numel() != 1) return false;
  return near(info(t).value->at(0), want);
}

int addWeightProgramNode(ir::Graph& graph, const std::string& base, const std::string& op, std::vector<int> inputs,
                         ir::Attributes attrs) {
  ir::Node node;
  node.name = base + "/" + op + "_" + std::to_string(graph.weight_program.size());
  node.op = op;
  node.inputs = std::move(inputs);
  attrs.owner = node.describe();
  node.attrs = std::move(attrs);
  const int out = graph.addTensor(node.name);
  node.outputs = {out};
  cpu::evaluateNode(node, graph.tensors, graph.opset);
  graph.weight_program.push_back(std::move(node));
  return out;
}

}  // namespace kiln::passes
