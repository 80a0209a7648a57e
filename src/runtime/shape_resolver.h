// Concrete shapes for one set of input dims: shape rules run node by node; host layers (the
// Shape -> Gather -> Concat chains) are evaluated on the CPU. Used by the builder (at each
// profile's min/opt/max) and by every context when its input shapes change.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "plan/plan.h"

namespace kiln::runtime {

//! `tensors` starts as a copy of graph.tensors; on return every tensor the layers touch has a
//! concrete shape, and constants and host-layer outputs have values. Throws kInvalidArgument
//! naming the tensor when a shape cannot be resolved or is inconsistent.
void resolveShapes(const ir::Graph& graph, const std::vector<plan::Layer>& layers,
                   const std::map<std::string, Dims>& input_dims, std::vector<ir::TensorInfo>& tensors);

//! Builds the LayerView of `node` from resolved tensors (pointers into `tensors`): inputs
//! with a value in `graph` are constants, those valued only in `tensors` are host values.
backend::LayerView makeLayerView(const ir::Node& node, const ir::Graph& graph, const std::vector<ir::TensorInfo>& tensors);

//! Byte size of a resolved tensor.
size_t tensorBytes(const ir::TensorInfo& t);

}  // namespace kiln::runtime
