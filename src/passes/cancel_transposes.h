// Transpose pairs: Transpose(Transpose(x, p1), p2) is one Transpose of x with the composed
// permutation, or no layer at all when that is the identity (the readers take x itself).
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Rewrites every Transpose whose input is another Transpose's output that nothing else reads
//! (and is not a graph output or kept). Returns the number of pairs rewritten.
int cancelTransposes(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
