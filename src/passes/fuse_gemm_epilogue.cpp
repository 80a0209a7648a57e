// GEMM epilogue fusion. A match starts at MatMul(A, W) (W a 2-D constant, A of rank >= 2) or
// Gemm(A, W[, C]) (transA = 0; transB and alpha carry over; a constant row C [N] / [1, N]
// becomes the bias, scaled by beta in the weight program when beta != 1), then absorbs, in
// this order and each at most once:
//   1. GPT-2's sandwich Reshape([..., K] -> [-1, K]) -> Gemm -> Reshape([-1, N] -> [..., N]):
//      A becomes the reshape's input and Y the second reshape's output, when the leading dims
//      of both match dim by dim (known or the same symbol); when the first Reshape also merges
//      known trailing dims into K ([b,s,heads,size] -> [-1, heads*size], after attention), it
//      stays as a view retargeted to [b,s,K] (Reshape with [0, 0, K]);
//   2. Add(Y, b) / Add(b, Y), b a constant [N] or [1, ..., 1, N] of no higher rank than Y;
//   3. Relu, Gelu (approximate "none" / "tanh"), or the GELU formulas exporters write:
//        erf:  Div(x, sqrt 2) (or Mul(x, 1/sqrt 2)) -> Erf -> Add 1, then 0.5 * x * that in
//              any association (dynamo: Mul(0.5, .) -> Mul(x, .); legacy: Mul(x, .) -> Mul(., 0.5));
//        tanh: Pow(x, 3) -> Mul 0.044715 -> Add(x, .) -> Mul sqrt(2/pi) -> Tanh -> Add 1, then
//              0.5 * x * that (GPT-2: Mul(x, 0.5) and Mul(half_x, .));
//      constants are checked to 1e-4 relative, and every use of x must be inside the formula;
//   4. Add(Y, R) / Add(R, Y), R computed (not constant) with exactly Y's shape.
// Every absorbed intermediate has exactly one use, is no graph output and is not kept (debug
// tensors). A start that absorbs nothing is left alone. The fused layer takes the place of the
// last node it absorbs, where every input it reads is already computed.
#include "passes/fuse_gemm_epilogue.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "passes/pattern.h"
#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

//! What one match collected.
struct Match {
  int start = -1;
  int a = ir::kAbsent, w = ir::kAbsent, bias = ir::kAbsent, residual = ir::kAbsent;
  bool trans_b = false;
  float alpha = 1.0f, beta = 1.0f;  //!< beta scales a bias that came from Gemm's C
  std::string activation = "none";
  int64_t n = 0, k = 0;
  int y = ir::kAbsent;     //!< the output so far
  std::vector<int> nodes;  //!< absorbed nodes, the start included
  //! When the first Reshape of a sandwich also merges trailing dims ([b,s,2,32] -> [-1,64]),
  //! it stays, retargeted to keep the leading dims ([b,s,64], a view): its node index and the
  //! number of leading dims it keeps; -1 when the Reshape is absorbed whole.
  int a_reshape = -1;
  size_t a_leading = 0;
  std::string what;        //!< "+bias+relu..." for the fused layer's name
};

class Matcher : public PatternGraph {
 public:
  using PatternGraph::PatternGraph;

  //! The match starting at node `s`, or false.
  bool match(int s, Match& m) {
    if (!start(s, m)) return false;
    absorbSandwich(m);
    absorbBias(m);
    absorbActivation(m);
    absorbResidual(m);
    if (m.nodes.size() < 2) return false;
    for (int n : m.nodes) take(n);
    return true;
  }

 private:
  bool start(int s, Match& m) const {
    const ir::Node& n = node(s);
    if (!n.domain.empty() || n.outputs.size() != 1 || n.inputs.size() < 2) return false;
    const bool gemm = n.op == "Gemm";
    if (!gemm && !(n.op == "MatMul" && n.inputs.size() == 2)) return false;
    const int a = n.inputs[0], w = n.inputs[1];
    if (a == ir::kAbsent || w == ir::kAbsent || out(s) == ir::kAbsent) return false;
    const ir::TensorInfo &ta = info(a), &tw = info(w);
    if (!isFloatingPoint(ta.type) || tw.type != ta.type || !ta.rank_known || !tw.value || tw.shape.size() != 2) return false;
    if (ta.shape.size() < 2 || (gemm && ta.shape.size() != 2)) return false;
    m.start = s;
    m.a = a;
    m.w = w;
    m.y = out(s);
    m.nodes = {s};
    if (gemm) {
      if (n.attrs.i("transA", 0) != 0) return false;
      m.trans_b = n.attrs.i("transB", 0) != 0;
      m.alpha = n.attrs.f("alpha", 1.0f);
      m.beta = n.attrs.f("beta", 1.0f);
    }
    m.k = m.trans_b ? tw.shape[1] : tw.shape[0];
    m.n = m.trans_b ? tw.shape[0] : tw.shape[1];
    // An unknown K is fine: MatMul/Gemm already require A's last dim to equal W's K, and so does
    // FusedMatMul's shape rule, checked again at the build's concrete shapes.
    if (ir::isKnown(ta.shape.back()) && ta.shape.back() != m.k) return false;
    if (gemm && n.inputs.size() > 2 && n.inputs[2] != ir::kAbsent && m.beta != 0.0f) {
      // Only a constant row C is a bias; any other C stays a Gemm.
      if (!isRowBias(n.inputs[2], m, 2)) return false;
      m.bias = n.inputs[2];
    }
    return true;
  }

  //! A constant of Y's type, shaped [N] or [1, ..., 1, N], of rank at most `max_rank`.
  bool isRowBias(int b, const Match& m, size_t max_rank) const {
    const ir::TensorInfo& t = info(b);
    if (!t.value || t.type != info(m.a).type || t.shape.empty() || t.shape.size() > max_rank) return false;
    if (t.shape.back() != m.n) return false;
    return std::all_of(t.shape.begin(), t.shape.end() - 1, [](int64_t d) { return d == 1; });
  }

  void absorbSandwich(Match& m) {
    if (node(m.start).op != "Gemm") return;
    const int r1 = producer(m.a);
    if (!isOp(r1, "Reshape", 2) || taken(r1) || uses(m.a) != 1 || !removable(m.a)) return;
    const int x = node(r1).inputs[0];
    const ir::TensorInfo& tx = info(x);
    if (!tx.rank_known || tx.shape.size() < 2) return;
    // The leading dims the GEMM's rows come from: x = [leading..., trailing...] where the
    // trailing dims (known) multiply to K; usually one ([b,s,K]), or several after attention
    // ([b,s,heads,head_size]).
    size_t leading = tx.shape.size() - 1;
    if (!ir::isKnown(tx.shape[leading])) return;
    int64_t trailing = tx.shape[leading];
    while (leading > 1 && trailing < m.k && ir::isKnown(tx.shape[leading - 1])) trailing *= tx.shape[--leading];
    if (m.k <= 0 || trailing != m.k) return;
    const int r2 = soleConsumer(m.y);
    if (!isOp(r2, "Reshape", 2) || node(r2).inputs[0] != m.y) return;
    const ir::TensorInfo& ty = info(out(r2));
    if (!ty.rank_known || ty.shape.size() != leading + 1 || !sameDim(ty.shape.back(), m.n)) return;
    for (size_t d = 0; d < leading; ++d)
      if (!sameDim(tx.shape[d], ty.shape[d])) return;
    m.y = out(r2);
    m.nodes.push_back(r2);
    if (leading + 1 == tx.shape.size()) {
      m.a = x;
      m.nodes.push_back(r1);
    } else {
      m.a_reshape = r1;  // m.a stays its output, retargeted to [leading..., K] when rewritten
      m.a_leading = leading;
    }
    m.what += "+reshapes";
  }

  void absorbBias(Match& m) {
    if (m.bias != ir::kAbsent) return;
    const int add = soleConsumer(m.y);
    if (!isOp(add, "Add", 2)) return;
    const int b = other(add, m.y);
    if (b == ir::kAbsent || !isRowBias(b, m, info(m.y).shape.size())) return;
    m.bias = b;
    m.y = out(add);
    m.nodes.push_back(add);
    m.what += "+bias";
  }

  void absorbActivation(Match& m) {
    const int x = m.y;
    if (!removable(x)) return;
    if (const int c = soleConsumer(x); c >= 0) {
      if (isOp(c, "Relu", 1)) return takeActivation(m, "relu", {c});
      if (isOp(c, "Gelu", 1)) {
        const std::string approximate = node(c).attrs.s("approximate", "none");
        if (approximate == "none") return takeActivation(m, "gelu_erf", {c});
        if (approximate == "tanh") return takeActivation(m, "gelu_tanh", {c});
      }
      return;
    }
    std::vector<int> nodes;
    if (geluErf(x, nodes)) return takeActivation(m, "gelu_erf", nodes);
    nodes.clear();
    if (geluTanh(x, nodes)) return takeActivation(m, "gelu_tanh", nodes);
  }

  void takeActivation(Match& m, const char* activation, const std::vector<int>& nodes) {
    m.activation = activation;
    int last = nodes.front();
    for (int n : nodes) last = std::max(last, n);  // the formula's result comes last in node order
    m.y = out(last);
    m.nodes.insert(m.nodes.end(), nodes.begin(), nodes.end());
    m.what += std::string("+") + activation;
  }

  //! Div(x, sqrt 2) or Mul(x, 1/sqrt 2) -> Erf -> Add 1 -> 0.5 * x * that.
  bool geluErf(int x, std::vector<int>& nodes) const {
    for (int d : consumers(x)) {
      if (taken(d)) continue;
      const bool div = isOp(d, "Div", 2) && node(d).inputs[0] == x && scalarConstant(node(d).inputs[1], kSqrt2);
      if (!div && !withConstant(d, "Mul", x, 1.0 / kSqrt2)) continue;
      const int e = soleConsumer(out(d));
      if (!isOp(e, "Erf", 1)) continue;
      const int one = soleConsumer(out(e));
      if (!withConstant(one, "Add", out(e), 1.0)) continue;
      nodes = {d, e, one};
      if (halfXTimes(x, out(one), nodes)) return true;
    }
    return false;
  }

  //! Pow(x, 3) -> Mul 0.044715 -> Add(x, .) -> Mul sqrt(2/pi) -> Tanh -> Add 1 -> 0.5 * x * that.
  bool geluTanh(int x, std::vector<int>& nodes) const {
    for (int p : consumers(x)) {
      if (taken(p) || !isOp(p, "Pow", 2) || node(p).inputs[0] != x || !scalarConstant(node(p).inputs[1], 3.0)) continue;
      const int cube = soleConsumer(out(p));
      if (!withConstant(cube, "Mul", out(p), 0.044715)) continue;
      const int sum = soleConsumer(out(cube));
      if (!isOp(sum, "Add", 2) || other(sum, out(cube)) != x) continue;
      const int scale = soleConsumer(out(sum));
      if (!withConstant(scale, "Mul", out(sum), kSqrt2OverPi)) continue;
      const int th = soleConsumer(out(scale));
      if (!isOp(th, "Tanh", 1)) continue;
      const int one = soleConsumer(out(th));
      if (!withConstant(one, "Add", out(th), 1.0)) continue;
      nodes = {p, cube, sum, scale, th, one};
      if (halfXTimes(x, out(one), nodes)) return true;
    }
    return false;
  }

  //! 0.5 * x * f as Mul(Mul(x, 0.5), f), Mul(x, Mul(f, 0.5)) or Mul(Mul(x, f), 0.5), appended to
  //! `nodes` (which holds the nodes computing f); then checks that every use of x is in `nodes`.
  bool halfXTimes(int x, int f, std::vector<int>& nodes) const {
    const int c = soleConsumer(f);
    if (c < 0 || !isOp(c, "Mul", 2)) return false;
    const int second = other(c, f);
    if (second == ir::kAbsent) return false;
    if (scalarConstant(second, 0.5)) {  // Mul(f, 0.5) -> Mul(x, .)
      const int y = soleConsumer(out(c));
      if (!isOp(y, "Mul", 2) || other(y, out(c)) != x) return false;
      nodes.push_back(c);
      nodes.push_back(y);
    } else if (second == x) {  // Mul(x, f) -> Mul(., 0.5)
      const int y = soleConsumer(out(c));
      if (!withConstant(y, "Mul", out(c), 0.5)) return false;
      nodes.push_back(c);
      nodes.push_back(y);
    } else {  // Mul(half_x, f), half_x = Mul(x, 0.5)
      const int h = producer(second);
      if (h < 0 || taken(h) || !withConstant(h, "Mul", x, 0.5) || soleConsumer(second) != c) return false;
      nodes.push_back(h);
      nodes.push_back(c);
    }
    // Every use of x is one of the formula's inputs: x itself then disappears with the fusion.
    int reads = 0;
    for (int n : nodes)
      for (int id : node(n).inputs) reads += id == x ? 1 : 0;
    return reads == uses(x);
  }

  void absorbResidual(Match& m) {
    const int add = soleConsumer(m.y);
    if (!isOp(add, "Add", 2)) return;
    const int r = other(add, m.y);
    if (r == ir::kAbsent || info(r).value || info(r).type != info(m.y).type || !info(r).rank_known) return;
    const ir::Shape &rs = info(r).shape, &ys = info(m.y).shape;
    if (!info(m.y).rank_known || rs.size() != ys.size()) return;
    for (size_t d = 0; d < ys.size(); ++d)
      if (!sameDim(rs[d], ys[d])) return;
    m.residual = r;
    m.y = out(add);
    m.nodes.push_back(add);
    m.what += "+residual";
  }
};

//! The bias as the fused layer reads it: [N], times beta; through the weight program when it
//! needs either, so that refit recomputes it from the original constant.
int biasInput(ir::Graph& graph, const Match& m, const std::string& base) {
  int bias = m.bias;
  if (graph.tensors[bias].shape.size() != 1) {
    const int shape = graph.addConstant(base + "/bias_shape", ir::Tensor::fromInt64({1}, std::vector<int64_t>{m.n}));
    bias = addWeightProgramNode(graph, base, "Reshape", {bias, shape});
  }
  if (m.beta != 1.0f) {
    const DataType type = graph.tensors[bias].type;
    const int beta = graph.addConstant(base + "/beta", ir::Tensor::fromDouble(type, {}, std::vector<double>{m.beta}));
    bias = addWeightProgramNode(graph, base, "Mul", {bias, beta});
  }
  return bias;
}

}  // namespace

int fuseGemmEpilogue(ir::Graph& graph, const std::set<std::string>& keep) {
  std::vector<Match> matches;
  {
    Matcher matcher(graph, keep);
    for (size_t s = 0; s < graph.nodes.size(); ++s) {
      Match m;
      if (matcher.match(static_cast<int>(s), m)) matches.push_back(std::move(m));
    }
  }
  if (matches.empty()) return 0;
  std::vector<bool> erase(graph.nodes.size(), false);
  for (const Match& m : matches) {
    const int last = *std::max_element(m.nodes.begin(), m.nodes.end());
    const std::string base = graph.nodes[m.start].name + m.what;
    if (m.a_reshape >= 0) {
      // Reshape(x, [0, ..., 0, K]): zeros copy x's leading dims (symbols included), so the
      // Reshape is a view of x with the GEMM's K as its last dim.
      ir::Node& r = graph.nodes[m.a_reshape];
      std::vector<int64_t> target(m.a_leading, 0);
      target.push_back(m.k);
      r.inputs[1] = graph.addConstant(r.name + "/rows", ir::Tensor::fromInt64({static_cast<int64_t>(target.size())}, target));
      r.attrs.erase("allowzero");
      ir::TensorInfo& a = graph.tensors[m.a];
      const ir::Shape x_shape = graph.tensors[r.inputs[0]].shape;
      a.shape.assign(x_shape.begin(), x_shape.begin() + static_cast<std::ptrdiff_t>(m.a_leading));
      a.shape.push_back(m.k);
    }
    ir::Node fused;
    fused.name = base;
    fused.op = "FusedMatMul";
    fused.domain = "kiln";
    fused.inputs = {m.a, m.w, m.bias == ir::kAbsent ? ir::kAbsent : biasInput(graph, m, base), m.residual};
    while (fused.inputs.back() == ir::kAbsent) fused.inputs.pop_back();
    fused.outputs = {m.y};
    fused.attrs.set("trans_b", int64_t{m.trans_b ? 1 : 0});
    fused.attrs.set("alpha", m.alpha);
    fused.attrs.set("activation", m.activation);
    fused.attrs.owner = fused.describe();
    for (int n : m.nodes) erase[n] = true;
    erase[last] = false;
    graph.nodes[last] = std::move(fused);
  }
  eraseNodes(graph, erase);
  return static_cast<int>(matches.size());
}

}  // namespace kiln::passes
