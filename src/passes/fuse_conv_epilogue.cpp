// Convolution epilogue fusion. A match starts at Conv(X, W[, B]) (X of rank 3 or 4: a 1-D or
// 2-D convolution, which every backend's Conv tactics also run as FusedConv; float32, float16
// or bfloat16), then absorbs, in this order and each at most once:
//   1. Add(Y, b) / Add(b, Y) when the Conv has no bias, b a constant of Y's type broadcasting
//      along the channel axis only: [C, 1, ...] or [1, C, 1, ...] ([C, 1, 1] / [1, C, 1, 1] for
//      a 2-D convolution); it becomes B through a Reshape to [C] in the weight program;
//   2. Add(Y, R) / Add(R, Y), R computed (not constant) of Y's type with exactly Y's shape, dim
//      by dim (known and equal, or the same symbol);
//   3. an activation: Relu; Clip whose min / max are absent or scalar constants; Sigmoid;
//      HardSwish; SiLU as exporters write it, Mul(x, Sigmoid(x)) in either order; HardSwish as
//      Mul(x, HardSigmoid(x)) with HardSigmoid's alpha 1/6 and beta 1/2 (1e-4 relative).
// The order is the op's: act(conv + B + R). An activation before the residual Add ends the
// match at the activation (the Add stays). Every absorbed intermediate has exactly one use
// (SiLU's x two: the Sigmoid and the Mul), is no graph output and is not kept (debug tensors).
// A start that absorbs nothing is left alone. The fused layer takes the place of the last node
// it absorbs, where every input it reads is already computed, and the Conv's name plus what it
// absorbed ("conv3+bn3+residual+relu"; "+bias" where it took a bias Add).
#include "passes/fuse_conv_epilogue.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "ir/ops/conv_epilogue.h"
#include "passes/pattern.h"
#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

//! What one match collected.
struct Match {
  int start = -1;
  int bias = ir::kAbsent;      //!< the Conv's B, or the constant of a bias Add
  bool bias_add = false;       //!< bias came from an Add: reshape it to [C]
  int residual = ir::kAbsent;  //!< R
  ir::ConvEpilogue act;
  int y = ir::kAbsent;     //!< the output so far
  std::vector<int> nodes;  //!< absorbed nodes, the start included
  std::string what;        //!< "+bias+residual+relu" for the fused layer's name
};

bool takesType(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }

class Matcher : public PatternGraph {
 public:
  using PatternGraph::PatternGraph;

  //! The match starting at node `s`, or false.
  bool match(int s, Match& m) {
    if (!start(s, m)) return false;
    absorbBias(m);
    absorbResidual(m);
    absorbActivation(m);
    if (m.nodes.size() < 2) return false;
    for (int n : m.nodes) take(n);
    return true;
  }

 private:
  bool start(int s, Match& m) const {
    const ir::Node& n = node(s);
    if (n.op != "Conv" || !n.domain.empty() || n.outputs.size() != 1 || n.inputs.size() < 2 || n.inputs.size() > 3)
      return false;
    const int x = n.inputs[0], w = n.inputs[1], y = out(s);
    if (x == ir::kAbsent || w == ir::kAbsent || y == ir::kAbsent) return false;
    const ir::TensorInfo &tx = info(x), &tw = info(w), &ty = info(y);
    if (!takesType(tx.type) || tw.type != tx.type || ty.type != tx.type) return false;
    if (!tx.rank_known || !ty.rank_known || (tx.shape.size() != 3 && tx.shape.size() != 4)) return false;
    if (ty.shape.size() != tx.shape.size()) return false;
    m.start = s;
    m.y = y;
    m.nodes = {s};
    if (n.inputs.size() > 2) m.bias = n.inputs[2];
    return true;
  }

  //! A constant of Y's type that broadcasts along Y's channel axis only: its dims, aligned to
  //! Y's from the right, are 1 except the channel's, which is C (known).
  bool isChannelBias(int b, const Match& m) const {
    const ir::TensorInfo& t = info(b);
    const ir::Shape& y = info(m.y).shape;
    if (!t.value || t.type != info(m.y).type || t.shape.size() > y.size() || t.shape.size() + 1 < y.size())
      return false;
    const int64_t channels = y[1];
    if (!ir::isKnown(channels)) return false;
    const size_t channel_axis = 1 - (y.size() - t.shape.size());  // 0 or 1
    for (size_t d = 0; d < t.shape.size(); ++d)
      if (t.shape[d] != (d == channel_axis ? channels : 1)) return false;
    return true;
  }

  void absorbBias(Match& m) {
    if (m.bias != ir::kAbsent) return;
    const int add = soleConsumer(m.y);
    if (!isOp(add, "Add", 2)) return;
    const int b = other(add, m.y);
    if (b == ir::kAbsent || !isChannelBias(b, m)) return;
    m.bias = b;
    m.bias_add = true;
    m.y = out(add);
    m.nodes.push_back(add);
    m.what += "+bias";
  }

  void absorbResidual(Match& m) {
    const int add = soleConsumer(m.y);
    if (!isOp(add, "Add", 2)) return;
    const int r = other(add, m.y);
    if (r == ir::kAbsent || info(r).value || info(r).type != info(m.y).type || !info(r).rank_known) return;
    const ir::Shape &rs = info(r).shape, &ys = info(m.y).shape;
    if (rs.size() != ys.size()) return;
    for (size_t d = 0; d < ys.size(); ++d)
      if (!sameDim(rs[d], ys[d])) return;
    m.residual = r;
    m.y = out(add);
    m.nodes.push_back(add);
    m.what += "+residual";
  }

  //! A Clip bound: absent (the infinity `absent`), or a one-element constant.
  bool clipBound(const ir::Node& clip, size_t i, float absent, float& bound) const {
    if (clip.inputs.size() <= i || clip.inputs[i] == ir::kAbsent) {
      bound = absent;
      return true;
    }
    const ir::TensorInfo& t = info(clip.inputs[i]);
    if (!t.value || t.value->numel() != 1) return false;
    bound = static_cast<float>(t.value->at(0));
    return true;
  }

  void absorbActivation(Match& m) {
    const int x = m.y;
    if (!removable(x)) return;
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (const int c = soleConsumer(x); c >= 0) {
      const ir::Node& n = node(c);
      if (isOp(c, "Relu", 1)) return takeActivation(m, ir::ConvActivation::kRelu, {c});
      if (isOp(c, "Sigmoid", 1)) return takeActivation(m, ir::ConvActivation::kSigmoid, {c});
      if (isOp(c, "HardSwish", 1)) return takeActivation(m, ir::ConvActivation::kHardSwish, {c});
      if (n.op == "Clip" && n.domain.empty() && n.inputs.size() <= 3 && n.inputs[0] == x && n.outputs.size() == 1 &&
          out(c) != ir::kAbsent) {
        float lo = 0, hi = 0;
        if (!clipBound(n, 1, -kInf, lo) || !clipBound(n, 2, kInf, hi)) return;
        m.act.min = lo;
        m.act.max = hi;
        return takeActivation(m, ir::ConvActivation::kClip, {c});
      }
      return;
    }
    // x * f(x): x is read twice, by f and by the Mul, and by nothing else.
    if (uses(x) != 2 || consumers(x).size() != 2) return;
    for (int f : consumers(x)) {
      if (taken(f)) continue;
      ir::ConvActivation act;
      if (isOp(f, "Sigmoid", 1)) {
        act = ir::ConvActivation::kSilu;
      } else if (isOp(f, "HardSigmoid", 1) && near(node(f).attrs.f("alpha", 0.2f), 1.0 / 6.0) &&
                 near(node(f).attrs.f("beta", 0.5f), 0.5)) {
        act = ir::ConvActivation::kHardSwish;
      } else {
        continue;
      }
      const int mul = soleConsumer(out(f));
      if (!isOp(mul, "Mul", 2) || other(mul, out(f)) != x) continue;
      return takeActivation(m, act, {f, mul});
    }
  }

  void takeActivation(Match& m, ir::ConvActivation act, const std::vector<int>& nodes) {
    m.act.activation = act;
    m.y = out(*std::max_element(nodes.begin(), nodes.end()));  // the formula's result comes last
    m.nodes.insert(m.nodes.end(), nodes.begin(), nodes.end());
    m.what += std::string("+") + ir::activationName(act);
  }
};

}  // namespace

int fuseConvEpilogue(ir::Graph& graph, const std::set<std::string>& keep) {
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
    const ir::Node& conv = graph.nodes[m.start];
    const std::string base = conv.name + m.what;
    int bias = m.bias;
    if (m.bias_add) {
      const int64_t channels = graph.tensors[conv.outputs[0]].shape[1];
      const int shape =
          graph.addConstant(base + "/bias_shape", ir::Tensor::fromInt64({1}, std::vector<int64_t>{channels}));
      bias = addWeightProgramNode(graph, base, "Reshape", {bias, shape});
    }
    ir::Node fused;
    fused.name = base;
    fused.op = "FusedConv";
    fused.domain = "kiln";
    fused.inputs = {conv.inputs[0], conv.inputs[1], bias, m.residual};
    while (fused.inputs.back() == ir::kAbsent) fused.inputs.pop_back();
    fused.outputs = {m.y};
    for (const auto& [name, value] : conv.attrs.all()) fused.attrs.set(name, value);
    fused.attrs.set("activation", std::string(ir::activationName(m.act.activation)));
    if (m.act.activation == ir::ConvActivation::kClip) {
      fused.attrs.set("min", m.act.min);
      fused.attrs.set("max", m.act.max);
    }
    fused.attrs.owner = fused.describe();
    for (int n : m.nodes) erase[n] = true;
    erase[last] = false;
    graph.nodes[last] = std::move(fused);
  }
  eraseNodes(graph, erase);
  return static_cast<int>(matches.size());
}

}  // namespace kiln::passes
