// Launchers of the DFT and STFT kernels (spectral.cu), called by the "cuda.spectral" provider
// (cuda_spectral.cpp): direct sums in double, one thread per output bin, as the reference.
// Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! DFT along the middle axis of x [outer, in_len, inner, in_c] into y [outer, out_len, inner,
//! out_c] (c = 1 real, 2 complex); the transform has length n; `onesided_inverse` rebuilds the
//! spectrum from its first half by Hermitian symmetry.
struct DftProblem {
  int64_t outer = 1, inner = 1, in_len = 0, out_len = 0, in_c = 1, out_c = 2, n = 0;
  bool inverse = false, onesided_inverse = false;
};
void launchDft(DataType type, const DftProblem& p, const void* x, void* y, cudaStream_t stream);

//! STFT of x [batch, length, in_c] into y [batch, frames, bins, 2], frames of `frame` samples
//! every `step`, multiplied by `window` (frame values of `type`; null: all ones).
struct StftProblem {
  int64_t batch = 0, length = 0, in_c = 1, frames = 0, bins = 0, step = 1, frame = 0;
};
void launchStft(DataType type, const StftProblem& p, const void* x, const void* window, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
