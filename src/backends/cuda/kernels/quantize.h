// Launchers of the linear quantization kernels (quantize.cu), called by the "cuda.quantize"
// provider (cuda_quantize.cpp): QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear,
// per tensor, per axis and blocked, as the CPU reference computes them. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! Which scale (and zero point) element applies to element i of x: per tensor (dim 0), per
//! axis, or blocked along the axis.
struct ScaleMap {
  int64_t dim = 0;  //!< 0: per tensor
  int64_t scale_dim = 1, block = 1, inner = 1;
  bool per_axis = false;
};

//! y[i] = saturate(round_half_even(x[i] / scale[s]) + zero[s]); the division is rounded as
//! `precision` (float, half, bfloat16 or double) computes it. `zero` may be null (0).
void launchQuantize(DataType x_type, DataType scale_type, DataType precision, DataType y_type, const void* x,
                    const void* scale, const void* zero, void* y, int64_t n, const ScaleMap& map, cudaStream_t stream);

//! y[i] = (x[i] - zero[s]) * scale[s] in float (double for a double y). `zero` may be null.
void launchDequantize(DataType x_type, DataType scale_type, DataType y_type, const void* x, const void* scale,
                      const void* zero, void* y, int64_t n, const ScaleMap& map, cudaStream_t stream);

//! DynamicQuantizeLinear of n floats: y (uint8), its scale (one float) and zero point (one
//! uint8), in float32 as the operator's definition; one block finds the range first.
void launchDynamicQuantize(const float* x, uint8_t* y, float* scale, uint8_t* zero, int64_t n, cudaStream_t stream);

}  // namespace kiln::cuda
