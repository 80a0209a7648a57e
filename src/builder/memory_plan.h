// The activation memory plan, shared by the builder (which plans each profile at its max
// shapes and records the result in the plan) and every context (which plans again for the
// shapes it is given when it sizes its memory to them): which tensors share memory (views and
// in-place layers), each buffer's lifetime, the placement, and the lower bound no placement
// can beat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "plan/plan.h"

namespace kiln::memory {

//! Lifetime-based placement: each buffer lives from `first` to `last` (layer indices, inclusive)
//! and gets an offset such that buffers alive at the same time do not overlap. Returns the
//! total size; offsets are aligned to `alignment`.
struct BufferRequest {
  size_t size = 0;
  int first = 0;
  int last = 0;
};
size_t planMemory(const std::vector<BufferRequest>& requests, std::vector<uint64_t>& offsets, size_t alignment = 256);

//! The largest total of buffers alive at one layer, each rounded up to `alignment` as
//! planMemory places it: no placement of `requests` is smaller (planMemory's total is >= it).
size_t peakLiveBytes(const std::vector<BufferRequest>& requests, size_t alignment = 256);

//! Per tensor: the tensor whose memory holds it: itself; for the output of a view layer the
//! holder of the view's input; for output 0 of a layer that runs in place in `profile`
//! (TacticChoice::inplace_input) the holder of that input. Chains follow through.
std::vector<int> aliasRoots(const std::vector<plan::Layer>& layers, size_t tensor_count, size_t profile);

//! The activation buffers of `layers` in `profile`: one for each tensor a device layer writes
//! that holds its own memory (not a view's or in-place layer's output) and for which
//! `wanted(tensor)` holds, of `bytes(tensor)`, alive from its producer to the last layer that
//! reads it or a tensor sharing its memory (to the end for `debug` tensors and their holders).
struct ActivationRequests {
  std::vector<BufferRequest> requests;
  std::vector<int> tensor;  //!< per request
};
ActivationRequests activationRequests(const std::vector<plan::Layer>& layers, size_t tensor_count, size_t profile,
                                      const std::vector<int>& debug, const std::function<bool(int)>& wanted,
                                      const std::function<size_t(int)>& bytes);

//! Decides, for `profile`, which layers write output 0 over one of their inputs, and records
//! it in layers[l].tactics[profile].inplace_input (-1 elsewhere). A layer runs in place over
//! input k when all of these hold:
//!   - its tactic allows it (k is in TacticConfig::inplace_inputs; opt-in per tactic);
//!   - output 0 and input k have the same type and the same shape in `graph` at every size
//!     (known dims or the same symbols), so the same bytes at every shape of every profile;
//!   - output 0 is an activation (`wanted`, not a graph output);
//!   - input k's memory belongs to an activation written by a device layer (not a graph input
//!     or output, constant or host value), and nothing reads that memory after this layer (no
//!     later reader of the input, of a view of it or of the tensor it views; not kept for
//!     debugging);
//!   - no other input of the layer shares that memory.
//! Returns the number of layers that run in place.
int planInPlace(std::vector<plan::Layer>& layers, size_t profile, const ir::Graph& graph, const std::vector<int>& debug,
                const std::function<bool(int)>& wanted);

}  // namespace kiln::memory
