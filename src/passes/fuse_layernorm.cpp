#include "passes/fuse_layernorm.h"

#include <algorithm>
#include <vector>

#include "passes/pipeline.h"

namespace kiln::passes {

namespace {

class Matcher {
 public:
  Matcher(const ir::Graph& g, const std::set<std::string>& keep)
      : g_(g), keep_(keep), uses_(useCounts(g)), consumers_(g.tensors.size()), output_(g.tensors.size(), false) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (int id : g.nodes[i].inputs)
        if (id != ir::kAbsent) consumers_[id].push_back(static_cast<int>(i));
    for (int id : g.outputs) output_[id] = true;
  }

  struct Match {
    int x = ir::kAbsent, scale = ir::kAbsent, bias = ir::kAbsent, y = ir::kAbsent;
    int64_t axis = 0;
    float epsilon = 0;
    std::vector<int> nodes;  //!< every node of the pattern; the last one is replaced
  };

  //! The pattern starting at ReduceMean node `r`.
  bool match(int r, Match& m) const {
    const ir::Node& mean = g_.nodes[r];
    if (!is(r, "ReduceMean", 2) || mean.attrs.i("keepdims", 1) != 1) return false;
    const int x = mean.inputs[0];
    const ir::TensorInfo& tx = g_.tensors[x];
    if (!tx.rank_known || tx.shape.empty() || !isFloatingPoint(tx.type)) return false;
    const int64_t rank = static_cast<int64_t>(tx.shape.size());
    const int64_t axis = trailingAxis(mean.inputs[1], rank);
    if (axis < 0) return false;
    // d = x - mean, read by the Pow and the Div only.
    const int sub = only(out(r));
    if (!is(sub, "Sub", 2) || g_.nodes[sub].inputs[0] != x || g_.nodes[sub].inputs[1] != out(r)) return false;
    const int d = out(sub);
    if (uses_[d] != 2 || !removable(d) || consumers_[d].size() != 2) return false;
    int pow = consumers_[d][0], div = consumers_[d][1];
    if (g_.nodes[pow].op != "Pow") std::swap(pow, div);
    if (!is(pow, "Pow", 2) || g_.nodes[pow].inputs[0] != d || !scalar(g_.nodes[pow].inputs[1], 2.0)) return false;
    if (!is(div, "Div", 2) || g_.nodes[div].inputs[0] != d) return false;
    const int var = only(out(pow));
    if (!is(var, "ReduceMean", 2) || g_.nodes[var].attrs.i("keepdims", 1) != 1 ||
        trailingAxis(g_.nodes[var].inputs[1], rank) != axis)
      return false;
    const int add = only(out(var));
    if (!is(add, "Add", 2)) return false;
    const int eps = g_.nodes[add].inputs[0] == out(var) ? g_.nodes[add].inputs[1] : g_.nodes[add].inputs[0];
    if (!scalarValue(eps, m.epsilon) || !(m.epsilon >= 0)) return false;
    const int sqrt = only(out(add));
    if (!is(sqrt, "Sqrt", 1) || only(out(sqrt)) != div || g_.nodes[div].inputs[1] != out(sqrt)) return false;
    m.x = x;
    m.axis = axis;
    m.y = out(div);
    m.nodes = {r, sub, pow, var, add, sqrt, div};
    // Optional Mul by the scale, then Add of the bias (constants over the normalized dims).
    if (const int mul = only(m.y); is(mul, "Mul", 2)) {
      const int s = other(mul, m.y);
      if (affine(s, tx, axis)) {
        m.scale = s;
        m.y = out(mul);
        m.nodes.push_back(mul);
        if (const int badd = only(m.y); is(badd, "Add", 2)) {
          const int b = other(badd, m.y);
          if (affine(b, tx, axis)) {
            m.bias = b;
            m.y = out(badd);
            m.nodes.push_back(badd);
          }
        }
      }
    }
    return true;
  }

 private:
  int out(int n) const { return g_.nodes[n].outputs.empty() ? ir::kAbsent : g_.nodes[n].outputs[0]; }
  bool removable(int t) const { return !output_[t] && !keep_.count(g_.tensors[t].name); }
  bool is(int n, const char* op, size_t inputs) const {
    if (n < 0) return false;
    const ir::Node& node = g_.nodes[n];
    return node.op == op && node.domain.empty() && node.inputs.size() == inputs && node.outputs.size() == 1 &&
           node.outputs[0] != ir::kAbsent &&
           std::none_of(node.inputs.begin(), node.inputs.end(), [](int id) { return id == ir::kAbsent; });
  }
  //! The one node reading `t`, when `t` has no other use and may disappear; else -1.
  int only(int t) const {
    if (t == ir::kAbsent || uses_[t] != 1 || !removable(t) || consumers_[t].size() != 1) return -1;
    return consumers_[t][0];
  }
  int other(int n, int t) const {
    const auto& in = g_.nodes[n].inputs;
    if (in[0] == t && in[1] != t) return in[1];
    if (in[1] == t && in[0] != t) return in[0];
    return ir::kAbsent;
  }
  bool scalarValue(int t, float& v) const {
    if (t == ir::kAbsent || !g_.tensors[t].value || g_.tensors[t].value->numel() != 1 ||
        !isFloatingPoint(g_.tensors[t].type))
      return false;
    v = static_cast<float>(g_.tensors[t].value->at(0));
    return true;
  }
  bool scalar(int t, double want) const {
    float v = 0;
    return scalarValue(t, v) && v == want;
  }
  //! The first axis of a constant axes input that names exactly the trailing axes k..rank-1; else -1.
  int64_t trailingAxis(int axes, int64_t rank) const {
    if (axes == ir::kAbsent || !g_.tensors[axes].value) return -1;
    std::vector<int64_t> a = g_.tensors[axes].value->toInt64();
    if (a.empty()) return -1;
    for (int64_t& v : a) v = v < 0 ? v + rank : v;
    std::sort(a.begin(), a.end());
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != rank - static_cast<int64_t>(a.size()) + static_cast<int64_t>(i)) return -1;
    return a.front();
  }
  //! A constant of x's type whose shape is a suffix of the normalized dims x[axis:] (all known),
  //! as LayerNormalization's Scale and B broadcast.
  bool affine(int t, const ir::TensorInfo& x, int64_t axis) const {
    if (t == ir::kAbsent || !g_.tensors[t].value) return false;
    const ir::TensorInfo& c = g_.tensors[t];
    const size_t normalized = x.shape.size() - static_cast<size_t>(axis);
    if (c.type != x.type || c.shape.empty() || c.shape.size() > normalized) return false;
    for (size_t i = 0; i < c.shape.size(); ++i) {
      const int64_t want = x.shape[x.shape.size() - c.shape.size() + i];
      if (!ir::isKnown(want) || c.shape[i] != want) return false;
    }
    return true;
  }

  const ir::Graph& g_;
  const std::set<std::string>& keep_;
  std::vector<int> uses_;
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> output_;
};

}  // namespace

int fuseDecomposedLayerNorm(ir::Graph& graph, const std::set<std::string>& keep) {
  std::vector<Matcher::Match> matches;
  {
    Matcher matcher(graph, keep);
    std::vector<bool> taken(graph.nodes.size(), false);
    for (size_t r = 0; r < graph.nodes.size(); ++r) {
      Matcher::Match m;
      if (taken[r] || !matcher.match(static_cast<int>(r), m)) continue;
      if (std::any_of(m.nodes.begin(), m.nodes.end(), [&](int n) { return taken[n]; })) continue;
      for (int n : m.nodes) taken[n] = true;
      matches.push_back(std::move(m));
    }
  }
  std::vector<bool> erase(graph.nodes.size(), false);
  for (const Matcher::Match& m : matches) {
    const ir::TensorInfo& tx = graph.tensors[m.x];
    const ir::Shape normalized(tx.shape.begin() + m.axis, tx.shape.end());
    const std::string base = graph.nodes[m.nodes.front()].name + "/layer_norm";
    int scale = m.scale, bias = m.bias;
    if (scale == ir::kAbsent) {  // y = (x - mean) / std: a scale of ones
      std::vector<double> ones(static_cast<size_t>(volume(normalized)), 1.0);
      scale = graph.addConstant(base + "/ones", ir::Tensor::fromDouble(tx.type, normalized, ones));
    }
    ir::Node ln;
    ln.name = base;
    ln.op = "LayerNormalization";
    ln.inputs = {m.x, scale};
    if (bias != ir::kAbsent) ln.inputs.push_back(bias);
    ln.outputs = {m.y};
    ln.attrs.set("axis", m.axis);
    ln.attrs.set("epsilon", m.epsilon);
    ln.attrs.owner = ln.describe();
    const int last = *std::max_element(m.nodes.begin(), m.nodes.end());
    for (int n : m.nodes) erase[n] = true;
    erase[last] = false;
    graph.nodes[last] = std::move(ln);
  }
  if (!matches.empty()) eraseNodes(graph, erase);
  return static_cast<int>(matches.size());
}

}  // namespace kiln::passes
