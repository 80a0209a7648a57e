// Reduced precision: every float32 tensor computed on the device becomes float16 or bfloat16.
// Graph inputs and outputs keep their type (Cast layers convert at the boundary); weights are
// converted by Cast nodes in the weight program, so refit still takes float32 weights; values
// computed on the host from shapes stay float32 and are cast where device layers read them.
#pragma once

#include <vector>

#include "kiln/types.h"

#include "ir/graph.h"

namespace kiln::passes {

//! `precision` gives each node's (same indices as graph.nodes): kFLOAT leaves a node in
//! float32, kHALF / kBF16 reduce it. `host` marks the nodes evaluated on the host (they stay
//! float32); it is updated as Cast nodes are inserted. Where a node reads a float tensor computed in another
//! precision, a Cast is placed once per tensor and precision, right after its producer.
//! `origin`, when given, is set to each node's index before the conversion (-1 for a Cast it placed).
void convertFloatPrecision(ir::Graph& graph, const std::vector<DataType>& precision, std::vector<bool>& host,
                           std::vector<int>* origin = nullptr);

//! Inputs that stay float32 whatever the node's precision: coordinates and scales that are not
//! data (Resize's roi and scales) and additive attention masks.
bool keepsFloat32(const ir::Node& node, size_t input);

}  // namespace kiln::passes
