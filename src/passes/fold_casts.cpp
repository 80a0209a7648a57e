// Cast folding (see fold_casts.h). The forms a producer may take:
//   FusedMatMul without an output_type                -> the same with output_type;
//   MatMul(A [..., M, K], B [K, N])                    -> FusedMatMul(A, B), every leading dim of A in M;
//   Gemm(A [M, K], B, C) with transA = 0, and C absent, beta = 0, or beta = 1 with C a 1-D [N]
//                                                      -> FusedMatMul(A, B, C) with trans_b and alpha.
// The float16/bfloat16 intermediate disappears, so it must have no other use.
#include "passes/fold_casts.h"

#include "ir/onnx_types.h"
#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

bool rankIs(const ir::TensorInfo& t, size_t rank) { return t.rank_known && t.shape.size() == rank; }

//! `p` as a FusedMatMul writing `to`, or false when it has no such form.
bool foldedForm(const ir::Graph& graph, const ir::Node& p, DataType to, ir::Node& fused) {
  if (p.outputs.size() != 1 || p.inputs.size() < 2 || p.inputs[0] == ir::kAbsent || p.inputs[1] == ir::kAbsent)
    return false;
  const ir::TensorInfo& a = graph.tensors[p.inputs[0]];
  const ir::TensorInfo& b = graph.tensors[p.inputs[1]];
  fused = p;
  if (p.op == "FusedMatMul" && p.domain == "kiln") {
    if (p.attrs.has("output_type")) return false;
  } else if (p.op == "MatMul" && p.domain.empty()) {
    if (p.inputs.size() != 2 || !a.rank_known || a.shape.size() < 2 || !rankIs(b, 2)) return false;
    fused.attrs = ir::Attributes{};
    fused.attrs.set("trans_b", int64_t{0});
    fused.attrs.set("alpha", 1.0f);
    fused.attrs.set("activation", std::string("none"));
  } else if (p.op == "Gemm" && p.domain.empty()) {
    if (p.attrs.i("transA", 0) != 0 || !rankIs(a, 2) || !rankIs(b, 2)) return false;
    const bool trans_b = p.attrs.i("transB", 0) != 0;
    const int64_t n = trans_b ? b.shape[0] : b.shape[1];
    fused.inputs.resize(2);
    if (p.inputs.size() > 2 && p.inputs[2] != ir::kAbsent && p.attrs.f("beta", 1.0f) != 0.0f) {
      // Only C = a [N] row, added as it is, is FusedMatMul's bias.
      const ir::TensorInfo& c = graph.tensors[p.inputs[2]];
      if (p.attrs.f("beta", 1.0f) != 1.0f || !rankIs(c, 1) || !ir::isKnown(n) || c.shape[0] != n) return false;
      fused.inputs.push_back(p.inputs[2]);
    }
    fused.attrs = ir::Attributes{};
    fused.attrs.set("trans_b", int64_t{trans_b ? 1 : 0});
    fused.attrs.set("alpha", p.attrs.f("alpha", 1.0f));
    fused.attrs.set("activation", std::string("none"));
  } else {
    return false;
  }
  fused.op = "FusedMatMul";
  fused.domain = "kiln";
  fused.attrs.set("output_type", ir::toOnnxType(to));
  fused.attrs.owner = fused.describe();
  return true;
}

}  // namespace

bool castFolds(DataType from, DataType to) {
  return to == DataType::kFLOAT && (from == DataType::kHALF || from == DataType::kBF16);
}

int foldCasts(ir::Graph& graph, const std::set<std::string>& keep, const std::set<std::string>& refused,
              std::vector<bool>& host, std::vector<int>* origin) {
  const std::vector<int> producer = producers(graph);
  const std::vector<int> uses = useCounts(graph);
  std::vector<bool> is_output(graph.tensors.size(), false);
  for (int id : graph.outputs) is_output[id] = true;
  std::vector<bool> erase(graph.nodes.size(), false);
  int folded = 0;
  for (size_t c = 0; c < graph.nodes.size(); ++c) {
    const ir::Node& cast = graph.nodes[c];
    if (cast.op != "Cast" || !cast.domain.empty() || host[c] || cast.inputs.size() != 1 || cast.outputs.size() != 1)
      continue;
    const int t = cast.inputs[0], u = cast.outputs[0];
    if (t == ir::kAbsent || u == ir::kAbsent) continue;
    const ir::TensorInfo& in = graph.tensors[t];
    if (!castFolds(in.type, graph.tensors[u].type)) continue;
    // The intermediate disappears: the Cast must be its only reader.
    if (uses[t] != 1 || is_output[t] || keep.count(in.name)) continue;
    const int p = producer[t];
    if (p < 0 || host[p] || erase[p] || refused.count(graph.nodes[p].name)) continue;
    ir::Node fused;
    if (!foldedForm(graph, graph.nodes[p], graph.tensors[u].type, fused)) continue;
    fused.outputs = {u};
    graph.nodes[p] = std::move(fused);
    erase[c] = true;
    ++folded;
  }
  if (folded == 0) return 0;
  std::vector<ir::Node> nodes;
  std::vector<bool> kept_host;
  std::vector<int> kept_origin;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (erase[n]) continue;
    nodes.push_back(std::move(graph.nodes[n]));
    kept_host.push_back(host[n]);
    if (origin) kept_origin.push_back((*origin)[n]);
  }
  graph.nodes = std::move(nodes);
  host = std::move(kept_host);
  if (origin) *origin = std::move(kept_origin);
  return folded;
}

}  // namespace kiln::passes
