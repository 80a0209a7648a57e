// Spatial kernels of "cuda.spatial" (the provider is cuda_spatial.cpp). Col2Im gathers: one
// thread per output element walks the block's elements in order and adds the column whose
// window puts that element on it (the reference scatters block element by block element, so
// each output element sees the same additions in the same order), in double. RoiAlign: one
// thread per output bin, the reference's sampling arithmetic in double.
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

}  // namespace kiln::cuda
