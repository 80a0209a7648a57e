// Symbolic shape values: what a shape computation (Shape -> Slice/Gather -> Concat -> ...)
// holds, entry by entry, as known values and symbols ([batch, sequence, 12, 64]). Shape
// inference records them in TensorInfo::shape_value, so a Reshape or Expand whose target is
// computed at run time still gets symbolic output dims, and the optimizer can prove that, say,
// a Reshape only splits the last dim.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

//! Sets shape_value on the outputs of `node` (already shape-inferred) when its op and inputs
//! let the entries be known; leaves them unset otherwise.
void propagateShapeValue(const ir::Node& node, std::vector<ir::TensorInfo>& tensors);

}  // namespace kiln::passes
