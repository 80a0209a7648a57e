#include "ir/ops/window.h"

#include <algorithm>

#include "kiln/errors.h"

namespace kiln::ir {
namespace {

[[noreturn]] void invalid(const Attributes& attrs, const std::string& message) {
  throw Error(ErrorCode::kInvalidModel, attrs.owner + ": " + message);
}

std::vector<int64_t> perDim(const Attributes& attrs, const char* name, size_t n, int64_t fallback, int64_t min) {
  std::vector<int64_t> v = attrs.ints(name, std::vector<int64_t>(n, fallback));
  if (v.size() != n)
    invalid(attrs, std::string("attribute '") + name + "' has " + std::to_string(v.size()) + " values, expected " +
                       std::to_string(n) + " (one per spatial dimension)");
  for (int64_t x : v)
    if (x < min) invalid(attrs, std::string("attribute '") + name + "' has the invalid value " + std::to_string(x));
  return v;
}

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

AutoPad autoPad(const Attributes& attrs) {
  std::string s = attrs.s("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  invalid(attrs, "attribute 'auto_pad' has the unknown value '" + s + "'");
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

Window resolveWindow(const Attributes& attrs, const Shape& in_spatial, std::vector<int64_t> kernel, bool allow_ceil) {
  const size_t n = kernel.size();
  if (in_spatial.size() != n)
    invalid(attrs, "the kernel has " + std::to_string(n) + " spatial dimensions but the input has " +
                       std::to_string(in_spatial.size()));
  Window w;
  w.kernel = std::move(kernel);
  w.strides = perDim(attrs, "strides", n, 1, 1);
  w.dilations = perDim(attrs, "dilations", n, 1, 1);
  std::vector<int64_t> pads = attrs.ints("pads", std::vector<int64_t>(2 * n, 0));
  if (pads.size() != 2 * n)
    invalid(attrs, "attribute 'pads' has " + std::to_string(pads.size()) + " values, expected " + std::to_string(2 * n));
  for (int64_t p : pads)
    if (p < 0) invalid(attrs, "attribute 'pads' has the negative value " + std::to_string(p));
  const AutoPad mode = autoPad(attrs);
  const bool ceil_mode = allow_ceil && attrs.i("ceil_mode", 0) != 0;
  w.pads_begin.assign(n, 0);
  w.pads_end.assign(n, 0);
  w.out.assign(n, kUnknownDim);
  for (size_t i = 0; i < n; ++i) {
    if (mode == AutoPad::kNotSet) {
      w.pads_begin[i] = pads[i];
      w.pads_end[i] = pads[i + n];
    }
    const int64_t in = in_spatial[i];
    if (!isKnown(in) || !isKnown(w.kernel[i])) continue;
    if (w.kernel[i] < 1) invalid(attrs, "kernel dimension " + std::to_string(i) + " is " + std::to_string(w.kernel[i]));
    const int64_t s = w.strides[i];
    // Kernel, dilation and pads come from files: sums past int64 are invalid, not overflows.
    const std::string dim = "spatial dimension " + std::to_string(i);
    int64_t extent = 0;
    if (__builtin_mul_overflow(w.kernel[i] - 1, w.dilations[i], &extent) || __builtin_add_overflow(extent, 1, &extent))
      invalid(attrs, "the window of " + dim + " (kernel " + std::to_string(w.kernel[i]) + ", dilation " +
                         std::to_string(w.dilations[i]) + ") is too large");
    int64_t out = 0;
    switch (mode) {
      case AutoPad::kNotSet: {
        int64_t span = 0;
        if (__builtin_add_overflow(in, w.pads_begin[i], &span) || __builtin_add_overflow(span, w.pads_end[i], &span))
          invalid(attrs, "the padding of " + dim + " is too large");
        span -= extent;  // both non-negative: no overflow
        if (span < 0) break;
        out = (ceil_mode ? ceilDiv(span, s) : span / s) + 1;
        // As in PyTorch and the ONNX reference: the last window must start inside the input
        // or its left padding, never entirely in the right padding.
        if (ceil_mode && (out - 1) * s >= in + w.pads_begin[i]) --out;
        break;
      }
      case AutoPad::kValid:
        out = in >= extent ? (in - extent) / s + 1 : 0;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out = ceilDiv(in, s);
        int64_t reach = 0;  // (out - 1) * s <= in, so only the extent can overflow
        if (__builtin_add_overflow((out - 1) * s, extent, &reach))
          invalid(attrs, "the window of " + dim + " is too large");
        const int64_t total = std::max<int64_t>(0, reach - in);
        const int64_t small = total / 2;
        w.pads_begin[i] = mode == AutoPad::kSameUpper ? small : total - small;
        w.pads_end[i] = total - w.pads_begin[i];
        break;
      }
    }
    if (out < 1 && in > 0)
      invalid(attrs, "the window (extent " + std::to_string(extent) + ") does not fit spatial dimension " +
                         std::to_string(i) + " of size " + std::to_string(in) + " with its padding");
    w.out[i] = std::max<int64_t>(out, 0);
  }
  return w;
}

TransposedWindow resolveTransposedWindow(const Attributes& attrs, const Shape& in_spatial, std::vector<int64_t> kernel) {
  const size_t n = kernel.size();
  if (in_spatial.size() != n)
    invalid(attrs, "the kernel has " + std::to_string(n) + " spatial dimensions but the input has " +
                       std::to_string(in_spatial.size()));
  TransposedWindow t;
  Window& w = t.window;
  w.kernel = std::move(kernel);
  w.strides = perDim(attrs, "strides", n, 1, 1);
  w.dilations = perDim(attrs, "dilations", n, 1, 1);
  t.output_padding = perDim(attrs, "output_padding", n, 0, 0);
  std::vector<int64_t> pads = attrs.ints("pads", std::vector<int64_t>(2 * n, 0));
  if (pads.size() != 2 * n)
    invalid(attrs, "attribute 'pads' has " + std::to_string(pads.size()) + " values, expected " + std::to_string(2 * n));
  std::vector<int64_t> output_shape = attrs.ints("output_shape", {});
  if (output_shape.size() == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != n)
    invalid(attrs, "attribute 'output_shape' has " + std::to_string(output_shape.size()) + " values, expected " +
                       std::to_string(n));
  const AutoPad mode = autoPad(attrs);
  w.pads_begin.assign(n, 0);
  w.pads_end.assign(n, 0);
  w.out.assign(n, kUnknownDim);
  for (size_t i = 0; i < n; ++i) {
    const int64_t s = w.strides[i];
    if (t.output_padding[i] >= std::max(s, w.dilations[i]))
      invalid(attrs, "output_padding " + std::to_string(t.output_padding[i]) +
                         " must be smaller than the stride or the dilation");
    if (mode == AutoPad::kNotSet && output_shape.empty()) {
      w.pads_begin[i] = pads[i];
      w.pads_end[i] = pads[i + n];
    }
    const int64_t in = in_spatial[i];
    if (!output_shape.empty()) w.out[i] = output_shape[i];
    if (!isKnown(in) || !isKnown(w.kernel[i])) continue;
    const int64_t full = s * (in - 1) + t.output_padding[i] + (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t total = 0;
    if (!output_shape.empty()) {
      total = full - output_shape[i];
    } else if (mode == AutoPad::kSameUpper || mode == AutoPad::kSameLower) {
      w.out[i] = in * s;
      total = full - w.out[i];
    } else {
      w.out[i] = full - w.pads_begin[i] - w.pads_end[i];
      if (w.out[i] < 0)
        invalid(attrs, "the padding is larger than the output of spatial dimension " + std::to_string(i));
      continue;
    }
    // ONNX ConvTranspose: SAME_UPPER puts the odd pad at the end, otherwise at the start. A
    // negative total (output_shape larger than the full output) extends the output at the
    // end; floor division keeps that as in the ONNX reference.
    const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    if (mode == AutoPad::kSameUpper) {
      w.pads_begin[i] = half;
      w.pads_end[i] = total - half;
    } else {
      w.pads_begin[i] = total - half;
      w.pads_end[i] = half;
    }
  }
  return t;
}

}  // namespace kiln::ir
