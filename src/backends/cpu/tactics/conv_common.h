// Conv and FusedConv (1-D and 2-D, NCHW) geometry, im2col and the FusedConv epilogue, shared by
// the "cpu.conv" and "openblas" tactics. The fixed part (kernel, strides, dilations, pads or auto_pad, group) is read
// from the node once; the per-run part (output size, SAME pads) is computed without allocating.
#pragma once

#include <cstdint>
#include <string>

#include "backends/backend.h"
#include "ir/ops/conv_epilogue.h"

namespace kiln::cpu::tactics {

enum class ConvAutoPad : int32_t { kNotSet, kSameUpper, kSameLower, kValid };

//! What a Conv node fixes: kernel, strides, dilations, explicit pads (top, left, bottom,
//! right), auto_pad and group. 1-D convolutions are 2-D ones of height 1.
struct ConvParams {
  int spatial = 2;
  int64_t group = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  ConvAutoPad auto_pad = ConvAutoPad::kNotSet;

  //! 1x1 kernel, stride 1, no padding: the input planes already are the GEMM's B matrix.
  bool pointwise() const;
};

//! Reads the node's attributes and W's shape; false (with `why`) when these tactics cannot
//! run the layer (3-D and larger convolutions, unknown W dims, inconsistent attributes).
bool parseConv(const backend::LayerView& layer, ConvParams& p, std::string* why = nullptr);

//! One Conv at concrete shapes.
struct ConvShape {
  int64_t n = 0, c = 0, h = 0, w = 0;  //!< input
  int64_t oc = 0, oh = 0, ow = 0;      //!< output
  int64_t pad_t = 0, pad_l = 0;        //!< resolved begin pads
  int64_t cg = 0, ocg = 0;             //!< channels per group
  int64_t kdim = 0;                    //!< cg * kh * kw: the GEMM's K
  int64_t pixels() const { return oh * ow; }
};

//! Resolves the run's geometry (no allocation); throws kRuntime when it disagrees with the
//! layer's output shape.
ConvShape convShape(const ConvParams& p, const backend::LayerView& layer);

//! col[kdim][oh*ow] for one image and one group: `x` points at the group's first channel
//! plane ([cg][h][w]). Padding reads as 0.
void im2col(const ConvParams& p, const ConvShape& s, const float* x, float* col);

//! Bytes of the im2col buffer for a layer at its shapes (0 for a pointwise conv).
size_t im2colBytes(const ConvParams& p, const backend::LayerView& layer);

//! y[oc][pixels] rows set to bias[oc] (or left for the GEMM to overwrite when bias is null).
void fillBias(const float* bias, int64_t rows, int64_t pixels, float* y);

//! What a Conv or FusedConv layer applies after the convolution and its bias: FusedConv's
//! residual (input 3) and activation; nothing for a Conv.
struct ConvTail {
  ir::ConvEpilogue act;
  bool residual = false;
  bool any() const { return residual || act.activation != ir::ConvActivation::kNone; }
};
ConvTail convTail(const backend::LayerView& layer);

//! y[i] = act(y[i] + residual[i]) over `count` elements of Y that already hold conv + bias
//! (`residual` the same elements of R, or null), in double as the reference.
void applyConvTail(const ConvTail& tail, const float* residual, int64_t count, float* y);

}  // namespace kiln::cpu::tactics
