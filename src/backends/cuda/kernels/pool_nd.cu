// The general windowed pooling kernel: one thread per output element walks its window in the
// reference's order (kernel positions row-major), in double. It covers what the fast pooling
// kernels (pool.cu) do not: three spatial dims, integer types, MaxPool's Indices and LpPool.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/pool_nd.h"

namespace kiln::cuda {
namespace {

template <typename T, PoolNdKind kKind>
__global__ void poolNdKernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ indices,
                             const __grid_constant__ PoolNdGeometry g) {
  int64_t out_pixels = 1, in_pixels = 1, kvol = 1;
  for (int d = 0; d < g.nd; ++d) {
    out_pixels *= g.out[d];
    in_pixels *= g.in[d];
    kvol *= g.kernel[d];
  }
  const int64_t total = g.planes * out_pixels;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t plane = i / out_pixels;
    int64_t rest = i - plane * out_pixels;
    int64_t base[PoolNdGeometry::kMaxSpatial] = {};
    for (int d = g.nd - 1; d >= 0; --d) {
      const int64_t o = rest % g.out[d];
      rest /= g.out[d];
      base[d] = o * g.strides[d] - g.pads_begin[d];
    }
    const T* src = x + plane * in_pixels;
    double best = 0.0, sum = 0.0;
    int64_t best_flat = -1, valid = 0, in_padded = 0;
    for (int64_t q = 0; q < kvol; ++q) {
      int64_t qr = q, flat = 0, step = 1;
      bool inside = true, inside_padded = true;
      for (int d = g.nd - 1; d >= 0; --d) {
        const int64_t k = qr % g.kernel[d];
        qr /= g.kernel[d];
        const int64_t c = base[d] + k * g.dilations[d];
        inside = inside && c >= 0 && c < g.in[d];
        inside_padded = inside_padded && c >= -g.pads_begin[d] && c < g.in[d] + g.pads_end[d];
        flat += c * step;
        step *= g.in[d];
      }
      in_padded += inside_padded;
      if (!inside) continue;
      const double v = static_cast<double>(toCompute(src[flat]));
      ++valid;
      if constexpr (kKind == PoolNdKind::kMax) {
        if (best_flat < 0 || v > best) {
          best = v;
          best_flat = flat;
        }
      } else if constexpr (kKind == PoolNdKind::kAverage) {
        sum += v;
      } else {
        sum += pow(fabs(v), g.p);
      }
    }
    double result = 0.0;
    if constexpr (kKind == PoolNdKind::kMax) {
      result = best_flat < 0 ? 0.0 : best;
      if (indices) {
        int64_t index = -1;
        if (best_flat >= 0) {
          index = best_flat;
          if (g.column_major) {  // the spatial coordinates re-linearized first-fastest
            int64_t f = best_flat, s = 1;
            int64_t coord[PoolNdGeometry::kMaxSpatial] = {};
            for (int d = g.nd - 1; d >= 0; --d) {
              coord[d] = f % g.in[d];
              f /= g.in[d];
            }
            index = 0;
            for (int d = 0; d < g.nd; ++d) {
              index += coord[d] * s;
              s *= g.in[d];
            }
          }
          index += plane * in_pixels;
        }
        indices[i] = index;
      }
    } else if constexpr (kKind == PoolNdKind::kAverage) {
      const int64_t divisor = g.count_include_pad ? in_padded : valid;
      result = divisor > 0 ? sum / static_cast<double>(divisor) : 0.0;
    } else {
      result = pow(sum, 1.0 / g.p);
    }
    if constexpr (std::is_integral_v<T>) y[i] = static_cast<T>(result);
    else y[i] = convertTo<T>(static_cast<Compute<T>>(result));
  }
}

template <typename T, PoolNdKind kKind>
void launchTyped(const PoolNdGeometry& g, const void* x, void* y, int64_t* indices, cudaStream_t stream) {
  int64_t outputs = g.planes;
  for (int d = 0; d < g.nd; ++d) outputs *= g.out[d];
  if (outputs == 0) return;
  poolNdKernel<T, kKind>
      <<<gridFor(outputs), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), indices, g);
}

}  // namespace

void launchPoolNd(PoolNdKind kind, DataType type, const PoolNdGeometry& g, const void* x, void* y, int64_t* indices,
                  cudaStream_t stream) {
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      throw Error(ErrorCode::kInternal, "cuda.pool_nd: no bool pooling");
    } else {
      switch (kind) {
        case PoolNdKind::kMax: launchTyped<T, PoolNdKind::kMax>(g, x, y, indices, stream); break;
        case PoolNdKind::kAverage:
          if constexpr (kIsFloating<T>) launchTyped<T, PoolNdKind::kAverage>(g, x, y, indices, stream);
          else throw Error(ErrorCode::kInternal, "cuda.pool_nd: AveragePool of an integer type");
          break;
        case PoolNdKind::kLp:
          if constexpr (kIsFloating<T>) launchTyped<T, PoolNdKind::kLp>(g, x, y, indices, stream);
          else throw Error(ErrorCode::kInternal, "cuda.pool_nd: LpPool of an integer type");
          break;
      }
    }
  });
}

}  // namespace kiln::cuda
