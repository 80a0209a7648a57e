// Shape inputs: graph inputs whose *values* determine shapes (TensorRT's shape tensors), such
// as a Reshape's target, a Slice's starts, a Reduce's axes or TopK's k fed by the user. An
// engine can only run them when each optimization profile fixes their values
// (OptimizationProfile::setShapeValues); the builder then evaluates them on the host like the
// Shape -> Gather -> Concat chains.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct ShapeInput {
  int tensor = -1;     //!< the graph input's tensor id
  std::string reader;  //!< the first node whose output shape needs its values, for messages
};

//! The integer (int32/int64) graph inputs of `graph` (shape-inferred) whose values some shape
//! rule asks for while they are unknown, followed back through foldable nodes (a Cast, a
//! Concat, an Add of such inputs counts; a Shape or Size, which read only shapes, does not).
//! In graph-input order. `other_types`, when given, receives the graph inputs of other types
//! (a float Resize scales, say) found the same way: shapes need their values too, but they
//! cannot be shape inputs.
std::vector<ShapeInput> findShapeInputs(const ir::Graph& graph, std::vector<ShapeInput>* other_types = nullptr);

}  // namespace kiln::passes
