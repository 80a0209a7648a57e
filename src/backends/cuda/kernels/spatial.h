// Launchers of kiln's spatial CUDA kernels (spatial.cu), called by the "cuda.spatial" provider
// (cuda_spatial.cpp): Col2Im, RoiAlign, DeformConv and the Resize variants
// cuda.movement refuses. Shapes and attributes come from
// the host; launchers only launch. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! Most spatial dims Col2Im takes here.
constexpr int kCol2ImMaxDims = 6;

//! Col2Im's geometry: `dims` spatial dims of the image, the block (kernel), strides,
//! dilations, begin pads and the sliding grid (windows per dim); `channels` is the output's C.
struct Col2ImGeometry {
  int dims = 0;
  int64_t batch = 0, channels = 0, pixels = 1, kvol = 1, columns = 1;
  int64_t image[kCol2ImMaxDims] = {}, block[kCol2ImMaxDims] = {}, strides[kCol2ImMaxDims] = {},
          dilations[kCol2ImMaxDims] = {}, pads[kCol2ImMaxDims] = {}, grid[kCol2ImMaxDims] = {};
};

//! Col2Im of x [batch, channels * kvol, columns] into y [batch, channels, image...] of `type`
//! (float, half, bf16 or double): each output element sums, in double and in the reference's
//! order, the columns whose window covers it.
void launchCol2Im(DataType type, const void* x, void* y, const Col2ImGeometry& g, cudaStream_t stream);

//! RoiAlign's geometry and attributes.
struct RoiAlignParams {
  int64_t batch = 0, channels = 0, height = 0, width = 0, rois = 0, out_h = 1, out_w = 1, sampling_ratio = 0;
  double spatial_scale = 1.0;
  bool max_mode = false, half_pixel = true;
};

//! RoiAlign of x [batch, channels, height, width] over rois [rois, 4] (x1, y1, x2, y2; `type`
//! as x) with batch_indices [rois] (int32 when `indices_int32`, else int64) into
//! y [rois, channels, out_h, out_w], in double as the reference. A batch index outside x
//! (which the reference refuses) yields NaN.
void launchRoiAlign(DataType type, const void* x, const void* rois, const void* batch_indices, bool indices_int32,
                    void* y, const RoiAlignParams& p, cudaStream_t stream);

//! Most dims and most taps per axis of the general Resize kernel.
constexpr int kResizeMaxRank = 6;
constexpr int kResizeMaxTaps = 16;

enum class ResizeCoordinate : int {
  kHalfPixel,
  kAsymmetric,
  kAlignCorners,
  kPytorchHalfPixel,
  kTfHalfPixelForNn,
  kHalfPixelSymmetric,
  kTfCropAndResize
};

//! A linear or cubic Resize of any rank, as the reference computes it (antialias, cubic_coeff_a,
//! exclude_outside, tf_crop_and_resize with a roi read on the device, extrapolation_value).
struct ResizeGeneralParams {
  int rank = 0;
  int64_t in[kResizeMaxRank] = {}, out[kResizeMaxRank] = {};
  double scale[kResizeMaxRank] = {};
  int roi_slot[kResizeMaxRank] = {};  //!< position of the axis in `axes`; -1: not resized
  int axes_count = 0;
  bool cubic = false, antialias = false, exclude_outside = false;
  double cubic_a = -0.75, extrapolation = 0.0;
  ResizeCoordinate transform = ResizeCoordinate::kHalfPixel;
  DataType roi_type = DataType::kFLOAT;  //!< of `roi`, when given
};

//! y = Resize(x) for `type` (float, half, bf16, double); `roi` may be null (then [0, 1]).
void launchResizeGeneral(DataType type, const void* x, const void* roi, void* y, const ResizeGeneralParams& p,
                         cudaStream_t stream);

//! DeformConv (2-D) geometry.
struct DeformConvParams {
  int64_t batch = 0, channels = 0, height = 0, width = 0, out_channels = 0, cg = 0, kh = 0, kw = 0, oh = 0, ow = 0;
  int64_t group = 1, offset_group = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

//! DeformConv of x, w, offset, optional bias and mask (null when absent), all `type`, into y,
//! one thread per output element in double as the reference.
void launchDeformConv(DataType type, const void* x, const void* w, const void* offset, const void* bias,
                      const void* mask, void* y, const DeformConvParams& p, cudaStream_t stream);

}  // namespace kiln::cuda
