// Index arithmetic shared by the shape rules and the kernels of the data-movement operators
// (Slice clamping, Split sizes, Resize output sizes and scales), so that both agree exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace kiln::ir {

//! One sliced axis: the first input index, the step (never 0) and the output length.
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t length = 0;
};

//! ONNX Slice clamping of (start, end, step) against a known `dim` (step != 0).
inline SliceRange sliceRange(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return {0, step, 0};
  if (start < 0) start = start < -dim ? -1 : start + dim;  // below -dim: clamped below
  if (end < 0) end = end < -dim ? -1 : end + dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
  }
  int64_t length = 0;
  if (step > 0 && end > start) length = (end - start + step - 1) / step;
  if (step < 0 && end < start) length = (start - end + (-step) - 1) / (-step);
  return {start, step, length};
}

//! Sizes of Split's outputs along a known dim `dim` from num_outputs (opset 18 rule: equal
//! chunks of ceil(dim / n), the last one smaller). Empty when n does not fit.
inline std::vector<int64_t> splitEqually(int64_t dim, int64_t n) {
  std::vector<int64_t> sizes;
  if (n <= 0) return sizes;
  int64_t chunk = (dim + n - 1) / n;
  for (int64_t i = 0; i < n; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - chunk * i)));
  return sizes;
}

//! Resize's per-axis scale and output size. `policy` is keep_aspect_ratio_policy.
//! From sizes: scale = out / in (or one common scale under not_larger / not_smaller).
struct ResizeAxes {
  std::vector<double> scales;  //!< per axis of the input (1 for axes not resized)
  std::vector<int64_t> sizes;  //!< output dims
};

//! Fills `result` for an input of known dims `in`; `axes` are normalized and distinct; exactly
//! one of `scales` / `sizes` is non-null, each with one entry per axis. Returns an error
//! message, empty on success.
inline std::string resizeAxes(const std::vector<int64_t>& in, const std::vector<int64_t>& axes,
                              const std::vector<double>* scales, const std::vector<int64_t>* sizes,
                              const std::string& policy, ResizeAxes& result) {
  result.scales.assign(in.size(), 1.0);
  result.sizes = in;
  if (scales) {
    for (size_t a = 0; a < axes.size(); ++a) {
      double s = (*scales)[a];
      if (!(s > 0)) return "scales must be positive, got " + std::to_string(s);
      result.scales[axes[a]] = s;
      result.sizes[axes[a]] = static_cast<int64_t>(std::floor(static_cast<double>(in[axes[a]]) * s));
    }
    return {};
  }
  if (policy == "stretch") {
    for (size_t a = 0; a < axes.size(); ++a) {
      int64_t d = in[axes[a]], o = (*sizes)[a];
      if (o < 0) return "sizes must not be negative, got " + std::to_string(o);
      result.sizes[axes[a]] = o;
      result.scales[axes[a]] = d == 0 ? 1.0 : static_cast<double>(o) / static_cast<double>(d);
    }
    return {};
  }
  if (policy != "not_larger" && policy != "not_smaller")
    return "keep_aspect_ratio_policy '" + policy + "' is not one of stretch, not_larger, not_smaller";
  double common = policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
  for (size_t a = 0; a < axes.size(); ++a) {
    int64_t d = in[axes[a]];
    if (d == 0) continue;
    double s = static_cast<double>((*sizes)[a]) / static_cast<double>(d);
    common = policy == "not_larger" ? std::min(common, s) : std::max(common, s);
  }
  if (!std::isfinite(common) || common <= 0) common = 1.0;
  for (int64_t axis : axes) {
    result.scales[axis] = common;
    result.sizes[axis] = static_cast<int64_t>(std::floor(static_cast<double>(in[axis]) * common + 0.5));
  }
  return {};
}

}  // namespace kiln::ir
