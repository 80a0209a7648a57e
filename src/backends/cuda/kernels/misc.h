// Launchers of kiln's miscellaneous CUDA kernels (misc.cu), called by the "cuda.misc"
// provider (cuda_misc.cpp): unary math the elementwise provider lacks (Sign, Round, Softsign,
// ThresholdedRelu, Celu, inverse / hyperbolic trigonometry, IsNaN, IsInf), Trilu, CumSum,
// TopK, OneHot, Range and ConstantOfShape. Shapes and small parameters come from the host;
// launchers only launch. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

enum class MiscUnary : int {
  kSign, kRound, kSoftsign, kThresholdedRelu, kCelu, kAcos, kAcosh, kAsin, kAsinh, kAtan, kAtanh, kCosh, kSinh, kTan,
  kIsNaN, kIsInf,
};

//! out[i] = op(in[i]) computed in double (as the reference); IsNaN / IsInf write bool.
//! `alpha` is ThresholdedRelu's / Celu's; detect_* are IsInf's.
void launchMiscUnary(MiscUnary op, DataType type, const void* in, void* out, int64_t n, double alpha,
                     bool detect_negative, bool detect_positive, cudaStream_t stream);

//! Trilu over `matrices` matrices [rows, cols] of `element_size` bytes each.
void launchTrilu(size_t element_size, const void* in, void* out, int64_t matrices, int64_t rows, int64_t cols,
                 int64_t k, bool upper, cudaStream_t stream);

//! CumSum along the middle axis of [outer, extent, inner], accumulating in double (floats)
//! or int64 (integers), as the reference.
void launchCumSum(DataType type, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                  bool exclusive, bool reverse, cudaStream_t stream);

//! TopK along the middle axis of [outer, extent, inner]: values (may be null) and int64
//! indices (may be null) of the first k in the reference's order (NaN largest, ties by index).
void launchTopK(DataType type, const void* in, void* values, int64_t* indices, int64_t outer, int64_t extent,
                int64_t inner, int64_t k, bool largest, cudaStream_t stream);

//! OneHot: out[o, d, i] = (index(o, i) == d ? on : off); values = {off, on}.
void launchOneHot(DataType index_type, const void* indices, const void* values, size_t element_size, void* out,
                  int64_t outer, int64_t depth, int64_t inner, cudaStream_t stream);

//! Range: out[i] = start + i * delta (in double for floats, int64 for integers).
void launchRange(DataType type, void* out, int64_t n, double start, double delta, int64_t start_int, int64_t delta_int,
                 cudaStream_t stream);

//! Fills n elements of `element_size` (1, 2, 4 or 8) bytes with the bytes of `value`.
void launchFill(void* out, int64_t n, size_t element_size, uint64_t value, cudaStream_t stream);

}  // namespace kiln::cuda
