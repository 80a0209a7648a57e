// Launchers of RMSNormalization and RotaryEmbedding in their general ONNX forms
// (transformer_ops.cu), called by the "cuda.transformer_ops" provider
// (cuda_transformer_ops.cpp). Arithmetic in double, as the reference. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! RMSNormalization of `rows` rows of `inner` values; scale broadcasts (right-aligned) to the
//! normalized dims `dims[0..rank)`, with `scale_strides` (0 along a broadcast dim).
struct RmsNormProblem {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {}, scale_strides[kMaxRank] = {};
  int64_t rows = 0, inner = 0;
  double epsilon = 1e-5;
};
void launchRmsNorm(DataType type, const RmsNormProblem& p, const void* x, const void* scale, void* y,
                   cudaStream_t stream);

//! RotaryEmbedding of x ([B, H, S, D] when heads_first, else [B, S, H * D]) with cos / sin
//! caches of `row` values per position (rows `table_rows`), positions (int64 [B, S]) or the
//! flat (b, s) index when null.
struct RotaryProblem {
  int64_t batch = 0, seq = 0, heads = 0, head_size = 0, dim = 0, row = 0, table_rows = 0;
  bool heads_first = true, interleaved = false;
};
void launchRotary(DataType type, const RotaryProblem& p, const void* x, const void* cos, const void* sin,
                  const int64_t* positions, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
