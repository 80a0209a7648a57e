// Attention fusion. The chain is found from its Softmax outwards:
//
//   scores = MatMul(Q', Kt')       Q' = Q or Mul(Q, c); Kt' = Kt or Mul(Kt, c)   (dynamo: c = sqrt(scale))
//   scores = Div(scores, c) | Mul(scores, c)                                     (optional; eager form)
//   scores = Add(scores, mask)                                                   (optional, either side)
//   P = Softmax(scores, last axis) [then Where(IsNaN(P), 0, P), the guard]
//   O = MatMul(P, V)
//
// with Kt = Transpose(K, perm 0,1,3,2), Transpose(K_bshd, perm 0,2,3,1), or the dynamo form
// Reshape(Transpose(Reshape(K, [-1,S,D]), perm 0,2,1), [B,H,D,S]). Shape facts (batch and head
// agreement, the contraction and key lengths, the mask broadcasting to the scores) are proved
// by exact equality of dims (known values or the same symbol); an unknown dim proves nothing.
//
// After the fusion, head transposes (perm 0,2,1,3) that feed Q, K or V, or read the output,
// become layouts ("bshd") when nothing else reads them. That runs after dead code is gone, so
// a transpose whose only other reader was the Shape of a reshape the fusion removed (dynamo's
// K dance) folds too.
#include "passes/fuse_attention.h"

#include <optional>
#include <vector>

#include "ir/ops/attention_geometry.h"
#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

using Ints = std::vector<int64_t>;

//! A dim that proves equality with another: the same value, and not unknown.
bool sameDim(int64_t a, int64_t b) { return a == b && a != ir::kUnknownDim; }

class AttentionMatcher {
 public:
  AttentionMatcher(ir::Graph& graph, const std::set<std::string>& keep)
      : g_(graph),
        keep_(keep),
        producer_(producers(graph)),
        uses_(useCounts(graph)),
        readers_(graph.tensors.size()),
        erase_(graph.nodes.size(), false) {
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      for (int id : g_.nodes[n].inputs)
        if (id != ir::kAbsent) readers_[id].push_back(static_cast<int>(n));
  }

  //! Tries to fuse the chain around the Softmax at node index `s`; returns true when it did.
  bool fuseAt(int s);
  const std::vector<bool>& erased() const { return erase_; }

 private:
  struct Match {
    std::vector<int> nodes;  //!< every node of the chain (the last one is replaced)
    int q = ir::kAbsent, k = ir::kAbsent, v = ir::kAbsent, mask = ir::kAbsent;
    int raw_scores = ir::kAbsent;  //!< MatMul(Q', Kt')'s output
    bool k_bshd = false, guard = false;
    double scale = 1.0;
  };

  //! The node of `op` (ai.onnx) writing `t`, not yet taken by another fusion; else -1.
  int producedBy(int t, const char* op) const {
    if (t == ir::kAbsent) return -1;
    const int p = producer_[t];
    if (p < 0 || erase_[p] || g_.nodes[p].op != op || !g_.nodes[p].domain.empty()) return -1;
    return p;
  }
  //! A tensor the fusion may remove: read by exactly `readers` node inputs (the chain's own),
  //! no graph output (useCounts counts those), not a debug tensor.
  bool internal(int t, int readers = 1) const {
    return uses_[t] == readers && static_cast<int>(readers_[t].size()) == readers && !keep_.count(g_.tensors[t].name);
  }
  const ir::Shape* rank4(int t) const {
    const ir::TensorInfo& info = g_.tensors[t];
    return info.rank_known && info.shape.size() == 4 ? &info.shape : nullptr;
  }
  //! The value of a one-element floating-point constant.
  std::optional<double> scalarConstant(int t) const {
    const auto& value = g_.tensors[t].value;
    if (!value || value->numel() != 1 || !isFloatingPoint(value->type())) return std::nullopt;
    return value->at(0);
  }
  Ints perm(int node) const { return g_.nodes[node].attrs.ints("perm", {}); }

  //! `t` = Mul(x, c) with a scalar constant c and an output shaped like x: returns the Mul's
  //! index and sets x and c.
  int scalarMul(int t, int& x, double& c) const;
  bool matchScores(int t, Match& m) const;
  bool matchKeyTranspose(int kt, Match& m) const;
  bool shapesAgree(const Match& m, int scores) const;

  ir::Graph& g_;
  const std::set<std::string>& keep_;
  std::vector<int> producer_, uses_;
  std::vector<std::vector<int>> readers_;
  std::vector<bool> erase_;
};

int AttentionMatcher::scalarMul(int t, int& x, double& c) const {
  const int mul = producedBy(t, "Mul");
  if (mul < 0 || g_.nodes[mul].inputs.size() != 2) return -1;
  for (int side = 0; side < 2; ++side) {
    const int other = g_.nodes[mul].inputs[1 - side];
    const std::optional<double> value = scalarConstant(g_.nodes[mul].inputs[side]);
    if (!value || scalarConstant(other)) continue;
    if (!g_.tensors[other].rank_known || g_.tensors[other].shape != g_.tensors[t].shape) return -1;
    x = other;
    c = *value;
    return mul;
  }
  return -1;
}

// scores (after the optional scaling) -> Q, K and the scale.
bool AttentionMatcher::matchScores(int t, Match& m) const {
  if (!internal(t)) return false;
  int x = ir::kAbsent;
  double c = 1.0;
  if (const int div = producedBy(t, "Div"); div >= 0) {
    const std::optional<double> d = scalarConstant(g_.nodes[div].inputs[1]);
    if (!d || *d == 0 || scalarConstant(g_.nodes[div].inputs[0])) return false;
    m.scale /= *d;
    m.nodes.push_back(div);
    t = g_.nodes[div].inputs[0];
    if (!internal(t)) return false;
  } else if (const int mul = scalarMul(t, x, c); mul >= 0 && producedBy(x, "MatMul") >= 0) {
    m.scale *= c;
    m.nodes.push_back(mul);
    t = x;
    if (!internal(t)) return false;
  }
  const int mm = producedBy(t, "MatMul");
  if (mm < 0) return false;
  m.nodes.push_back(mm);
  m.raw_scores = t;
  int a = g_.nodes[mm].inputs[0], b = g_.nodes[mm].inputs[1];
  // Q and Kt may each be scaled (dynamo splits the scale as sqrt(scale) on both sides).
  for (int* operand : {&a, &b})
    if (const int mul = scalarMul(*operand, x, c); mul >= 0 && internal(*operand)) {
      m.scale *= c;
      m.nodes.push_back(mul);
      *operand = x;
    }
  m.q = a;
  return matchKeyTranspose(b, m);
}

bool AttentionMatcher::matchKeyTranspose(int kt, Match& m) const {
  if (!internal(kt)) return false;
  if (const int tr = producedBy(kt, "Transpose"); tr >= 0) {
    const Ints p = perm(tr);
    if (p != Ints{0, 1, 3, 2} && p != Ints{0, 2, 3, 1}) return false;
    m.nodes.push_back(tr);
    m.k = g_.nodes[tr].inputs[0];
    m.k_bshd = p == Ints{0, 2, 3, 1};  // K stored [B,S,H,D]
    return true;
  }
  // Dynamo: Reshape(Transpose(Reshape(K, [-1,S,D]), perm 0,2,1), [B,H,D,S]).
  const int r2 = producedBy(kt, "Reshape");
  if (r2 < 0) return false;
  const int flat_t = g_.nodes[r2].inputs[0];
  const int tr = producedBy(flat_t, "Transpose");
  if (tr < 0 || !internal(flat_t) || perm(tr) != Ints{0, 2, 1}) return false;
  const int flat = g_.nodes[tr].inputs[0];
  const int r1 = producedBy(flat, "Reshape");
  if (r1 < 0 || !internal(flat)) return false;
  const int k = g_.nodes[r1].inputs[0];
  const ir::Shape* ks = rank4(k);
  const ir::Shape* kts = rank4(kt);
  const ir::TensorInfo& flat_info = g_.tensors[flat];
  if (!ks || !kts || !flat_info.rank_known || flat_info.shape.size() != 3) return false;
  // [X, S, D] keeps each (b, h) row block whole, as the volume is kept: X = B*H.
  if (!sameDim(flat_info.shape[1], (*ks)[2]) || !sameDim(flat_info.shape[2], (*ks)[3])) return false;
  const ir::Shape want = {(*ks)[0], (*ks)[1], (*ks)[3], (*ks)[2]};
  for (size_t d = 0; d < 4; ++d)
    if (!sameDim((*kts)[d], want[d])) return false;
  m.nodes.insert(m.nodes.end(), {r2, tr, r1});
  m.k = k;
  return true;
}

bool AttentionMatcher::shapesAgree(const Match& m, int scores) const {
  const ir::Shape *q = rank4(m.q), *k = rank4(m.k), *v = rank4(m.v);
  if (!q || !k || !v) return false;
  const ir::TensorInfo& qi = g_.tensors[m.q];
  // The types every backend runs the fused layer in (float64 stays unfused: no GPU tactic).
  if (qi.type != DataType::kFLOAT && qi.type != DataType::kHALF && qi.type != DataType::kBF16) return false;
  const auto kd = ir::attentionDims(*k, m.k_bshd);
  // Batch and heads equal on all three (MatMul would broadcast a 1 against them; the fused
  // layer does not), the contraction dims equal, the key lengths equal.
  if (!sameDim((*q)[0], kd[0]) || !sameDim((*q)[0], (*v)[0]) || !sameDim((*q)[1], kd[1]) || !sameDim((*q)[1], (*v)[1]))
    return false;
  if (!sameDim((*q)[3], kd[3]) || !sameDim(kd[2], (*v)[2])) return false;
  if (m.mask == ir::kAbsent) return true;
  const ir::TensorInfo& mask = g_.tensors[m.mask];
  if (!mask.rank_known || mask.shape.size() > 4 || mask.type != qi.type) return false;
  const ir::Shape full = {(*q)[0], (*q)[1], (*q)[2], kd[2]};
  // A mask dim broadcasts to the scores' when it is 1 or the same dim, or when the Add's output
  // dim is the scores' (ONNX broadcasting then leaves the mask's 1 or equal to it).
  const ir::TensorInfo& sum = g_.tensors[scores];
  const ir::TensorInfo& raw = g_.tensors[m.raw_scores];
  if (!sum.rank_known || sum.shape.size() != 4) return false;
  const bool raw_known = raw.rank_known && raw.shape.size() == 4;
  for (size_t i = 0; i < mask.shape.size(); ++i) {
    const size_t d = i + 4 - mask.shape.size();
    const int64_t dim = mask.shape[i];
    if (dim != 1 && !sameDim(dim, full[d]) && !(raw_known && sameDim(sum.shape[d], raw.shape[d]))) return false;
  }
  return true;
}

bool AttentionMatcher::fuseAt(int s) {
  const ir::Node& softmax = g_.nodes[s];
  if (softmax.op != "Softmax" || !softmax.domain.empty() || softmax.inputs.size() != 1 || softmax.outputs.size() != 1)
    return false;
  const int scores = softmax.inputs[0];
  if (!rank4(scores)) return false;
  int64_t axis = softmax.attrs.i("axis", g_.opset < 13 ? 1 : -1);
  if (axis < 0) axis += 4;
  if (axis != 3) return false;  // before opset 13 the op spans s[axis:], which is the last axis only here

  Match m;
  m.nodes.push_back(s);
  // P -> MatMul(P, V), or P -> Where(IsNaN(P), 0, P) -> MatMul(., V).
  const int p = softmax.outputs[0];
  int probs = p;
  if (internal(p, 2)) {
    int isnan = -1, where = -1;
    for (int r : readers_[p]) (g_.nodes[r].op == "IsNaN" ? isnan : where) = r;
    if (isnan < 0 || where < 0 || erase_[isnan] || erase_[where] || g_.nodes[where].op != "Where") return false;
    const ir::Node& w = g_.nodes[where];
    const int nan_mask = g_.nodes[isnan].outputs[0];
    const std::optional<double> zero = w.inputs.size() == 3 ? scalarConstant(w.inputs[1]) : std::nullopt;
    if (!internal(nan_mask) || w.inputs[0] != nan_mask || w.inputs[2] != p || !zero || *zero != 0.0) return false;
    if (g_.tensors[w.outputs[0]].shape != g_.tensors[p].shape) return false;
    m.nodes.insert(m.nodes.end(), {isnan, where});
    m.guard = true;
    probs = w.outputs[0];
  }
  if (!internal(probs)) return false;
  const int pv = readers_[probs][0];
  if (erase_[pv] || g_.nodes[pv].op != "MatMul" || !g_.nodes[pv].domain.empty() || g_.nodes[pv].inputs[0] != probs)
    return false;
  m.v = g_.nodes[pv].inputs[1];

  // scores <- Add(scaled, mask) | scaled
  if (const int add = producedBy(scores, "Add"); add >= 0) {
    if (!internal(scores)) return false;
    Match tried = m;
    bool found = false;
    for (int side = 0; side < 2 && !found; ++side) {
      tried = m;
      tried.nodes.push_back(add);
      tried.mask = g_.nodes[add].inputs[1 - side];
      found = matchScores(g_.nodes[add].inputs[side], tried) && shapesAgree(tried, scores);
    }
    if (!found) return false;
    m = std::move(tried);
  } else if (!matchScores(scores, m) || !shapesAgree(m, scores)) {
    return false;
  }
  for (int n : m.nodes)
    if (erase_[n]) return false;

  ir::Node fused;
  fused.name = softmax.name + "/fused_attention";
  fused.op = "FusedAttention";
  fused.domain = "kiln";
  fused.inputs = {m.q, m.k, m.v, m.mask};
  fused.outputs = g_.nodes[pv].outputs;
  fused.attrs.set("q_layout", std::string("bhsd"));
  fused.attrs.set("k_layout", std::string(m.k_bshd ? "bshd" : "bhsd"));
  fused.attrs.set("v_layout", std::string("bhsd"));
  fused.attrs.set("out_layout", std::string("bhsd"));
  fused.attrs.set("scale", static_cast<float>(m.scale));
  fused.attrs.set("causal", int64_t{0});
  fused.attrs.set("zero_masked_rows", int64_t{m.guard ? 1 : 0});
  fused.attrs.owner = fused.describe();
  for (int n : m.nodes) erase_[n] = true;
  g_.nodes[pv] = std::move(fused);  // in the place of the last step, after everything it reads
  return true;
}

//! Folds head transposes (perm 0,2,1,3) around FusedAttention nodes into their layouts.
void foldHeadTransposes(ir::Graph& graph, const std::set<std::string>& keep) {
  const std::vector<int> producer = producers(graph);
  const std::vector<int> uses = useCounts(graph);
  std::vector<int> reader(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int id : graph.nodes[n].inputs)
      if (id != ir::kAbsent) reader[id] = static_cast<int>(n);
  const Ints heads = {0, 2, 1, 3};
  auto isHeadTranspose = [&](int n) {
    return n >= 0 && graph.nodes[n].op == "Transpose" && graph.nodes[n].domain.empty() &&
           graph.nodes[n].attrs.ints("perm", {}) == heads;
  };
  std::vector<bool> erase(graph.nodes.size(), false);
  for (ir::Node& node : graph.nodes) {
    if (node.op != "FusedAttention" || node.domain != "kiln") continue;
    const char* layouts[3] = {"q_layout", "k_layout", "v_layout"};
    for (int i = 0; i < 3; ++i) {
      const int t = node.inputs[i];
      const int tr = producer[t];
      if (!isHeadTranspose(tr) || erase[tr] || uses[t] != 1 || keep.count(graph.tensors[t].name)) continue;
      if (node.attrs.s(layouts[i], "bhsd") != "bhsd") continue;
      node.inputs[i] = graph.nodes[tr].inputs[0];
      node.attrs.set(layouts[i], std::string("bshd"));
      erase[tr] = true;
    }
    const int out = node.outputs[0];
    const int tr = reader[out];
    if (tr < 0 || !isHeadTranspose(tr) || erase[tr] || uses[out] != 1 || keep.count(graph.tensors[out].name)) continue;
    if (node.attrs.s("out_layout", "bhsd") != "bhsd") continue;
    // The transpose's readers all come after it, so after this node: the order stays valid.
    node.outputs[0] = graph.nodes[tr].outputs[0];
    node.attrs.set("out_layout", std::string("bshd"));
    erase[tr] = true;
  }
  eraseNodes(graph, erase);
}

}  // namespace

int fuseAttention(ir::Graph& graph, const std::set<std::string>& keep) {
  AttentionMatcher matcher(graph, keep);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (matcher.fuseAt(static_cast<int>(n))) ++fused;
  if (!fused) return 0;
  eraseNodes(graph, matcher.erased());
  foldHeadTransposes(graph, keep);
  return fused;
}

}  // namespace kiln::passes
