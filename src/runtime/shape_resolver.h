// Concrete shapes for one set of input dims: shape rules run node by node; host layers (the
// Shape -> Gather -> Concat chains) are evaluated on the CPU. Used by the builder (at each
// profile's min/opt/max) and by every context when its input shapes change.
#pragma once

#include <functional>
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

//! Lifetime-based placement: each buffer lives from `first` to `last` (layer indices, inclusive)
//! and gets an offset such that buffers alive at the same time do not overlap. Returns the
//! total size; offsets are aligned to `alignment`.
struct BufferRequest {
  size_t size = 0;
  int first = 0;
  int last = 0;
};
size_t planMemory(const std::vector<BufferRequest>& requests, std::vector<uint64_t>& offsets, size_t alignment = 256);

//! Per tensor: the tensor whose memory holds it: itself, or for the output of a view layer
//! the holder of the view's input (views of views follow through).
std::vector<int> aliasRoots(const std::vector<plan::Layer>& layers, size_t tensor_count);

//! The activation buffers of `layers`: one for each tensor a device layer (not a view) writes
//! for which `wanted(tensor)` holds, of `bytes(tensor)`, alive from its producer to the last
//! layer that reads it or a view of it (to the end for `debug` tensors and their roots).
struct ActivationRequests {
  std::vector<BufferRequest> requests;
  std::vector<int> tensor;  //!< per request
};
ActivationRequests activationRequests(const std::vector<plan::Layer>& layers, size_t tensor_count,
                                      const std::vector<int>& debug, const std::function<bool(int)>& wanted,
                                      const std::function<size_t(int)>& bytes);

}  // namespace kiln::runtime
