// Sliding-window geometry shared by the convolution and pooling operators: their shape rules
// (ir/ops/conv.cpp, pool.cpp) and their reference kernels resolve kernel size, strides,
// dilations, auto_pad and ceil_mode into explicit pads and output sizes here, once, the same way.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

//! One sliding window over the spatial dims (all but N and C) of an input.
struct Window {
  std::vector<int64_t> kernel;      //!< kernel extent per spatial dim (undilated)
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;  //!< resolved (auto_pad applied); 0 where the input dim is unknown
  std::vector<int64_t> pads_end;
  std::vector<int64_t> out;         //!< output spatial dims; kUnknownDim where not computable
  size_t rank() const { return kernel.size(); }
};

//! Resolves a Conv/Pool window over `in_spatial` (dims may be unknown) from the node's
//! strides, dilations, pads, auto_pad and (when `allow_ceil`) ceil_mode attributes. Throws
//! kInvalidModel naming attrs.owner for inconsistent attributes or an empty output.
Window resolveWindow(const Attributes& attrs, const Shape& in_spatial, std::vector<int64_t> kernel,
                     bool allow_ceil);

//! ConvTranspose geometry: `kernel` (spatial extent of W), input spatial dims; applies
//! output_padding, output_shape and auto_pad as in ONNX ConvTranspose. out[i] is unknown
//! where in_spatial[i] is unknown (and output_shape does not give it).
struct TransposedWindow {
  Window window;                        //!< pads/out of the transposed convolution
  std::vector<int64_t> output_padding;
};
TransposedWindow resolveTransposedWindow(const Attributes& attrs, const Shape& in_spatial,
                                         std::vector<int64_t> kernel);

}  // namespace kiln::ir
