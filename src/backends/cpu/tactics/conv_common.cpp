#include "backends/cpu/tactics/conv_common.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/conv_epilogue.h"
#include "backends/cpu/tactics/gemm_kernel.h"
#include "kiln/errors.h"

namespace kiln::cpu::tactics {
namespace {

bool fail(std::string* why, const std::string& message) {
  if (why) *why = message;
  return false;
}

//! Output size and begin/end pads of one spatial dim.
void resolveDim(ConvAutoPad mode, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, int64_t& out,
                int64_t& begin) {
  const int64_t extent = (k - 1) * d + 1;
  begin = pb;
  switch (mode) {
    case ConvAutoPad::kNotSet: {
      const int64_t span = in + pb + pe - extent;
      out = span < 0 ? 0 : span / s + 1;
      break;
    }
    case ConvAutoPad::kValid:
      begin = 0;
      out = in >= extent ? (in - extent) / s + 1 : 0;
      break;
    case ConvAutoPad::kSameUpper:
    case ConvAutoPad::kSameLower: {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      begin = mode == ConvAutoPad::kSameUpper ? total / 2 : total - total / 2;
      break;
    }
  }
}

}  // namespace

bool ConvParams::pointwise() const {
  if (kh != 1 || kw != 1 || sh != 1 || sw != 1) return false;
  // A 1x1 window with stride 1 needs no padding under VALID or SAME_*.
  if (auto_pad != ConvAutoPad::kNotSet) return true;
  return pad_t == 0 && pad_l == 0 && pad_b == 0 && pad_r == 0;
}

bool parseConv(const backend::LayerView& layer, ConvParams& p, std::string* why) {
  const ir::Attributes& attrs = layer.attrs();
  if (layer.inputs.size() < 2 || layer.outputs.empty()) return fail(why, "Conv needs X and W");
  if (layer.node->op == "FusedConv" && ir::convChannelsLast(attrs)) return fail(why, "only NCHW (layout NHWC)");
  const ir::Shape& x = layer.inputs[0].shape;
  const ir::Shape& w = layer.inputs[1].shape;
  if (x.size() != 3 && x.size() != 4) return fail(why, "only 1-D and 2-D convolutions");
  if (w.size() != x.size()) return fail(why, "W and X ranks differ");
  for (int64_t d : w)
    if (d < 0) return fail(why, "W has unknown dims");
  p.spatial = static_cast<int>(x.size()) - 2;
  p.group = attrs.i("group", 1);
  if (p.group < 1 || w[0] % p.group != 0) return fail(why, "bad group");
  const size_t n = static_cast<size_t>(p.spatial);
  std::vector<int64_t> strides = attrs.ints("strides", std::vector<int64_t>(n, 1));
  std::vector<int64_t> dilations = attrs.ints("dilations", std::vector<int64_t>(n, 1));
  std::vector<int64_t> pads = attrs.ints("pads", std::vector<int64_t>(2 * n, 0));
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n) return fail(why, "bad attribute sizes");
  for (size_t i = 0; i < n; ++i)
    if (strides[i] < 1 || dilations[i] < 1 || pads[i] < 0 || pads[i + n] < 0) return fail(why, "bad attribute values");
  const std::string mode = attrs.s("auto_pad", "NOTSET");
  if (mode == "NOTSET" || mode.empty()) p.auto_pad = ConvAutoPad::kNotSet;
  else if (mode == "SAME_UPPER") p.auto_pad = ConvAutoPad::kSameUpper;
  else if (mode == "SAME_LOWER") p.auto_pad = ConvAutoPad::kSameLower;
  else if (mode == "VALID") p.auto_pad = ConvAutoPad::kValid;
  else return fail(why, "unknown auto_pad '" + mode + "'");
  if (p.spatial == 2) {
    p.kh = w[2];
    p.kw = w[3];
    p.sh = strides[0];
    p.sw = strides[1];
    p.dh = dilations[0];
    p.dw = dilations[1];
    p.pad_t = pads[0];
    p.pad_l = pads[1];
    p.pad_b = pads[2];
    p.pad_r = pads[3];
  } else {
    p.kh = p.sh = p.dh = 1;
    p.pad_t = p.pad_b = 0;
    p.kw = w[2];
    p.sw = strides[0];
    p.dw = dilations[0];
    p.pad_l = pads[0];
    p.pad_r = pads[1];
  }
  if (p.auto_pad != ConvAutoPad::kNotSet) p.pad_t = p.pad_l = p.pad_b = p.pad_r = 0;
  if (p.kh < 1 || p.kw < 1) return fail(why, "empty kernel");
  return true;
}

ConvShape convShape(const ConvParams& p, const backend::LayerView& layer) {
  const ir::Shape& x = layer.inputs[0].shape;
  const ir::Shape& w = layer.inputs[1].shape;
  ConvShape s;
  s.n = x[0];
  s.c = x[1];
  s.h = p.spatial == 2 ? x[2] : 1;
  s.w = x.back();
  s.oc = w[0];
  s.ocg = s.oc / p.group;
  s.cg = s.c / p.group;
  s.kdim = s.cg * p.kh * p.kw;
  if (p.spatial == 2) {
    resolveDim(p.auto_pad, s.h, p.kh, p.sh, p.dh, p.pad_t, p.pad_b, s.oh, s.pad_t);
  } else {
    s.oh = 1;
    s.pad_t = 0;
  }
  resolveDim(p.auto_pad, s.w, p.kw, p.sw, p.dw, p.pad_l, p.pad_r, s.ow, s.pad_l);
  const ir::Shape& y = layer.outputs[0].shape;
  const bool matches = y.size() == x.size() && y[0] == s.n && y[1] == s.oc && y.back() == s.ow &&
                       (p.spatial == 1 || y[2] == s.oh) && s.c == s.cg * p.group && w[1] == s.cg;
  if (!matches)
    throw Error(ErrorCode::kRuntime, layer.node->describe() + ": the output shape " + toString(y) +
                                         " does not match the convolution of " + toString(x) + " by " + toString(w));
  return s;
}

void im2col(const ConvParams& p, const ConvShape& s, const float* x, float* col) {
  const int64_t ow = s.ow, pixels = s.pixels();
  for (int64_t c = 0; c < s.cg; ++c) {
    const float* plane = x + c * s.h * s.w;
    for (int64_t ki = 0; ki < p.kh; ++ki) {
      for (int64_t kj = 0; kj < p.kw; ++kj) {
        float* row = col + ((c * p.kh + ki) * p.kw + kj) * pixels;
        // Output columns whose input column lies inside the image: [lo, hi).
        const int64_t iw0 = kj * p.dw - s.pad_l;
        const int64_t lo = iw0 >= 0 ? 0 : std::min<int64_t>(ow, (-iw0 + p.sw - 1) / p.sw);
        const int64_t hi = s.w - iw0 > 0 ? std::clamp<int64_t>((s.w - iw0 + p.sw - 1) / p.sw, lo, ow) : lo;
        for (int64_t oy = 0; oy < s.oh; ++oy) {
          float* out = row + oy * ow;
          const int64_t ih = oy * p.sh - s.pad_t + ki * p.dh;
          if (ih < 0 || ih >= s.h) {
            std::fill(out, out + ow, 0.0f);
            continue;
          }
          const float* in = plane + ih * s.w;
          std::fill(out, out + lo, 0.0f);
          if (p.sw == 1) {
            if (hi > lo) std::memcpy(out + lo, in + lo + iw0, static_cast<size_t>(hi - lo) * sizeof(float));
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = in[ox * p.sw + iw0];
          }
          std::fill(out + hi, out + ow, 0.0f);
        }
      }
    }
  }
}

size_t im2colBytes(const ConvParams& p, const backend::LayerView& layer) {
  if (p.pointwise()) return 0;
  const ir::Shape& w = layer.inputs[1].shape;
  const ir::Shape& y = layer.outputs[0].shape;
  int64_t pixels = 1;
  for (size_t d = 2; d < y.size(); ++d) pixels *= std::max<int64_t>(y[d], 0);
  int64_t kdim = 1;
  for (size_t d = 1; d < w.size(); ++d) kdim *= w[d];
  return alignBytes(static_cast<size_t>(kdim * pixels) * sizeof(float));
}

void fillBias(const float* bias, int64_t rows, int64_t pixels, float* y) {
  for (int64_t r = 0; r < rows; ++r) std::fill(y + r * pixels, y + (r + 1) * pixels, bias[r]);
}

ConvTail convTail(const backend::LayerView& layer) {
  ConvTail t;
  if (layer.node->op != "FusedConv") return t;
  t.act = ir::convEpilogue(layer.attrs());
  t.residual = layer.inputs.size() > 3 && layer.inputs[3].present;
  return t;
}

void applyConvTail(const ConvTail& tail, const float* residual, int64_t count, float* y) {
  for (int64_t i = 0; i < count; ++i) {
    double v = y[i];
    if (residual) v += residual[i];
    y[i] = static_cast<float>(applyConvActivation(tail.act, v));
  }
}

}  // namespace kiln::cpu::tactics
