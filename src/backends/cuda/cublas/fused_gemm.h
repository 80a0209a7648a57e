// A FusedMatMul layer (src/ir/ops/fused_matmul.cpp) as the GPU tactics see it: one 2-D GEMM
// Y[M, N] = alpha A[M, K] op(B) (A's leading dims folded into M), then bias, activation and
// residual. Shared by "cublaslt.epilogue" and "cublas.epilogue"; read in reshape(), never in
// run().
#pragma once

#include <climits>
#include <cstdint>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/cublas/gemm_problem.h"

namespace kiln::cuda::blas {

enum class FusedActivation : uint8_t { kNone, kRelu, kGeluErf, kGeluTanh };

struct FusedGemm {
  int64_t m = 0, n = 0, k = 0;
  bool trans_b = false;
  float alpha = 1.0f;
  FusedActivation activation = FusedActivation::kNone;
  bool bias = false, residual = false;

  //! The GEMM part as the column-major problem the libraries run (no C, no batch).
  GemmProblem gemm() const {
    GemmProblem g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.trans_b = trans_b;
    g.lda = k;
    g.ldb = trans_b ? k : n;
    g.alpha = alpha;
    return g;
  }
};

inline bool parseFusedActivation(const std::string& name, FusedActivation& act) {
  if (name == "none") act = FusedActivation::kNone;
  else if (name == "relu") act = FusedActivation::kRelu;
  else if (name == "gelu_erf") act = FusedActivation::kGeluErf;
  else if (name == "gelu_tanh") act = FusedActivation::kGeluTanh;
  else return false;
  return true;
}

//! False when the layer does not fit: unknown or 32-bit-overflowing sizes, K == 0, an unknown
//! activation, a bias or residual of the wrong size.
inline bool describeFusedGemm(const backend::LayerView& layer, FusedGemm& f) {
  if (layer.inputs.size() < 2 || layer.outputs.empty() || !layer.inputs[0].present || !layer.inputs[1].present)
    return false;
  const ir::Shape& a = layer.inputs[0].shape;
  const ir::Shape& b = layer.inputs[1].shape;
  if (a.size() < 2 || b.size() != 2) return false;
  f.trans_b = layer.attrs().i("trans_b", 0) != 0;
  f.alpha = layer.attrs().f("alpha", 1.0f);
  if (!parseFusedActivation(layer.attrs().s("activation", "none"), f.activation)) return false;
  f.k = a.back();
  f.n = f.trans_b ? b[0] : b[1];
  if ((f.trans_b ? b[1] : b[0]) != f.k) return false;
  f.m = 1;
  for (size_t d = 0; d + 1 < a.size(); ++d) {
    if (a[d] < 0) return false;
    f.m *= a[d];
  }
  if (f.k <= 0 || f.n < 0 || f.m > INT_MAX || f.n > INT_MAX || f.k > INT_MAX) return false;
  f.bias = layer.inputs.size() > 2 && layer.inputs[2].present;
  f.residual = layer.inputs.size() > 3 && layer.inputs[3].present;
  if (f.bias && (layer.inputs[2].shape.size() != 1 || layer.inputs[2].shape[0] != f.n)) return false;
  if (f.residual && layer.inputs[3].shape != layer.outputs[0].shape) return false;
  return true;
}

}  // namespace kiln::cuda::blas
