// Channels last for tensor-core convolutions, after precision conversion: the 2-D convolutions
// of a float16 / bfloat16 network (FusedConv and Conv) become FusedConv layers with layout NHWC
// (src/ir/ops/conv.cpp), which cuDNN runs on tensor cores without the layout conversions its
// NCHW engines make inside every call. Convolutions joined by their tensors (X, the residual R,
// Y) form a region; the region's tensors stay NHWC from one layer to the next, and a Transpose
// converts at its edges only: into the region where an input comes from outside it, back where
// a result leaves it (another op reads it, a graph output, a kept tensor). W becomes KRSC
// through the weight program, so refit still takes the model's OIHW weights.
//
// Which convolutions: group 1, input and output channels multiples of 8 (a 3-channel stem
// stays NCHW), on the device. Which regions: those with at least `min_convs_per_edge`
// convolutions per Transpose they need (ResNet-50's 52 after the stem need 2; MobileNetV2's
// pointwise pairs around a depthwise convolution would need one per convolution and stay NCHW).
// The rule is fixed, not timed.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct ChannelsLastResult {
  int convolutions = 0;  //!< layers now NHWC
  int transposes = 0;    //!< layout conversions added at region edges
};

//! Rewrites `graph` as above; `host` (same indices as graph.nodes) gets entries for the added
//! Transposes. Tensors in `keep` keep their NCHW values (a Transpose back writes them).
ChannelsLastResult convertToChannelsLast(ir::Graph& graph, std::vector<bool>& host, const std::set<std::string>& keep,
                                         int min_convs_per_edge = 2);

}  // namespace kiln::passes
