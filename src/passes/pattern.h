// What the fusion passes match patterns on: who writes and who reads each tensor, how often it
// is used, which tensors may disappear (no graph output, no debug tensor), and which nodes an
// earlier match already took. Built once per pass run; the graph must not change meanwhile.
#pragma once

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

//! |value - want| within 1e-4 of |want|: constants as exporters write them (0.16666667 for 1/6).
inline bool near(double value, double want) { return std::abs(value - want) <= 1e-4 * std::abs(want); }

//! Two dims that are the same fact: equal, and not unknown (a number or the same symbol).
inline bool sameDim(int64_t a, int64_t b) { return a == b && a != ir::kUnknownDim; }

class PatternGraph {
 public:
  PatternGraph(const ir::Graph& graph, const std::set<std::string>& keep);

  const ir::TensorInfo& info(int t) const { return g_.tensors[t]; }
  const ir::Node& node(int n) const { return g_.nodes[n]; }
  //! The first output of node `n` (kAbsent when it has none).
  int out(int n) const { return node(n).outputs.empty() ? ir::kAbsent : node(n).outputs[0]; }
  //! The node writing `t`, or -1 (graph inputs, constants).
  int producer(int t) const { return producer_[t]; }
  //! Node inputs reading `t`, plus one per graph output slot it fills.
  int uses(int t) const { return uses_[t]; }
  //! The nodes reading `t` (a node reading it twice is listed twice).
  const std::vector<int>& consumers(int t) const { return consumers_[t]; }

  //! A tensor a fusion may make disappear: no graph output, not kept.
  bool removable(int t) const { return !output_[t] && !keep_.count(info(t).name); }
  //! The one node reading `t` when `t` has exactly one use, may disappear and its reader is
  //! not taken; else -1.
  int soleConsumer(int t) const;
  //! Node `n` (>= 0) is an ai.onnx `op` with `inputs` inputs and one present output.
  bool isOp(int n, const char* op, size_t inputs) const;
  //! The input of binary node `n` that is not `t`; kAbsent when `t` is not one of them or both.
  int other(int n, int t) const;
  //! `t` is a constant with one element near `want`.
  bool scalarConstant(int t, double want) const;
  //! Binary `op` node `n` reading `t` and a scalar constant near `value` (either order).
  bool withConstant(int n, const char* op, int t, double value) const {
    return isOp(n, op, 2) && scalarConstant(other(n, t), value);
  }

  bool taken(int n) const { return taken_[n]; }
  void take(int n) { taken_[n] = true; }

 private:
  const ir::Graph& g_;
  const std::set<std::string>& keep_;
  std::vector<int> producer_, uses_;
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> output_, taken_;
};

//! Appends `op(inputs...)` to the graph's weight program (so that refit recomputes it from the
//! original weights), evaluates it now, and returns its output tensor id. Node names start
//! with `base`.
int addWeightProgramNode(ir::Graph& graph, const std::string& base, const std::string& op, std::vector<int> inputs,
                         ir::Attributes attrs = {});

}  // namespace kiln::passes
