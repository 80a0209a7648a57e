// kiln's depthwise 2-D convolution (group == input channels == output channels, one filter per
// channel) for Conv and FusedConv, in both layouts: NHWC (FusedConv layout "NHWC", what the
// channels-last step makes of MobileNet-class networks) and NCHW. The cuda.conv provider
// (conv.cu) offers it as tactics of its own (two launch shapes) next to the implicit GEMM, which
// wastes 63 of its 64 tile rows on a group of one output channel. Kernels in depthwise_conv.cu.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace kiln::cuda {

//! The depthwise kernel's candidates for `opt` (valid for every shape between `min` and
//! `max`), one per launch shape: "cuda.conv.depthwise.<nhwc|nchw>.<4px|2px>" (output columns per
//! thread). None unless the layer is a 2-D Conv / FusedConv whose group equals its input and
//! output channels (channel multiplier 1), W constant (it is re-laid out once, on the host),
//! fp32 / fp16 / bf16 throughout, B [C], R of Y's shape, tensors within 32-bit indexing.
std::vector<backend::TacticConfig> depthwiseConvCandidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                           const backend::LayerView& max);

//! Whether `name` is one of depthwiseConvCandidates' names.
bool isDepthwiseConvTactic(const std::string& name);

//! The depthwise kernel for `layer` and one of its candidates, W and B uploaded to `device`.
//! Throws kiln::Error naming the layer.
std::unique_ptr<backend::Kernel> makeDepthwiseConvKernel(const backend::LayerView& layer,
                                                         const backend::TacticConfig& config, backend::Device& device);

}  // namespace kiln::cuda
