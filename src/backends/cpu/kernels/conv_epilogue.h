// The epilogue of FusedConv (see src/ir/ops/conv.cpp) on the host: the activation's math in
// double, shared by the reference kernel and the CPU convolution tactics, so that every CPU
// tactic applies exactly the reference's formulas (those of the unfused Relu, Clip, Sigmoid,
// HardSwish reference kernels).
#pragma once

#include <algorithm>
#include <cmath>

#include "ir/ops/conv_epilogue.h"

namespace kiln::cpu {

//! 1 / (1 + exp(-x)) without overflow for large |x|.
inline double convSigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

inline double applyConvActivation(const ir::ConvEpilogue& e, double x) {
  switch (e.activation) {
    case ir::ConvActivation::kNone: return x;
    case ir::ConvActivation::kRelu: return x < 0.0 ? 0.0 : x;  // NaN stays NaN
    case ir::ConvActivation::kClip: {
      const double v = x < e.min ? static_cast<double>(e.min) : x;  // NaN stays NaN
      return e.max < v ? static_cast<double>(e.max) : v;            // min > max gives max, as ONNX Clip
    }
    case ir::ConvActivation::kSilu: return x * convSigmoid(x);
    case ir::ConvActivation::kHardSwish: return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case ir::ConvActivation::kSigmoid: return convSigmoid(x);
  }
  return x;
}

}  // namespace kiln::cpu
