// Conv followed by an inference BatchNormalization becomes one Conv whose weight and bias
// are computed from both, by nodes added to the weight program (so refit recomputes them).
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Folds every Conv -> BatchNormalization pair whose BN inputs and conv weights are constants
//! and whose conv output feeds only the BN (and is not a debug tensor). Returns the count.
int foldBatchNormIntoConv(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
