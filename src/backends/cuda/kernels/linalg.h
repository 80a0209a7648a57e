// Launchers of small linear-algebra and sequence kernels (linalg.cu), called by the
// "cuda.linalg" provider (cuda_linalg.cpp): Det, ReverseSequence and TensorScatter. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

constexpr int64_t kDetMaxOrder = 16;

//! Det of `count` n x n matrices (n <= kDetMaxOrder), one thread per matrix: Gaussian
//! elimination with partial pivoting in double, as the reference; float, half, bfloat16 or double.
void launchDet(DataType type, const void* x, void* y, int64_t count, int64_t n, cudaStream_t stream);

//! ReverseSequence over x whose first two dims are (time, batch) (time_major) or (batch,
//! time), `inner` elements each: row (t, b) takes row (lens[b] - 1 - t, b) for t < lens[b].
//! A length outside [0, steps] is clamped to that range (the reference rejects it).
void launchReverseSequence(size_t element_size, const void* x, const int64_t* lens, void* y, int64_t steps,
                           int64_t batch, int64_t inner, bool time_major, cudaStream_t stream);

//! TensorScatter: y = past with update written along the cache axis, x viewed as [outer,
//! extent, inner] and update as [outer, update_extent, inner]; prefix o writes at
//! write_indices[o / per_batch] (0 when null), modulo extent when circular (the last write
//! wins), positions outside the cache skipped when linear (the reference rejects them).
void launchTensorScatter(size_t element_size, const void* past, const void* update, const int64_t* write_indices,
                         void* y, int64_t outer, int64_t extent, int64_t update_extent, int64_t inner,
                         int64_t per_batch, bool circular, cudaStream_t stream);

}  // namespace kiln::cuda
