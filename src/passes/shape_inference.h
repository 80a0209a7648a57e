// Shape inference over a whole graph, with constant folding: a node whose inputs are all
// known values is evaluated on the CPU reference backend and its outputs become constants.
// This is what resolves the Shape -> Gather -> Concat -> Reshape chains exporters emit. Shape
// and Size of a tensor whose dims are all known fold too, even when its data is a run-time
// input (so do the Size -> Sub -> ConstantOfShape chains of ONNX's expanded functions).
#pragma once

#include "ir/graph.h"

namespace kiln::passes {

struct InferenceOptions {
  bool fold_constants = true;
  //! Folded outputs larger than this stay computed at run time (keeps plans small), unless
  //! every input is an initializer-derived constant.
  size_t max_folded_bytes = size_t{64} << 20;
};

//! Infers every tensor's type and shape in node order; folds constants. Throws kiln::Error
//! naming the node on inconsistent shapes.
void inferShapes(ir::Graph& graph, const InferenceOptions& options = {});

//! inferShapes for one node, whose inputs' producers have been inferred already (the importer
//! infers each node right after normalizing it, so that a normalize step sees its input types).
void inferNode(ir::Graph& graph, const ir::Node& node, const InferenceOptions& options = {});

//! Removes folded nodes (their outputs are now constants) and dead code.
void removeFoldedNodes(ir::Graph& graph);

}  // namespace kiln::passes
