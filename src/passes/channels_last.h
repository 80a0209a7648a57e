// Channels last for tensor-core convolutions, after precision conversion: the 2-D convolutions
// of a float16 / bfloat16 network (FusedConv and Conv) become FusedConv layers with layout NHWC
// (src/ir/ops/conv.cpp), which cuDNN runs on tensor cores without the layout conversions its
// NCHW engines make inside every call. Convolutions joined by their tensors (X, the residual R,
// Y) form a region; the region's tensors stay NHWC from one layer to the next, and a Transpose
// converts at its edges only: into the region where an input comes from outside it, back where
// a result leaves it (another op reads it, a graph output, a kept tensor). W becomes KRSC
// through the weight program, so refit still takes the model's OIHW weights.
//
// Which layers: convolutions of group 1 with output channels a multiple of 8 and input
// channels too, or fewer than 8 (a stem: its input and W are zero-padded to 8 channels, a Pad
// after the Transpose in and one in the weight program); depthwise convolutions (group ==
// input channels == output channels, channels a multiple of 8: W [C, 1, R, S] becomes
// [C, R, S, 1]), which kiln's own depthwise kernel runs in NHWC (cuda.conv); 2-D MaxPools
// without Indices (NhwcMaxPool), which join the regions of what they read and feed. On the
// device only. Which regions: those with at least `min_convs_per_edge` convolutions per
// Transpose they need. ResNet-50's 53 with its max pool need 2; MobileNetV2's inverted
// residual blocks (1x1 expand, 3x3 depthwise, 1x1 project, the residual Add fused as R) chain
// into one region from the stem's output to the last 1x1 convolution, 2 Transposes for ~50
// convolutions (without depthwise convolutions each pointwise pair around one would need a
// Transpose per convolution and stay NCHW). Other grouped convolutions stay NCHW. The rule is
// fixed, not timed. Builds use it without depthwise convolutions when no enabled tactic runs
// them in NHWC.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct ChannelsLastResult {
  int convolutions = 0;  //!< convolutions now NHWC
  int pools = 0;         //!< MaxPools now NhwcMaxPool
  int transposes = 0;    //!< layout conversions added at region edges
  int depthwise = 0;     //!< of the convolutions, those that are depthwise
};

struct ChannelsLastOptions {
  int min_convs_per_edge = 2;
  //! Stems (fewer than 8 input channels, padded) and MaxPools join regions.
  bool stems_and_pools = true;
  //! Depthwise convolutions join regions. Their NHWC tactic is kiln's own (cuda.conv): the
  //! builder converts again without them when that source is off.
  bool depthwise = true;
};

//! Rewrites `graph` as above; `host` (same indices as graph.nodes) gets entries for the added
//! Transposes. Tensors in `keep` keep their NCHW values (a Transpose back writes them).
ChannelsLastResult convertToChannelsLast(ir::Graph& graph, std::vector<bool>& host, const std::set<std::string>& keep,
                                         const ChannelsLastOptions& options = {});

}  // namespace kiln::passes
