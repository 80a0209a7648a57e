// FusedConv's activations on the device, in float (see src/ir/ops/conv_epilogue.h for the
// definitions; the CPU reference computes the same formulas in double). Shared by the
// convolution epilogue kernel (conv_epilogue.cu) and kiln's own convolution (conv.cu).
#pragma once

#include <cuda_runtime.h>

#include "ir/ops/conv_epilogue.h"

namespace kiln::cuda {

__device__ __forceinline__ float convActivate(const ir::ConvEpilogue& e, float x) {
  switch (e.activation) {
    case ir::ConvActivation::kRelu: return x < 0.0f ? 0.0f : x;  // NaN stays NaN, as Relu
    case ir::ConvActivation::kClip: {
      const float v = x < e.min ? e.min : x;  // min > max gives max, as Clip
      return e.max < v ? e.max : v;
    }
    // expf, not __expf: the fast one is off by many ulps for large |x|.
    case ir::ConvActivation::kSilu: return x / (1.0f + expf(-x));
    case ir::ConvActivation::kHardSwish: return x * fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
    case ir::ConvActivation::kSigmoid: return 1.0f / (1.0f + expf(-x));
    default: return x;
  }
}

}  // namespace kiln::cuda
