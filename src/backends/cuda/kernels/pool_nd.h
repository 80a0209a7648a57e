// Launcher of the general windowed pooling kernel (pool_nd.cu), called by the "cuda.pool_nd"
// provider (cuda_pool_nd.cpp): MaxPool (with its Indices), AveragePool and LpPool over 1 to 3
// spatial dims, any strides, dilations, pads and ceil_mode, in every type the reference pools.
// The window is resolved on the host. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

enum class PoolNdKind : int { kMax, kAverage, kLp };

//! One pooling problem: `planes` (N * C) planes of in[0..nd) pixels into out[0..nd).
struct PoolNdGeometry {
  static constexpr int kMaxSpatial = 3;
  int nd = 0;
  int64_t planes = 0;
  int64_t in[kMaxSpatial] = {}, out[kMaxSpatial] = {}, kernel[kMaxSpatial] = {};
  int64_t strides[kMaxSpatial] = {}, dilations[kMaxSpatial] = {};
  int64_t pads_begin[kMaxSpatial] = {}, pads_end[kMaxSpatial] = {};
  bool count_include_pad = false;  //!< AveragePool
  bool column_major = false;       //!< MaxPool's storage_order 1 (for Indices)
  double p = 2.0;                  //!< LpPool
};

//! y (and `indices`, when not null, for MaxPool) from x of `type`; one thread per output,
//! arithmetic in double as the reference.
void launchPoolNd(PoolNdKind kind, DataType type, const PoolNdGeometry& g, const void* x, void* y, int64_t* indices,
                  cudaStream_t stream);

}  // namespace kiln::cuda
