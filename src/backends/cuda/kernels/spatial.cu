// Spatial kernels of "cuda.spatial" (the provider is cuda_spatial.cpp). Col2Im gathers: one
// thread per output element walks the block's elements in order and adds the column whose
// window puts that element on it (the reference scatters block element by block element, so
// each output element sees the same additions in the same order), in double. RoiAlign: one
// thread per output bin, the reference's sampling arithmetic in double. Resize (linear / cubic):
// one thread per output element computes each axis's taps as the reference does and sums their
// tensor product in double (the reference's separable passes give the same sum up to
// double rounding; extrapolated positions propagate through later axes' weights as there).
// DeformConv: one thread per output element, the reference's bilinear taps in double.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/spatial.h"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void col2ImKernel(Col2ImGeometry g, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = g.batch * g.channels * g.pixels;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t nc = i / g.pixels;
    int64_t pos[kCol2ImMaxDims];
    for (int64_t rest = i % g.pixels, d = g.dims - 1; d >= 0; --d) {
      pos[d] = rest % g.image[d];
      rest /= g.image[d];
    }
    double acc = 0;
    for (int64_t kk = 0; kk < g.kvol; ++kk) {
      int64_t l = 0;
      bool hit = true;
      for (int64_t rest = kk, d = g.dims - 1, scale = 1; d >= 0 && hit; --d) {
        const int64_t k = rest % g.block[d];
        rest /= g.block[d];
        const int64_t t = pos[d] + g.pads[d] - k * g.dilations[d];
        if (t < 0 || t % g.strides[d] != 0 || t / g.strides[d] >= g.grid[d]) hit = false;
        l += (t / g.strides[d]) * scale;
        scale *= g.grid[d];
      }
      if (hit) acc += loadDouble(x, (nc * g.kvol + kk) * g.columns + l);
    }
    storeDouble(y, i, acc);
  }
}

template <typename T, typename I>
__global__ void roiAlignKernel(RoiAlignParams p, const T* __restrict__ x, const T* __restrict__ rois,
                               const I* __restrict__ batch_indices, T* __restrict__ y) {
  const int64_t total = p.rois * p.channels * p.out_h * p.out_w;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t pw = i % p.out_w, ph = (i / p.out_w) % p.out_h, c = (i / (p.out_w * p.out_h)) % p.channels;
    const int64_t r = i / (p.out_w * p.out_h * p.channels);
    const auto b = static_cast<int64_t>(batch_indices[r]);
    if (b < 0 || b >= p.batch) {
      storeDouble(y, i, nan(""));
      continue;
    }
    const double offset = p.half_pixel ? 0.5 : 0.0;
    const double x0 = loadDouble(rois, r * 4) * p.spatial_scale - offset;
    const double y0 = loadDouble(rois, r * 4 + 1) * p.spatial_scale - offset;
    double roi_w = loadDouble(rois, r * 4 + 2) * p.spatial_scale - offset - x0;
    double roi_h = loadDouble(rois, r * 4 + 3) * p.spatial_scale - offset - y0;
    if (!p.half_pixel) {
      roi_w = fmax(roi_w, 1.0);
      roi_h = fmax(roi_h, 1.0);
    }
    const double bin_h = roi_h / static_cast<double>(p.out_h), bin_w = roi_w / static_cast<double>(p.out_w);
    const int64_t grid_h =
        p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(ceil(roi_h / static_cast<double>(p.out_h)));
    const int64_t grid_w =
        p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(ceil(roi_w / static_cast<double>(p.out_w)));
    const double count = static_cast<double>(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
    const T* plane = x + (b * p.channels + c) * p.height * p.width;
    const auto height = static_cast<double>(p.height), width = static_cast<double>(p.width);
    double acc = 0.0;
    bool first = true;
    for (int64_t iy = 0; iy < grid_h; ++iy)
      for (int64_t ix = 0; ix < grid_w; ++ix) {
        double yy = y0 + static_cast<double>(ph) * bin_h + (static_cast<double>(iy) + 0.5) * bin_h / grid_h;
        double xx = x0 + static_cast<double>(pw) * bin_w + (static_cast<double>(ix) + 0.5) * bin_w / grid_w;
        double v[4] = {0, 0, 0, 0}, w[4] = {0, 0, 0, 0};
        if (!(yy < -1.0 || yy > height || xx < -1.0 || xx > width)) {
          yy = yy > 0.0 ? yy : 0.0;
          xx = xx > 0.0 ? xx : 0.0;
          auto y_low = static_cast<int64_t>(yy), x_low = static_cast<int64_t>(xx);
          int64_t y_high = 0, x_high = 0;
          if (y_low >= p.height - 1) {
            y_high = y_low = p.height - 1;
            yy = static_cast<double>(y_low);
          } else {
            y_high = y_low + 1;
          }
          if (x_low >= p.width - 1) {
            x_high = x_low = p.width - 1;
            xx = static_cast<double>(x_low);
          } else {
            x_high = x_low + 1;
          }
          const double ly = yy - static_cast<double>(y_low), lx = xx - static_cast<double>(x_low);
          const double hy = 1.0 - ly, hx = 1.0 - lx;
          w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
          v[0] = loadDouble(plane, y_low * p.width + x_low), v[1] = loadDouble(plane, y_low * p.width + x_high);
          v[2] = loadDouble(plane, y_high * p.width + x_low), v[3] = loadDouble(plane, y_high * p.width + x_high);
        }
        if (p.max_mode) {
          double m = w[0] * v[0];  // the first largest, as std::max of a list
          for (int k = 1; k < 4; ++k)
            if (m < w[k] * v[k]) m = w[k] * v[k];
          acc = first ? m : (acc < m ? m : acc);
          first = false;
        } else {
          acc += w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3];
        }
      }
    storeDouble(y, i, p.max_mode ? acc : acc / count);
  }
}

struct AxisTaps {
  int count = 0;
  bool extrapolated = false;
  int64_t index[kResizeMaxTaps];
  double weight[kResizeMaxTaps];
};

__device__ double resizeSource(const ResizeGeneralParams& p, double x, int64_t in, int64_t out, double scale,
                               double roi_start, double roi_end) {
  const double out_width = scale * static_cast<double>(in);
  const auto in_d = static_cast<double>(in);
  switch (p.transform) {
    case ResizeCoordinate::kAlignCorners: return out_width == 1 ? 0.0 : x * (in_d - 1) / (out_width - 1);
    case ResizeCoordinate::kAsymmetric: return x / scale;
    case ResizeCoordinate::kTfCropAndResize: {
      const double v = out_width == 1 ? (roi_end - roi_start) * (in_d - 1) / 2
                                      : x * (roi_end - roi_start) * (in_d - 1) / (out_width - 1);
      return v + roi_start * (in_d - 1);
    }
    case ResizeCoordinate::kPytorchHalfPixel: return out_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case ResizeCoordinate::kTfHalfPixelForNn: return (x + 0.5) / scale;
    case ResizeCoordinate::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out) / out_width;
      const double offset = in_d / 2 * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    default: return (x + 0.5) / scale - 0.5;
  }
}

__device__ double resizeKernelAt(bool cubic, double a, double x) {
  x = fabs(x);
  if (!cubic) return fmin(fmax(1.0 - x, 0.0), 1.0);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

//! The reference's tapsAt (resize.cpp) for linear / cubic modes.
__device__ void resizeTaps(const ResizeGeneralParams& p, int64_t x, int64_t in, int64_t out, double scale,
                           double roi_start, double roi_end, AxisTaps& taps) {
  taps.count = 0;
  taps.extrapolated = false;
  const double xo = resizeSource(p, static_cast<double>(x), in, out, scale, roi_start, roi_end);
  if (p.transform == ResizeCoordinate::kTfCropAndResize && (xo < 0 || xo > static_cast<double>(in - 1))) {
    taps.extrapolated = true;
    return;
  }
  const double fl = floor(xo);
  double ratio = xo - fl;
  auto base = static_cast<int64_t>(fl);
  if (ratio == 0) {
    ratio = 1;
    base -= 1;
  }
  double coeffs[kResizeMaxTaps];
  int64_t n = 0;
  if (p.antialias && scale < 1.0) {
    const auto start = static_cast<int64_t>(floor((p.cubic ? -2.0 : -1.0) / scale)) + 1;
    double sum = 0;
    for (int64_t i = start; i < 2 - start && n < kResizeMaxTaps; ++i) {
      coeffs[n] = resizeKernelAt(p.cubic, p.cubic_a, scale * (static_cast<double>(i) - ratio));
      sum += coeffs[n++];
    }
    for (int64_t k = 0; k < n; ++k) coeffs[k] /= sum;
  } else if (!p.cubic) {
    coeffs[0] = 1 - ratio;
    coeffs[1] = ratio;
    n = 2;
  } else {
    const double a = p.cubic_a, r = ratio;
    coeffs[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
    coeffs[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
    coeffs[2] = ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1;
    coeffs[3] = ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a;
    n = 4;
  }
  const int64_t pad = n / 2;
  int64_t first = base - (n / 2 - 1);
  first = first > -pad ? first : -pad;
  first = first < in - 1 + pad - (n - 1) ? first : in - 1 + pad - (n - 1);
  if (p.exclude_outside) {
    double sum = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (first + t < 0 || first + t >= in) coeffs[t] = 0;
      sum += coeffs[t];
    }
    if (sum != 0)
      for (int64_t t = 0; t < n; ++t) coeffs[t] /= sum;
  }
  for (int64_t t = 0; t < n; ++t) {
    if (coeffs[t] == 0) continue;
    const int64_t j = first + t;
    taps.index[taps.count] = j < 0 ? 0 : j > in - 1 ? in - 1 : j;
    taps.weight[taps.count++] = coeffs[t];
  }
}

template <typename T>
__global__ void resizeGeneralKernel(ResizeGeneralParams p, const T* __restrict__ x, const void* __restrict__ roi,
                                    T* __restrict__ y, int64_t total) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    AxisTaps taps[kResizeMaxRank];
    int last_extrapolated = -1;
    for (int64_t rest = i, d = p.rank - 1; d >= 0; --d) {
      const int64_t o = rest % p.out[d];
      rest /= p.out[d];
      AxisTaps& t = taps[d];
      if (p.roi_slot[d] < 0) {
        t.count = 1;
        t.extrapolated = false;
        t.index[0] = o;
        t.weight[0] = 1.0;
        continue;
      }
      double roi_start = 0.0, roi_end = 1.0;
      if (roi && p.transform == ResizeCoordinate::kTfCropAndResize) {
        roi_start = loadAsDouble(roi, p.roi_slot[d], p.roi_type);
        roi_end = loadAsDouble(roi, p.roi_slot[d] + p.axes_count, p.roi_type);
      }
      resizeTaps(p, o, p.in[d], p.out[d], p.scale[d], roi_start, roi_end, t);
      if (t.extrapolated && d > last_extrapolated) last_extrapolated = static_cast<int>(d);
    }
    if (last_extrapolated >= 0) {
      // The reference fills the row with the value, and later axes' passes weigh it again.
      double v = p.extrapolation;
      for (int d = last_extrapolated + 1; d < p.rank; ++d) {
        if (taps[d].extrapolated) continue;
        double next = 0.0;
        for (int k = 0; k < taps[d].count; ++k) next += taps[d].weight[k] * v;
        v = next;
      }
      storeDouble(y, i, v);
      continue;
    }
    int tap[kResizeMaxRank] = {};
    double acc = 0.0;
    bool empty = false;  // an axis without taps (all weights zero) sums to nothing, as there
    for (int d = 0; d < p.rank; ++d) empty = empty || taps[d].count == 0;
    while (!empty) {
      double w = 1.0;
      int64_t offset = 0;
      for (int d = 0; d < p.rank; ++d) {
        w *= taps[d].weight[tap[d]];
        offset = offset * p.in[d] + taps[d].index[tap[d]];
      }
      acc += w * loadDouble(x, offset);
      int d = p.rank - 1;
      while (d >= 0 && ++tap[d] == taps[d].count) tap[d--] = 0;
      if (d < 0) break;
    }
    storeDouble(y, i, acc);
  }
}

template <typename T>
__device__ double deformSample(const T* plane, int64_t height, int64_t width, double h, double v) {
  const double h0 = floor(h), v0 = floor(v);
  const double lh = h - h0, lv = v - v0;
  double acc = 0.0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int64_t yy = static_cast<int64_t>(h0) + dy, xx = static_cast<int64_t>(v0) + dx;
      if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
      acc += (dy ? lh : 1.0 - lh) * (dx ? lv : 1.0 - lv) * loadDouble(plane, yy * width + xx);
    }
  return acc;
}

template <typename T>
__global__ void deformConvKernel(DeformConvParams p, const T* __restrict__ x, const T* __restrict__ w,
                                 const T* __restrict__ offset, const T* __restrict__ bias, const T* __restrict__ mask,
                                 T* __restrict__ y) {
  const int64_t total = p.batch * p.out_channels * p.oh * p.ow;
  const int64_t taps = p.kh * p.kw, per_offset_group = p.channels / p.offset_group, ocg = p.out_channels / p.group;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t px = i % p.ow, py = (i / p.ow) % p.oh, m = (i / (p.ow * p.oh)) % p.out_channels;
    const int64_t n = i / (p.ow * p.oh * p.out_channels);
    double acc = bias ? loadDouble(bias, m) : 0.0;
    for (int64_t ci = 0; ci < p.cg; ++ci) {
      const int64_t c = (m / ocg) * p.cg + ci, og = c / per_offset_group;
      const T* plane = x + (n * p.channels + c) * p.height * p.width;
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t ty = t / p.kw, tx = t % p.kw;
        const int64_t ch = og * 2 * taps + 2 * t;
        const double dy = loadDouble(offset, ((n * p.offset_group * 2 * taps + ch) * p.oh + py) * p.ow + px);
        const double dx = loadDouble(offset, ((n * p.offset_group * 2 * taps + ch + 1) * p.oh + py) * p.ow + px);
        const double h = static_cast<double>(py * p.stride_h - p.pad_h + ty * p.dilation_h) + dy;
        const double v = static_cast<double>(px * p.stride_w - p.pad_w + tx * p.dilation_w) + dx;
        const double scale =
            mask ? loadDouble(mask, ((n * p.offset_group * taps + og * taps + t) * p.oh + py) * p.ow + px) : 1.0;
        acc += loadDouble(w, ((m * p.cg + ci) * p.kh + ty) * p.kw + tx) * scale *
               deformSample(plane, p.height, p.width, h, v);
      }
    }
    storeDouble(y, i, acc);
  }
}

}  // namespace

void launchCol2Im(DataType type, const void* x, void* y, const Col2ImGeometry& g, cudaStream_t stream) {
  const int64_t total = g.batch * g.channels * g.pixels;
  if (total == 0) return;
  dispatchFloatingType(type, "Col2Im", [&](auto tag) {
    using T = typename decltype(tag)::type;
    col2ImKernel<T><<<gridFor(total), kThreads, 0, stream>>>(g, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

void launchRoiAlign(DataType type, const void* x, const void* rois, const void* batch_indices, bool indices_int32,
                    void* y, const RoiAlignParams& p, cudaStream_t stream) {
  const int64_t total = p.rois * p.channels * p.out_h * p.out_w;
  if (total == 0) return;
  dispatchFloatingType(type, "RoiAlign", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (indices_int32)
      roiAlignKernel<T, int32_t>
          <<<gridFor(total), kThreads, 0, stream>>>(p, static_cast<const T*>(x), static_cast<const T*>(rois),
                                                    static_cast<const int32_t*>(batch_indices), static_cast<T*>(y));
    else
      roiAlignKernel<T, int64_t>
          <<<gridFor(total), kThreads, 0, stream>>>(p, static_cast<const T*>(x), static_cast<const T*>(rois),
                                                    static_cast<const int64_t*>(batch_indices), static_cast<T*>(y));
  });
}

void launchResizeGeneral(DataType type, const void* x, const void* roi, void* y, const ResizeGeneralParams& p,
                         cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < p.rank; ++d) total *= p.out[d];
  if (total == 0) return;
  dispatchFloatingType(type, "Resize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    resizeGeneralKernel<T>
        <<<gridFor(total), kThreads, 0, stream>>>(p, static_cast<const T*>(x), roi, static_cast<T*>(y), total);
  });
}

void launchDeformConv(DataType type, const void* x, const void* w, const void* offset, const void* bias,
                      const void* mask, void* y, const DeformConvParams& p, cudaStream_t stream) {
  const int64_t total = p.batch * p.out_channels * p.oh * p.ow;
  if (total == 0) return;
  dispatchFloatingType(type, "DeformConv", [&](auto tag) {
    using T = typename decltype(tag)::type;
    deformConvKernel<T><<<gridFor(total), kThreads, 0, stream>>>(
        p, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(offset),
        static_cast<const T*>(bias), static_cast<const T*>(mask), static_cast<T*>(y));
  });
}

}  // namespace kiln::cuda
