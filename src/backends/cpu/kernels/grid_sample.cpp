// Reference kernel of GridSample (see src/ir/ops/grid_sample.cpp for the layouts). Each output
// point denormalizes its grid coordinates to pixel positions, moves positions outside the
// sampling borders as padding_mode says, then sums 1 (nearest), 2^r (linear) or 4^r (cubic,
// Keys kernel with a = -0.75) taps; a tap outside X reads 0 (zeros), the nearest edge pixel
// (border) or its mirror image (reflection). The order of these steps follows the ONNX
// reference implementation, whose results the conformance cases hold.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

enum class Padding { kZeros, kBorder, kReflection };

//! Mirrors x into [lo, hi] as often as needed (a border of width 0 leaves only lo).
double reflect(double x, double lo, double hi) {
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

std::array<double, 4> cubicWeights(double t) {
  constexpr double a = -0.75;
  const auto near = [](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // |d| <= 1
  const auto far = [](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  return {far(t + 1), near(t), near(1 - t), far(2 - t)};
}

//! The taps along one spatial axis: pixel index (-1 where it reads zero padding) and weight.
struct Taps {
  std::array<int64_t, 4> index{};
  std::array<double, 4> weight{};
  int count = 0;
};

KILN_REFERENCE_KERNEL(GridSample, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& xs = x.shape();
  const auto r = static_cast<int64_t>(xs.size()) - 2;
  const std::string mode = ctx.attrs().s("mode", ctx.opset >= 20 ? "linear" : "bilinear");
  const bool nearest = mode == "nearest", cubic = mode == "cubic" || mode == "bicubic";
  const std::string padding_name = ctx.attrs().s("padding_mode", "zeros");
  const Padding padding = padding_name == "border"       ? Padding::kBorder
                          : padding_name == "reflection" ? Padding::kReflection
                                                         : Padding::kZeros;
  const bool align = ctx.attrs().i("align_corners", 0) != 0;
  const std::vector<double> grid = ctx.in(1).toDouble();
  const int64_t batch = xs[0], channels = xs[1];
  int64_t in_size = 1, points = 1;
  for (int64_t d = 0; d < r; ++d) in_size *= xs[2 + d];
  for (int64_t d = 0; d < r; ++d) points *= ctx.in(1).shape()[1 + d];
  // Positions past [lo, hi] are padded: the pixel edges, or the pixel centres with align_corners.
  const auto lo = [&](int64_t) { return align ? 0.0 : -0.5; };
  const auto hi = [&](int64_t d) { return static_cast<double>(xs[2 + d]) - (align ? 1.0 : 0.5); };
  const auto pixel = [&](int64_t i, int64_t d) -> int64_t {
    const int64_t size = xs[2 + d];
    if (i >= 0 && i < size) return i;
    if (padding == Padding::kZeros) return -1;
    if (padding == Padding::kBorder) return i < 0 ? 0 : size - 1;
    return static_cast<int64_t>(reflect(static_cast<double>(i), lo(d), hi(d)));
  };
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    std::vector<Taps> taps(static_cast<size_t>(r));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t p = 0; p < points; ++p) {
        const double* g = grid.data() + (n * points + p) * r;
        for (int64_t d = 0; d < r; ++d) {
          const double coord = g[r - 1 - d];  // the grid lists the innermost axis first
          const auto size = static_cast<double>(xs[2 + d]);
          double pos = align ? (coord + 1) / 2 * (size - 1) : ((coord + 1) * size - 1) / 2;
          if (nearest) pos = std::nearbyint(pos);
          if (pos < lo(d) || pos > hi(d)) {
            if (padding == Padding::kBorder) pos = std::clamp(pos, 0.0, size - 1);
            if (padding == Padding::kReflection) pos = reflect(pos, lo(d), hi(d));
          }
          Taps& t = taps[d];
          if (nearest) {
            t.count = 1;
            t.index[0] = pixel(static_cast<int64_t>(pos), d);
            t.weight[0] = 1;
            continue;
          }
          const double base = std::floor(pos), frac = pos - base;
          const auto first = static_cast<int64_t>(base) - (cubic ? 1 : 0);
          t.count = cubic ? 4 : 2;
          if (cubic) t.weight = cubicWeights(frac);
          else t.weight = {1 - frac, frac, 0, 0};
          for (int k = 0; k < t.count; ++k) t.index[k] = pixel(first + k, d);
        }
        // Walk every combination of one tap per axis, as an odometer over the axes.
        std::vector<double> acc(static_cast<size_t>(channels), 0.0);
        std::vector<int> tap(static_cast<size_t>(r), 0);
        while (true) {
          double w = 1;
          int64_t offset = 0;
          for (int64_t d = 0; d < r && offset >= 0; ++d) {
            const int64_t i = taps[d].index[tap[d]];
            w *= taps[d].weight[tap[d]];
            offset = i < 0 ? -1 : offset * xs[2 + d] + i;
          }
          if (offset >= 0 && w != 0)
            for (int64_t c = 0; c < channels; ++c)
              acc[c] += w * static_cast<double>(src[(n * channels + c) * in_size + offset]);
          int64_t d = r - 1;
          while (d >= 0 && ++tap[d] == taps[d].count) tap[d--] = 0;
          if (d < 0) break;
        }
        for (int64_t c = 0; c < channels; ++c) dst[(n * channels + c) * points + p] = static_cast<T>(acc[c]);
      }
  });
});

}  // namespace
}  // namespace kiln::cpu
