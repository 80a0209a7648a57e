// Launchers of the scan-like kernels (scan.cu), called by the "cuda.scan" provider
// (cuda_scan.cpp): CumSum / CumProd and Trilu whose axis or k is read on the device (a run-time
// input) or given from the host, and EyeLike. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

struct ScanShape {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
};

//! CumSum (`product` false) or CumProd along the axis (`axis_ptr` on the device, int32 or
//! int64 per `axis_type`; when null, `axis` from the host), exclusive and/or reversed,
//! accumulating as the reference (double for floats, 64-bit integers for integers). An axis
//! outside the rank writes zeros.
void launchCumulative(DataType type, const ScanShape& shape, const void* axis_ptr, DataType axis_type, int64_t axis,
                      bool product, bool exclusive, bool reverse, const void* x, void* y, cudaStream_t stream);

//! Trilu: zero outside the upper (j >= i + k) or lower (j <= i + k) triangle of each matrix of
//! the two innermost dims; k from the device (`k_ptr`, int64) or the host.
void launchTriluGeneral(size_t element_size, const ScanShape& shape, const int64_t* k_ptr, int64_t k, bool upper,
                        const void* x, void* y, cudaStream_t stream);

//! EyeLike: [rows, cols] of `type` with ones where col - row == k.
void launchEyeLike(DataType type, int64_t rows, int64_t cols, int64_t k, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
