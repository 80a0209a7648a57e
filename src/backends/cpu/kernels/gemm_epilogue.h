// The epilogue of FusedMatMul (see src/ir/ops/fused_matmul.cpp) on the host: the activation
// by name, and its math in double. Shared by the reference kernel and the CPU GEMM tactics,
// so that every CPU tactic applies exactly the reference's formulas.
#pragma once

#include <cmath>
#include <string>

#include "kiln/errors.h"

namespace kiln::cpu {

enum class GemmActivation : int { kNone = 0, kRelu = 1, kGeluErf = 2, kGeluTanh = 3 };

//! The activation attribute's value as an enum; throws kInvalidModel naming `owner`.
inline GemmActivation parseGemmActivation(const std::string& name, const std::string& owner) {
  if (name == "none") return GemmActivation::kNone;
  if (name == "relu") return GemmActivation::kRelu;
  if (name == "gelu_erf") return GemmActivation::kGeluErf;
  if (name == "gelu_tanh") return GemmActivation::kGeluTanh;
  throw Error(ErrorCode::kInvalidModel, owner + ": unknown activation '" + name + "'");
}

inline double applyGemmActivation(GemmActivation act, double x) {
  switch (act) {
    case GemmActivation::kNone: return x;
    case GemmActivation::kRelu: return x > 0 ? x : 0.0;
    case GemmActivation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x * 0.70710678118654752440));
    case GemmActivation::kGeluTanh:  // sqrt(2/pi) = 0.7978845608...
      return 0.5 * x * (1.0 + std::tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
  }
  return x;
}

}  // namespace kiln::cpu
