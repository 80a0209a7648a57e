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
// channels too, or fewer than 8 (a stem, see below); depthwise convolutions (group ==
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
//
// Stems. A stride-2 stem of at most 4 input channels (ResNet's 7x7 on an RGB image), group 1,
// dilation 1, known H and W, becomes a stride-1 convolution by space-to-depth (as MLPerf's
// ResNet-50 does): with OH, OW its output size, kh = ceil(R / 2), kw = ceil(S / 2),
// Hp = 2 (OH + kh - 1) and Wp = 2 (OW + kw - 1), X [N, C, H, W] is zero-padded (Pad, NCHW) to
// Xp [N, 4, Hp, Wp] (pad_top / pad_left before, Hp - H - pad_top / Wp - W - pad_left after),
// and its 2x2 blocks become channels: Xs[n, i, j, (dy * 2 + dx) * 4 + c] = Xp[n, c, 2i + dy,
// 2j + dx] (Reshape [N, 4, Hp/2, 2, Wp/2, 2], Transpose perm [0, 2, 4, 3, 5, 1], Reshape
// [N, Hp/2, Wp/2, 16]; N is copied, so a dynamic batch stays dynamic). W [K, C, R, S] is
// zero-padded to [K, 4, 2 kh, 2 kw] and rearranged the same way into [K, kh, kw, 16] by the
// weight program; the layer is an NHWC FusedConv with kernel kh x kw, strides 1, pads 0. Its
// reduction is kh kw 16 long (256 for 7x7 instead of 7 x 7 x 8 = 392), 16 channels suit tensor
// cores, and the NHWC conversion in is this one Transpose. Other stems (other strides,
// dilation, 5 to 7 channels, unknown H / W, or a padding that would crop X: Hp - H - pad_top
// < 0, possible for even kernels without end padding) are zero-padded to 8 channels instead:
// a Pad after the Transpose in and one in the weight program.
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
  //! of the convolutions, stems rewritten by space-to-depth (their Transpose in counts among
  //! `transposes`)
  int space_to_depth_stems = 0;
};

struct ChannelsLastOptions {
  int min_convs_per_edge = 2;
  //! Stems (fewer than 8 input channels, padded) and MaxPools join regions.
  bool stems_and_pools = true;
  //! Depthwise convolutions join regions. Their NHWC tactic is kiln's own (cuda.conv): the
  //! builder converts again without them when that source is off.
  bool depthwise = true;
  //! Stride-2 stems of at most 4 channels become stride-1 convolutions on 16 channels by
  //! space-to-depth (above) instead of being padded to 8 channels. Needs `stems_and_pools`.
  bool space_to_depth_stems = true;
};

//! Rewrites `graph` as above; `host` (same indices as graph.nodes) gets entries for the added
//! Transposes. Tensors in `keep` keep their NCHW values (a Transpose back writes them).
ChannelsLastResult convertToChannelsLast(ir::Graph& graph, std::vector<bool>& host, const std::set<std::string>& keep,
                                         const ChannelsLastOptions& options = {});

}  // namespace kiln::passes
