// Launcher of QLinearMatMul's kernel (qlinear_matmul.cu), called by the "cuda.qlinear_matmul"
// provider (cuda_qlinear_matmul.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! An operand's shape (1-D operands promoted to 2-D) and its scale's shape, for the per-line
//! scale / zero point index of the reference.
struct QOperand {
  static constexpr int kMaxRank = 8;
  int rank = 0, param_rank = 0;
  int64_t dims[kMaxRank] = {}, param_dims[kMaxRank] = {};
  int64_t param_volume = 1;
};

struct QLinearMatMulProblem {
  static constexpr int kMaxBatch = 6;
  QOperand a, b;
  int64_t m = 0, k = 0, n = 0, batches = 1;
  int batch_rank = 0;
  int64_t batch[kMaxBatch] = {}, batch_a[kMaxBatch] = {}, batch_b[kMaxBatch] = {};  // right-aligned, 1 if absent
  DataType a_type = DataType::kINT8, b_type = DataType::kINT8, y_type = DataType::kINT8, scale_type = DataType::kFLOAT;
};

//! inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point; one
//! thread per output element, the sum exact in int64 as the reference.
void launchQLinearMatMul(const QLinearMatMulProblem& p, const void* const* inputs, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
