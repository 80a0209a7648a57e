// Launcher of kiln's convolution epilogue kernel (conv_epilogue.cu): after a library
// convolution (cuDNN) has written conv(X, W) into Y, one pass over Y adds the bias and the
// residual and applies the activation. Used by the "cudnn" tactics for Conv (bias only) and
// FusedConv.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "ir/ops/conv_epilogue.h"
#include "kiln/types.h"

namespace kiln::cuda {

//! In place over Y [batch, channels, pixels] (NCHW, contiguous; pixels = the product of the
//! spatial dims), or [batch, pixels, channels] with `channels_last` (NHWC):
//! y = act(y + bias[channel] + residual), in float, rounded once into `type`
//! (float, half or bfloat16). `bias` ([channels]) and `residual` (Y's shape; must not alias Y)
//! may be null. Vectorized up to 16 bytes at a time when `pixels` and every pointer allow it.
//! Returns without a launch when there is nothing to do; the caller checks the launch.
void launchConvEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t batch, int64_t channels,
                        int64_t pixels, bool channels_last, const ir::ConvEpilogue& epilogue, cudaStream_t stream);

}  // namespace kiln::cuda
