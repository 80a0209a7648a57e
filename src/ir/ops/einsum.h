// The parsed form of an Einsum equation, shared by its shape rule and its kernels.
#pragma once

#include <string>
#include <vector>

#include "ir/tensor.h"

namespace kiln::ir {

//! An equation with every ellipsis expanded. Labels are small integers: the letters come
//! first (by character code), then one label per broadcast ("...") dimension.
struct EinsumEquation {
  int num_labels = 0;
  std::vector<std::vector<int>> inputs;  //!< per input: the label of each dimension
  std::vector<int> output;               //!< the label of each output dimension
};

//! Parses `equation` for inputs of the given ranks (explicit "ij,jk->ik" or implicit "ij,jk"
//! form, spaces ignored, "..." allowed). Throws kiln::Error(kInvalidModel) with `owner` in
//! the message when the equation is malformed or does not match the ranks.
EinsumEquation parseEinsum(const std::string& equation, const std::vector<int64_t>& ranks, const std::string& owner);

//! The size of every label given the inputs' shapes: equal dims must agree; broadcast dims
//! may be 1. Unknown dims (< 0) propagate. Throws kInvalidModel naming `owner` on a mismatch.
std::vector<int64_t> einsumLabelDims(const EinsumEquation& eq, const std::vector<Shape>& shapes,
                                     const std::string& owner);

}  // namespace kiln::ir
