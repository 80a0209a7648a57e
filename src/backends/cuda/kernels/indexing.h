// Launchers of kiln's indexing CUDA kernels (indexing.cu), called by the "cuda.indexing"
// provider (cuda_indexing.cpp): GatherND, GatherElements, ScatterND, ScatterElements. Index
// tensors are device data (int32 or int64); plans hold only shape math, computed on the host
// when shapes change. Indices outside [-dim, dim) read zeros (gathers) or are skipped
// (scatters): the device raises no error. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

constexpr int kMaxIndexRank = 8;

//! GatherND: out[r, c] = data[batch(r) * batch_stride + sum_j idx[r, j] * strides[j] + c].
struct GatherNDPlan {
  int64_t rows = 0;            //!< index tuples
  int64_t rows_per_batch = 1;  //!< tuples per data batch
  int64_t batch_stride = 0;    //!< elements between data batches
  int64_t block = 0;           //!< elements copied per tuple
  int k = 0;                   //!< tuple length
  int64_t dims[kMaxIndexRank] = {};     //!< data dims addressed by the tuple
  int64_t strides[kMaxIndexRank] = {};  //!< their strides (elements)
  size_t element_size = 0;
  bool indices_int64 = true;
};
void launchGatherND(const GatherNDPlan& plan, const void* data, const void* indices, void* out, cudaStream_t stream);

//! GatherElements / ScatterElements: the indices tensor walks data with the axis coordinate
//! replaced by the index value.
struct ElementsPlan {
  int rank = 0;
  int axis = 0;
  int64_t n = 0;  //!< elements of indices
  int64_t idx_dims[kMaxIndexRank] = {};
  int64_t data_strides[kMaxIndexRank] = {};
  int64_t axis_dim = 0;  //!< data's size on the axis
  size_t element_size = 0;
  bool indices_int64 = true;
};
void launchGatherElements(const ElementsPlan& plan, const void* data, const void* indices, void* out,
                          cudaStream_t stream);

//! Scatter reductions, as the reference's "reduction" attribute.
enum class ScatterReduction : int { kNone = 0, kAdd = 1, kMul = 2, kMax = 3, kMin = 4 };

//! `out` already holds a copy of data. Each line of indices (all of its axis positions) is
//! applied by one thread in order, so duplicates resolve as on the reference.
void launchScatterElements(const ElementsPlan& plan, ScatterReduction reduction, kiln::DataType type,
                           const void* indices, const void* updates, void* out, cudaStream_t stream);

//! ScatterND (batch_dims = 0): `out` already holds data; `offsets` is workspace for `rows`
//! int64 values. Rows that hit the same offset are applied in order by the first such row.
void launchScatterND(const GatherNDPlan& plan, ScatterReduction reduction, kiln::DataType type, const void* indices,
                     const void* updates, void* out, int64_t* offsets, cudaStream_t stream);

}  // namespace kiln::cuda
