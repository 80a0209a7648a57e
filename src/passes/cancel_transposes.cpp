#include "passes/cancel_transposes.h"

#include <numeric>
#include <vector>

#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

//! The node's permutation (the default reverses the dims); empty when the rank is unknown.
std::vector<int64_t> permutation(const ir::Graph& graph, const ir::Node& t) {
  const ir::TensorInfo& in = graph.tensors[t.inputs[0]];
  if (!in.rank_known) return {};
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.rbegin(), perm.rend(), 0);
  if (t.attrs.has("perm")) perm = t.attrs.ints("perm");
  if (static_cast<int64_t>(perm.size()) != rank) return {};
  for (int64_t& p : perm) p = p < 0 ? p + rank : p;
  return perm;
}

bool isTranspose(const ir::Node& n) {
  return n.op == "Transpose" && n.domain.empty() && n.inputs.size() == 1 && n.outputs.size() == 1 &&
         n.inputs[0] != ir::kAbsent && n.outputs[0] != ir::kAbsent;
}

}  // namespace

int cancelTransposes(ir::Graph& graph, const std::set<std::string>& keep) {
  int rewritten = 0;
  bool changed = true;
  while (changed) {  // chains of three or more collapse pair by pair
    changed = false;
    const std::vector<int> producer = producers(graph);
    const std::vector<int> uses = useCounts(graph);
    std::vector<bool> is_output(graph.tensors.size(), false);
    for (int id : graph.outputs) is_output[id] = true;
    std::vector<bool> erase(graph.nodes.size(), false);
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      ir::Node& second = graph.nodes[n];
      if (!isTranspose(second)) continue;
      const int mid = second.inputs[0];
      const int f = producer[mid];
      if (f < 0 || erase[f] || !isTranspose(graph.nodes[f]) || uses[mid] != 1 || is_output[mid] ||
          keep.count(graph.tensors[mid].name))
        continue;
      const std::vector<int64_t> p1 = permutation(graph, graph.nodes[f]), p2 = permutation(graph, second);
      if (p1.empty() || p1.size() != p2.size()) continue;
      std::vector<int64_t> composed(p2.size());
      bool identity = true;
      for (size_t i = 0; i < p2.size(); ++i) {
        composed[i] = p1[static_cast<size_t>(p2[i])];
        identity = identity && composed[i] == static_cast<int64_t>(i);
      }
      const int x = graph.nodes[f].inputs[0], y = second.outputs[0];
      erase[f] = true;
      if (identity && !is_output[y] && !keep.count(graph.tensors[y].name)) {
        for (ir::Node& reader : graph.nodes)
          for (int& id : reader.inputs)
            if (id == y) id = x;
        erase[n] = true;
      } else if (identity) {
        second.op = "Identity";  // y must stay a tensor of its own (a graph output or kept)
        second.attrs.erase("perm");
        second.inputs[0] = x;
      } else {
        second.attrs.set("perm", composed);
        second.inputs[0] = x;
      }
      second.name += "+" + graph.nodes[f].name;
      second.attrs.owner = second.describe();
      ++rewritten;
      changed = true;
      break;  // producers and uses changed: look again
    }
    if (changed) eraseNodes(graph, erase);
  }
  return rewritten;
}

}  // namespace kiln::passes
