// Helpers for kernels that broadcast their inputs numpy-style.
#pragma once

#include <vector>

#include "ir/tensor.h"

namespace kiln::cpu {

//! For each output element (row-major over `out_shape`), the flat index into an input of
//! shape `in_shape` broadcast to `out_shape`.
std::vector<int64_t> broadcastIndex(const ir::Shape& in_shape, const ir::Shape& out_shape);

}  // namespace kiln::cpu
