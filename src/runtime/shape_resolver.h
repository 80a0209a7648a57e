// Concrete shapes for one set of input dims: shape rules run node by node; host layers (the
// Shape -> Gather -> Concat chains) are evaluated on the CPU. Used by the builder (at each
// profile's min/opt/max) and by every context when its input shapes change.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "plan/plan.h"

namespace kiln::runtime {

//! Values of shape inputs by name: host tensors of the input's type and shape.
using InputValues = std::map<std::string, std::shared_ptr<const ir::Tensor>>;

//! `tensors` starts as a copy of graph.tensors; on return every tensor the layers touch has a
//! concrete shape, and constants, shape inputs (from `input_values`) and host-layer outputs
//! have values. Throws kInvalidArgument naming the tensor when a shape cannot be resolved or
//! is inconsistent.
void resolveShapes(const ir::Graph& graph, const std::vector<plan::Layer>& layers,
                   const std::map<std::string, Dims>& input_dims, std::vector<ir::TensorInfo>& tensors,
                   const InputValues& input_values = {});

//! The host tensor of shape input `input` holding `values` (row-major) at `dims`, in the
//! input's type. Throws kInvalidArgument naming the input when the count does not fit `dims`.
std::shared_ptr<const ir::Tensor> shapeInputTensor(const ir::TensorInfo& input, const Dims& dims,
                                                   const std::vector<int64_t>& values);

//! The values of every shape input of `profile` (its opt values) as tensors.
InputValues profileInputValues(const ir::Graph& graph, const plan::Profile& profile);

//! Builds the LayerView of `node` from resolved tensors (pointers into `tensors`): inputs
//! with a value in `graph` are constants, those valued only in `tensors` are host values.
backend::LayerView makeLayerView(const ir::Node& node, const ir::Graph& graph, const std::vector<ir::TensorInfo>& tensors);

//! Byte size of a resolved tensor.
size_t tensorBytes(const ir::TensorInfo& t);

}  // namespace kiln::runtime
