// MatMul and Gemm layers as one (batched) GEMM that cuBLAS and cuBLASLt run: kiln's tensors are
// row-major, the libraries column-major, so Y[M,N] = op(A) op(B) is computed as the
// column-major Y^T[N,M] = op(B)^T op(A)^T, i.e. with the operands swapped (no copies).
#pragma once

#include <cstdint>

#include "backends/backend.h"

namespace kiln::cuda::blas {

constexpr int kMaxOuterDims = 6;

//! How the Gemm's C reaches the output.
enum class BiasForm : uint8_t {
  kNone,  //!< no C, or beta == 0
  kFull,  //!< C is [M, N]
  kRow,   //!< C is [N] or [1, N]: one row added to every row of Y
};

struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;    //!< row-major Y[m, n] = op(A)[m, k] op(B)[k, n]
  bool trans_a = false, trans_b = false;  //!< the operand is stored transposed (ONNX transA/B)
  int64_t lda = 0, ldb = 0;       //!< column counts of A and B as stored (row-major)
  float alpha = 1.0f, beta = 0.0f;
  BiasForm bias = BiasForm::kNone;
  //! The innermost (merged) batch dim runs as one strided-batched call; strides in elements,
  //! 0 where the operand broadcasts. Y's batch stride is m * n.
  int64_t batch = 1, a_stride = 0, b_stride = 0;
  //! Outer batch dims that do not merge with the inner one (broadcast patterns such as
  //! [2,1,M,K] x [3,K,N]): the kernel loops over them on the host, outermost first.
  int outer_dims = 0;
  int64_t outer_size[kMaxOuterDims] = {}, outer_a[kMaxOuterDims] = {}, outer_b[kMaxOuterDims] = {};

  int64_t outerCount() const {
    int64_t c = 1;
    for (int d = 0; d < outer_dims; ++d) c *= outer_size[d];
    return c;
  }
  //! Element offsets of A, B and Y for outer iteration `i` (row-major over outer_size).
  void outerOffsets(int64_t i, int64_t& a, int64_t& b, int64_t& y) const {
    a = 0;
    b = 0;
    y = i * batch * m * n;
    for (int d = outer_dims - 1; d >= 0; --d) {
      const int64_t idx = i % outer_size[d];
      i /= outer_size[d];
      a += idx * outer_a[d];
      b += idx * outer_b[d];
    }
  }
};

//! Describes a MatMul or Gemm layer (numpy batch broadcasting, 1-D promotion, transA/transB,
//! alpha/beta, C as [M,N] or a broadcast row). False when the layer does not fit: more outer
//! batch dims than kMaxOuterDims, sizes beyond 32-bit, K == 0, a C broadcast other than a row.
bool describeGemm(const backend::LayerView& layer, GemmProblem& p);

}  // namespace kiln::cuda::blas
