// Launcher of kiln's GEMM epilogue kernel (gemm_epilogue.cu), used by the "cublas.epilogue"
// FusedMatMul tactic after cuBLAS has written alpha * A op(B) into Y. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! FusedMatMul's activation (the numbering is the kernels' own).
enum class EpilogueActivation : int { kNone = 0, kRelu = 1, kGeluErf = 2, kGeluTanh = 3 };

//! In place over Y [rows, cols] (row-major, contiguous): y = act(y + bias[col]) + residual,
//! in float, rounded once into `type` (float, half or bfloat16). `bias` ([cols]) and
//! `residual` ([rows, cols]) may be null. Vectorized 16 bytes at a time when cols and every
//! pointer allow it. Returns without a launch when there is nothing to do.
void launchGemmEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t rows, int64_t cols,
                        EpilogueActivation activation, cudaStream_t stream);

//! The same with `bias` and `residual` of `epilogue_type`: either `type`, or float16 or
//! bfloat16 with a float32 Y (what a FusedMatMul with a folded Cast to float32 writes);
//! throws kUnsupported for other pairs.
void launchGemmEpilogue(DataType type, DataType epilogue_type, void* y, const void* bias, const void* residual,
                        int64_t rows, int64_t cols, EpilogueActivation activation, cudaStream_t stream);

}  // namespace kiln::cuda
