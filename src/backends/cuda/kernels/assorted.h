// Launchers of assorted single-purpose kernels (assorted.cu), called by the "cuda.assorted"
// provider (cuda_assorted.cpp): AffineGrid and CenterCropPad. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! AffineGrid: grid [batch, sizes..., r] = theta [batch, r, r + 1] times the homogeneous
//! normalized position of each point (innermost axis first), r = 2 or 3.
struct AffineGridProblem {
  int r = 2;
  int64_t batch = 0, sizes[3] = {};
  bool align_corners = false;
};
void launchAffineGrid(DataType type, const AffineGridProblem& p, const void* theta, void* grid, cudaStream_t stream);

//! CenterCropPad: out index o along axis d reads in index o + offset[d], zero outside.
struct CropPadProblem {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t in[kMaxRank] = {}, out[kMaxRank] = {}, offset[kMaxRank] = {};
};
void launchCenterCropPad(size_t element_size, const CropPadProblem& p, const void* in, void* out, cudaStream_t stream);

}  // namespace kiln::cuda
