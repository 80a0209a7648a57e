// GridSample: each output point denormalizes its grid coordinates to pixel positions, moves
// positions outside the sampling borders as padding_mode says, then sums 1 (nearest), 2^r
// (linear) or 4^r (cubic, Keys kernel with a = -0.75) taps, in the reference's order and in
// double (backends/cpu/kernels/grid_sample.cpp is the specification).
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/grid_sample.h"

namespace kiln::cuda {
namespace {

__device__ double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const auto n = static_cast<int64_t>(dx / range);
    const double rest = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? lo + rest : hi - rest;
  }
  if (x > hi) {
    const double dx = x - hi;
    const auto n = static_cast<int64_t>(dx / range);
    const double rest = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? hi - rest : lo + rest;
  }
  return x;
}

__device__ void cubicWeights(double t, double* w) {
  constexpr double a = -0.75;
  auto near = [](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // |d| <= 1
  auto far = [](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  w[0] = far(t + 1);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = far(2 - t);
}

template <typename T, typename G>
__global__ void gridSampleKernel(const T* __restrict__ x, const G* __restrict__ grid, T* __restrict__ y,
                                 const __grid_constant__ GridSampleGeometry g) {
  constexpr int kMax = GridSampleGeometry::kMaxSpatial;
  const int64_t total = g.batch * g.points;
  int64_t in_size = 1;
  for (int d = 0; d < g.r; ++d) in_size *= g.in[d];
  const bool align = g.align_corners;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t n = t / g.points, p = t - n * g.points;
    int64_t index[kMax][4];
    double weight[kMax][4];
    int count[kMax];
    for (int d = 0; d < g.r; ++d) {
      const double coord = loadDouble(grid, (n * g.points + p) * g.r + (g.r - 1 - d));  // innermost axis first
      const auto size = static_cast<double>(g.in[d]);
      const double lo = align ? 0.0 : -0.5, hi = size - (align ? 1.0 : 0.5);
      double pos = align ? (coord + 1) / 2 * (size - 1) : ((coord + 1) * size - 1) / 2;
      if (g.mode == GridMode::kNearest) pos = nearbyint(pos);
      if (pos < lo || pos > hi) {
        if (g.padding == GridPadding::kBorder) pos = fmin(fmax(pos, 0.0), size - 1);
        if (g.padding == GridPadding::kReflection) pos = reflect(pos, lo, hi);
      }
      auto pixel = [&](int64_t i) -> int64_t {
        if (i >= 0 && i < g.in[d]) return i;
        if (g.padding == GridPadding::kZeros) return -1;
        if (g.padding == GridPadding::kBorder) return i < 0 ? 0 : g.in[d] - 1;
        return static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi));
      };
      if (g.mode == GridMode::kNearest) {
        count[d] = 1;
        index[d][0] = pixel(static_cast<int64_t>(pos));
        weight[d][0] = 1;
        continue;
      }
      const double base = floor(pos), frac = pos - base;
      const bool cubic = g.mode == GridMode::kCubic;
      const auto first = static_cast<int64_t>(base) - (cubic ? 1 : 0);
      count[d] = cubic ? 4 : 2;
      if (cubic) {
        cubicWeights(frac, weight[d]);
      } else {
        weight[d][0] = 1 - frac;
        weight[d][1] = frac;
      }
      for (int k = 0; k < count[d]; ++k) index[d][k] = pixel(first + k);
    }
    for (int64_t c = 0; c < g.channels; ++c) {
      const T* src = x + (n * g.channels + c) * in_size;
      double acc = 0.0;
      int tap[kMax] = {};
      while (true) {  // every combination of one tap per axis, as an odometer over the axes
        double w = 1;
        int64_t offset = 0;
        for (int d = 0; d < g.r && offset >= 0; ++d) {
          const int64_t i = index[d][tap[d]];
          w *= weight[d][tap[d]];
          offset = i < 0 ? -1 : offset * g.in[d] + i;
        }
        if (offset >= 0 && w != 0) acc += w * loadDouble(src, offset);
        int d = g.r - 1;
        while (d >= 0 && ++tap[d] == count[d]) tap[d--] = 0;
        if (d < 0) break;
      }
      T* out = y + (n * g.channels + c) * g.points + p;
      if constexpr (kIsFloat16<T>) *out = convertTo<T>(static_cast<float>(acc));
      else *out = static_cast<T>(acc);
    }
  }
}

}  // namespace

void launchGridSample(DataType x_type, DataType grid_type, const GridSampleGeometry& g, const void* x, const void* grid,
                      void* y, cudaStream_t stream) {
  if (g.batch * g.points == 0 || g.channels == 0) return;
  dispatchFloatingType(x_type, "GridSample", [&](auto xt) {
    using T = typename decltype(xt)::type;
    dispatchFloatingType(grid_type, "GridSample", [&](auto gt) {
      using G = typename decltype(gt)::type;
      gridSampleKernel<T, G><<<gridFor(g.batch * g.points), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<const G*>(grid), static_cast<T*>(y), g);
    });
  });
}

}  // namespace kiln::cuda
