// Launcher of CausalConvWithState's kernel (causal_conv.cu), called by the "cuda.causal_conv"
// provider (cuda_causal_conv.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! Depthwise causal convolution of x [batch, channels, length] with w [channels, 1, k]: each
//! (b, c) row is past (k - 1 values; zeros when `past` is null) followed by x; y[t] =
//! act(bias[c] + sum_j w[j] row[t + j]) (SiLU when `silu`), present (may be null) the row's
//! last k - 1 values. `bias` may be null. Arithmetic in double, as the reference.
void launchCausalConv(DataType type, const void* x, const void* w, const void* bias, const void* past, void* y,
                      void* present, int64_t batch, int64_t channels, int64_t length, int64_t k, bool silu,
                      cudaStream_t stream);

}  // namespace kiln::cuda
