// The graph optimizer: an ordered list of named passes (see pipeline.cpp for the order and why).
// Each pass is a function over the graph that returns how many rewrites it made; the builder
// runs the passes whose level its optimization level reaches, the build report lists each with
// its count, and `kiln build --dump-graph DIR` writes the graph after each one.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

//! What every pass may rely on.
struct PassContext {
  //! Tensors that must survive unfused and readable (debug tensors): no pass may remove them
  //! or fold their producer into another layer.
  const std::set<std::string>& keep;
  int opt_level = 3;
};

struct Pass {
  const char* name;
  //! The lowest builder optimization level (0..5) that runs the pass.
  int min_level;
  std::function<int(ir::Graph&, const PassContext&)> run;
};

//! Every pass, in the order the builder runs them.
const std::vector<Pass>& pipeline();

struct PassResult {
  std::string name;
  int changes = 0;
  double ms = 0;
  bool ran = false;  //!< false: below its level
};

//! Runs the pipeline on `graph`. With `dump_dir` set, writes "NN_<pass>.txt" there after each
//! pass (and "00_input.txt" first): one line per node with its inputs' and outputs' shapes.
std::vector<PassResult> runPipeline(ir::Graph& graph, const PassContext& context, const std::string& dump_dir = "");

//! The graph as text, one node per line (what --dump-graph writes).
std::string graphText(const ir::Graph& graph);

// ---- helpers shared by the passes ---------------------------------------------------------

//! Per tensor: the index of the node that writes it, or -1 (inputs, constants).
std::vector<int> producers(const ir::Graph& graph);
//! Per tensor: how many node inputs read it, plus one for each graph output slot it fills.
std::vector<int> useCounts(const ir::Graph& graph);
//! Drops the nodes marked in `erase` (same indices as graph.nodes), then dead code.
void eraseNodes(ir::Graph& graph, const std::vector<bool>& erase);

}  // namespace kiln::passes
