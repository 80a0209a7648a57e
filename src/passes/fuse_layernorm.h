// LayerNormalization written out: older exporters (ONNX opsets before 17, where the op does not
// exist) spell nn.LayerNorm as ReduceMean -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt ->
// Div, then Mul by the scale and Add of the bias. The pass makes it the one LayerNormalization
// layer that kiln's kernels run in a single pass over each row.
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Rewrites every decomposed LayerNorm over trailing axes whose intermediates nothing else
//! reads (and none is kept as a debug tensor), with constant epsilon, scale and bias. Returns
//! the count.
int fuseDecomposedLayerNorm(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
