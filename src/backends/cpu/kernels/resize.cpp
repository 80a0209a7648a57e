// Reference kernel of Resize. Interpolation is separable: each resized axis is one pass over
// the data in double precision, with per-output-position taps (source index, weight) computed
// exactly as the ONNX reference does (edge-padded neighbours, ratio in (0, 1]; antialiased
// downsampling with a filter widened by 1 / scale). Nearest mode
// is a pure copy through per-axis index tables, so it serves every element type.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backends/cpu/kernels/axis_map.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/movement_math.h"

namespace kiln::cpu {
namespace {

struct ResizeParams {
  std::string mode, transform, nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;  //!< linear / cubic downsampling widens the filter by 1 / scale
  double extrapolation = 0.0;
};

//! Taps of one output position: `first` index of a window of weights (indices already
//! clamped into the input), or extrapolated.
struct Taps {
  bool extrapolated = false;
  std::vector<int64_t> index;
  std::vector<double> weight;
};

std::vector<double> cubicCoeffs(double r, double a) {
  return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
          ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
          ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a};
}

//! Antialiased weights of a downsampling (scale < 1) linear or cubic resize, as the ONNX
//! reference computes them: the kernel stretched by 1 / scale, sampled at scale * (i - ratio)
//! for the taps i around the source coordinate, normalized to sum to 1.
std::vector<double> antialiasCoeffs(const ResizeParams& p, double ratio, double scale) {
  const bool cubic = p.mode == "cubic";
  const double a = p.cubic_a;
  auto kernel = [&](double x) {
    x = std::abs(x);
    if (!cubic) return std::clamp(1.0 - x, 0.0, 1.0);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
  };
  const int64_t start = static_cast<int64_t>(std::floor((cubic ? -2.0 : -1.0) / scale)) + 1;
  std::vector<double> coeffs;
  double sum = 0;
  for (int64_t i = start; i < 2 - start; ++i) {
    coeffs.push_back(kernel(scale * (static_cast<double>(i) - ratio)));
    sum += coeffs.back();
  }
  for (double& c : coeffs) c /= sum;
  return coeffs;
}

//! Input coordinate of output position x (ONNX coordinate_transformation_mode).
double sourceCoordinate(const ResizeParams& p, double x, int64_t in, int64_t out, double scale, double roi_start,
                        double roi_end) {
  double out_width = scale * static_cast<double>(in);  // as the ONNX reference: not rounded
  double in_d = static_cast<double>(in);
  const std::string& t = p.transform;
  if (t == "align_corners") return out_width == 1 ? 0.0 : x * (in_d - 1) / (out_width - 1);
  if (t == "asymmetric") return x / scale;
  if (t == "tf_crop_and_resize") {
    double v = out_width == 1 ? (roi_end - roi_start) * (in_d - 1) / 2
                              : x * (roi_end - roi_start) * (in_d - 1) / (out_width - 1);
    return v + roi_start * (in_d - 1);
  }
  if (t == "pytorch_half_pixel") return out_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (t == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (t == "half_pixel_symmetric") {
    double adjustment = static_cast<double>(out) / out_width;
    double offset = in_d / 2 * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

Taps tapsAt(const ResizeParams& p, int64_t x, int64_t in, int64_t out, double scale, double roi_start, double roi_end) {
  Taps taps;
  double xo = sourceCoordinate(p, static_cast<double>(x), in, out, scale, roi_start, roi_end);
  if (p.transform == "tf_crop_and_resize" && (xo < 0 || xo > static_cast<double>(in - 1))) {
    taps.extrapolated = true;
    return taps;
  }
  // base = the window's left centre, ratio in (0, 1]: an integral coordinate prefers the left.
  double fl = std::floor(xo);
  double ratio = xo - fl;
  int64_t base = static_cast<int64_t>(fl);
  if (ratio == 0) {
    ratio = 1;
    base -= 1;
  }
  std::vector<double> coeffs;
  if (p.mode == "nearest") {
    bool right = ratio == 1 || (p.nearest_mode == "round_prefer_floor" && ratio > 0.5) ||
                 (p.nearest_mode == "round_prefer_ceil" && ratio >= 0.5) || p.nearest_mode == "ceil";
    coeffs = {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
  } else if (p.antialias && scale < 1.0) {
    coeffs = antialiasCoeffs(p, ratio, scale);
  } else if (p.mode == "linear") {
    coeffs = {1 - ratio, ratio};
  } else {
    coeffs = cubicCoeffs(ratio, p.cubic_a);
  }
  int64_t n = static_cast<int64_t>(coeffs.size()), pad = n / 2;
  int64_t first = base - (n / 2 - 1);
  // The ONNX reference picks the n nearest positions of the edge-padded axis.
  first = std::min(std::max(first, -pad), in - 1 + pad - (n - 1));
  if (p.exclude_outside) {
    double sum = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (first + t < 0 || first + t >= in) coeffs[t] = 0;
      sum += coeffs[t];
    }
    if (sum != 0)
      for (double& c : coeffs) c /= sum;
  }
  for (int64_t t = 0; t < n; ++t) {
    if (coeffs[t] == 0) continue;
    taps.index.push_back(std::clamp<int64_t>(first + t, 0, in - 1));
    taps.weight.push_back(coeffs[t]);
  }
  return taps;
}

KILN_REFERENCE_KERNEL(Resize, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  const ir::Attributes& a = ctx.attrs();
  ResizeParams p{.mode = a.s("mode", "nearest"),
                 .transform = a.s("coordinate_transformation_mode", "half_pixel"),
                 .nearest_mode = a.s("nearest_mode", "round_prefer_floor"),
                 .cubic_a = a.f("cubic_coeff_a", -0.75f),
                 .exclude_outside = a.i("exclude_outside", 0) != 0,
                 .antialias = a.i("antialias", 0) != 0,
                 .extrapolation = a.f("extrapolation_value", 0.0f)};
  size_t rank = in.shape().size();
  std::vector<int64_t> axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  if (a.has("axes")) {
    axes = a.ints("axes");
    for (int64_t& x : axes)
      if (x < 0) x += static_cast<int64_t>(rank);
  }
  auto given = [&](int i) { return ctx.has(i) && ctx.in(i).numel() > 0; };
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (given(2)) scales = ctx.in(2).toDouble();
  else sizes = ctx.in(3).toInt64();
  ir::ResizeAxes r;
  std::string err = ir::resizeAxes(in.shape(), axes, given(2) ? &scales : nullptr, given(2) ? nullptr : &sizes,
                                   a.s("keep_aspect_ratio_policy", "stretch"), r);
  if (!err.empty()) ctx.unsupported(err);
  std::vector<double> roi_start(rank, 0.0), roi_end(rank, 1.0);
  if (p.transform == "tf_crop_and_resize" && given(1)) {
    std::vector<double> roi = ctx.in(1).toDouble();
    if (roi.size() != 2 * axes.size()) ctx.unsupported("roi must hold a start and an end per resized axis");
    for (size_t i = 0; i < axes.size(); ++i) {
      roi_start[axes[i]] = roi[i];
      roi_end[axes[i]] = roi[i + axes.size()];
    }
  }
  if (out.numel() == 0) return;
  std::vector<std::vector<Taps>> taps(rank);
  for (size_t d = 0; d < rank; ++d) {
    int64_t n_out = out.shape()[d], n_in = in.shape()[d];
    bool resized = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
    for (int64_t x = 0; x < n_out; ++x) {
      if (!resized) taps[d].push_back(Taps{.index = {x}, .weight = {1.0}});
      else taps[d].push_back(tapsAt(p, x, n_in, n_out, r.scales[d], roi_start[d], roi_end[d]));
    }
  }

  if (p.mode == "nearest") {
    std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
    AxisTables tables(rank);
    for (size_t d = 0; d < rank; ++d)
      for (const Taps& t : taps[d]) tables[d].push_back(t.extrapolated ? kOutside : t.index[0] * strides[d]);
    double fill_value = p.extrapolation;
    ir::Tensor fill = ir::Tensor::fromDouble(in.type(), {}, std::span<const double>(&fill_value, 1));
    mapCopy(in, out, tables, fill.raw());
    return;
  }

  // One pass per axis whose taps are not the identity.
  std::vector<double> cur = in.toDouble();
  ir::Shape shape = in.shape();
  for (size_t d = 0; d < rank; ++d) {
    const std::vector<Taps>& td = taps[d];
    bool identity = static_cast<int64_t>(td.size()) == shape[d];
    for (size_t x = 0; identity && x < td.size(); ++x)
      identity = !td[x].extrapolated && td[x].index.size() == 1 && td[x].index[0] == static_cast<int64_t>(x) &&
                 td[x].weight[0] == 1.0;
    if (identity) continue;
    int64_t outer = 1, inner = 1, n_in = shape[d], n_out = static_cast<int64_t>(td.size());
    for (size_t k = 0; k < d; ++k) outer *= shape[k];
    for (size_t k = d + 1; k < rank; ++k) inner *= shape[k];
    std::vector<double> next(static_cast<size_t>(outer * n_out * inner));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t x = 0; x < n_out; ++x) {
        double* dst = next.data() + (o * n_out + x) * inner;
        const Taps& t = td[x];
        if (t.extrapolated) {
          std::fill(dst, dst + inner, p.extrapolation);
          continue;
        }
        std::fill(dst, dst + inner, 0.0);
        for (size_t k = 0; k < t.index.size(); ++k) {
          const double* src = cur.data() + (o * n_in + t.index[k]) * inner;
          double w = t.weight[k];
          for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
        }
      }
    cur = std::move(next);
    shape[d] = n_out;
  }
  ir::Tensor result = ir::Tensor::fromDouble(out.type(), out.shape(), cur);
  std::memcpy(out.raw(), result.raw(), result.byteSize());
});

}  // namespace
}  // namespace kiln::cpu
