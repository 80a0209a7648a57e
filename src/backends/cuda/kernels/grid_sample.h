// Launcher of GridSample's kernel (grid_sample.cu), called by the "cuda.grid_sample" provider
// (cuda_grid_sample.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

enum class GridPadding : int { kZeros, kBorder, kReflection };
enum class GridMode : int { kLinear, kNearest, kCubic };

//! X [batch, channels, in...] sampled at grid [batch, out..., r] (innermost axis first) into
//! Y [batch, channels, out...]; r = 1 to 3 spatial dims.
struct GridSampleGeometry {
  static constexpr int kMaxSpatial = 3;
  int r = 0;
  int64_t batch = 0, channels = 0, points = 0;
  int64_t in[kMaxSpatial] = {};
  GridMode mode = GridMode::kLinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;
};

//! One thread per output point (all channels), arithmetic in double as the reference.
void launchGridSample(DataType x_type, DataType grid_type, const GridSampleGeometry& g, const void* x, const void* grid,
                      void* y, cudaStream_t stream);

}  // namespace kiln::cuda
