// Reference kernels of Conv, ConvTranspose and FusedConv (Conv with its epilogue: bias,
// residual and activation applied to the double accumulator, rounded once into Y's type).
//
// Both are lowered onto one small GEMM in double precision: Conv packs a tile of output pixels
// im2col-style ([Cg * kernel][pixels]) and multiplies it by the weights; ConvTranspose
// multiplies W^T by a tile of input pixels and scatters ("col2im") the products into a double
// output buffer. Every output element is thus a sum accumulated in double, whatever T is, and
// the GEMM's 4x4 register blocking keeps ResNet-50 at batch 1 within seconds on one core.
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "backends/cpu/kernels/conv_epilogue.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/window.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kRows = 4;  // rows of A (output channels) per register block
constexpr int64_t kCols = 4;  // columns of B (pixels) per register block

using Vec4 = double __attribute__((vector_size(32)));  // GCC/Clang vector extension

// C[4][p] = sum_k A[k][0..4) * B[k][0..p), for p a multiple of kCols. A is packed as
// [kdim][4]; B and C are row-major with leading dimension p.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void gemm4(const double* a, const double* b, int64_t kdim, int64_t p, double* c) {
  for (int64_t j = 0; j < p; j += kCols) {
    Vec4 c0 = {0, 0, 0, 0}, c1 = c0, c2 = c0, c3 = c0;
    const double* bk = b + j;
    const double* ak = a;
    for (int64_t k = 0; k < kdim; ++k, bk += p, ak += kRows) {
      Vec4 x;
      std::memcpy(&x, bk, sizeof x);
      c0 += ak[0] * x;
      c1 += ak[1] * x;
      c2 += ak[2] * x;
      c3 += ak[3] * x;
    }
    std::memcpy(c + j, &c0, sizeof c0);
    std::memcpy(c + p + j, &c1, sizeof c1);
    std::memcpy(c + 2 * p + j, &c2, sizeof c2);
    std::memcpy(c + 3 * p + j, &c3, sizeof c3);
  }
}

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int64_t product(const std::vector<int64_t>& v, size_t from = 0) {
  int64_t p = 1;
  for (size_t i = from; i < v.size(); ++i) p *= v[i];
  return p;
}

//! Pixels per tile: the packed B tile (kdim x tile doubles) stays near L2 size.
int64_t tilePixels(int64_t kdim, int64_t pixels) {
  int64_t tile = std::clamp<int64_t>((64 * 1024 / std::max<int64_t>(kdim, 1)) / kCols * kCols, 16, 512);
  return std::min(tile, roundUp(std::max<int64_t>(pixels, 1), kCols));
}

//! Spatial coordinates of each kernel position (dilated), per dim, and their flat offset
//! in an input of spatial dims `in_sp`.
struct KernelOffsets {
  std::vector<int64_t> dim;   // [kvol][nd]
  std::vector<int64_t> flat;  // [kvol]
};

KernelOffsets kernelOffsets(const ir::Window& win, const std::vector<int64_t>& in_sp) {
  const size_t nd = win.rank();
  const int64_t kvol = product(win.kernel);
  const std::vector<int64_t> strides = ir::contiguousStrides(in_sp);
  KernelOffsets k{std::vector<int64_t>(kvol * nd), std::vector<int64_t>(kvol)};
  std::vector<int64_t> idx(nd, 0);
  for (int64_t q = 0; q < kvol; ++q) {
    for (size_t d = 0; d < nd; ++d) {
      k.dim[q * nd + d] = idx[d] * win.dilations[d];
      k.flat[q] += k.dim[q * nd + d] * strides[d];
    }
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < win.kernel[d]) break;
      idx[d] = 0;
    }
  }
  return k;
}

//! For pixels [p0, p0+count) of the grid `grid`, the per-dim coordinate
//! (pixel * stride - pad_begin) and its flat form over `in_sp` (which may point outside).
void pixelBases(const ir::Window& win, const std::vector<int64_t>& grid, const std::vector<int64_t>& in_sp, int64_t p0,
                int64_t count, int64_t* dim, int64_t* flat) {
  const size_t nd = win.rank();
  const std::vector<int64_t> strides = ir::contiguousStrides(in_sp);
  std::vector<int64_t> idx(nd);
  int64_t rest = p0;
  for (size_t d = nd; d-- > 0;) {
    idx[d] = rest % grid[d];
    rest /= grid[d];
  }
  for (int64_t p = 0; p < count; ++p) {
    flat[p] = 0;
    for (size_t d = 0; d < nd; ++d) {
      dim[d * count + p] = idx[d] * win.strides[d] - win.pads_begin[d];
      flat[p] += dim[d * count + p] * strides[d];
    }
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < grid[d]) break;
      idx[d] = 0;
    }
  }
}

//! What follows the convolution in FusedConv (plain Conv: no residual, no activation).
struct Epilogue {
  const ir::Tensor* residual = nullptr;  //!< Y's shape and type
  ir::ConvEpilogue act;
};

template <typename T>
void conv(const ir::Tensor& x, const ir::Tensor& w, const ir::Tensor* bias, ir::Tensor& y, const ir::Window& win,
          int64_t group, const Epilogue& epilogue = {}) {
  const size_t nd = win.rank();
  const int64_t batch = x.shape()[0], channels = x.shape()[1], out_channels = w.shape()[0];
  const int64_t cg = channels / group, ocg = out_channels / group;
  const std::vector<int64_t> in_sp(x.shape().begin() + 2, x.shape().end());
  const int64_t in_pixels = product(in_sp), out_pixels = product(win.out), kvol = product(win.kernel);
  const int64_t kdim = cg * kvol;
  const KernelOffsets koff = kernelOffsets(win, in_sp);
  auto xv = x.values<T>();
  auto wv = w.values<T>();
  auto yv = y.values<T>();
  std::vector<double> b(out_channels, 0.0);
  if (bias) b = bias->toDouble();
  const T* residual = epilogue.residual ? epilogue.residual->values<T>().data() : nullptr;
  const bool activation = epilogue.act.activation != ir::ConvActivation::kNone;

  // Weights packed per group as blocks of 4 output channels: [group][block][kdim][4].
  const int64_t blocks = (ocg + kRows - 1) / kRows;
  std::vector<double> wp(group * blocks * kdim * kRows, 0.0);
  for (int64_t oc = 0; oc < out_channels; ++oc) {
    const int64_t g = oc / ocg, r = oc % ocg;
    double* dst = wp.data() + ((g * blocks + r / kRows) * kdim) * kRows + r % kRows;
    for (int64_t k = 0; k < kdim; ++k) dst[k * kRows] = static_cast<double>(wv[oc * kdim + k]);
  }

  const int64_t tile = tilePixels(kdim, out_pixels);
  std::vector<double> col(kdim * tile), acc(kRows * tile);
  std::vector<int64_t> base_dim(nd * tile), base_flat(tile);
  for (int64_t p0 = 0; p0 < out_pixels; p0 += tile) {
    const int64_t count = std::min(tile, out_pixels - p0), padded = roundUp(count, kCols);
    pixelBases(win, win.out, in_sp, p0, count, base_dim.data(), base_flat.data());
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t g = 0; g < group; ++g) {
        // im2col: col[ic * kvol + q][p] = x[n, g * cg + ic, base(p) + offset(q)], 0 in the padding.
        for (int64_t ic = 0; ic < cg; ++ic) {
          const T* plane = xv.data() + (n * channels + g * cg + ic) * in_pixels;
          for (int64_t q = 0; q < kvol; ++q) {
            double* row = col.data() + (ic * kvol + q) * padded;
            const int64_t* kd = koff.dim.data() + q * nd;
            for (int64_t p = 0; p < count; ++p) {
              bool inside = true;
              for (size_t d = 0; d < nd; ++d) {
                const int64_t c = base_dim[d * count + p] + kd[d];
                inside = inside && c >= 0 && c < in_sp[d];
              }
              row[p] = inside ? static_cast<double>(plane[base_flat[p] + koff.flat[q]]) : 0.0;
            }
            std::fill(row + count, row + padded, 0.0);
          }
        }
        for (int64_t blk = 0; blk < blocks; ++blk) {
          gemm4(wp.data() + (g * blocks + blk) * kdim * kRows, col.data(), kdim, padded, acc.data());
          for (int64_t r = 0; r < kRows && blk * kRows + r < ocg; ++r) {
            const int64_t oc = g * ocg + blk * kRows + r;
            const int64_t offset = (n * out_channels + oc) * out_pixels + p0;
            T* dst = yv.data() + offset;
            if (!residual && !activation) {
              for (int64_t p = 0; p < count; ++p) dst[p] = static_cast<T>(acc[r * padded + p] + b[oc]);
              continue;
            }
            for (int64_t p = 0; p < count; ++p) {
              double v = acc[r * padded + p] + b[oc];
              if (residual) v += static_cast<double>(residual[offset + p]);
              dst[p] = static_cast<T>(applyConvActivation(epilogue.act, v));
            }
          }
        }
      }
    }
  }
}

template <typename T>
void convTranspose(const ir::Tensor& x, const ir::Tensor& w, const ir::Tensor* bias, ir::Tensor& y,
                   const ir::Window& win, int64_t group) {
  const size_t nd = win.rank();
  const int64_t batch = x.shape()[0], channels = x.shape()[1];
  const int64_t cg = channels / group, ocg = w.shape()[1], out_channels = ocg * group;
  const std::vector<int64_t> in_sp(x.shape().begin() + 2, x.shape().end());
  const int64_t in_pixels = product(in_sp), out_pixels = product(win.out), kvol = product(win.kernel);
  const int64_t rows = ocg * kvol;  // rows of W^T per group: (oc, kernel position)
  // Offsets of the kernel positions in the OUTPUT (the scatter target).
  const KernelOffsets koff = kernelOffsets(win, win.out);
  auto xv = x.values<T>();
  auto wv = w.values<T>();
  auto yv = y.values<T>();
  std::vector<double> b(out_channels, 0.0);
  if (bias) b = bias->toDouble();

  // W^T packed per group as blocks of 4 rows (oc, q): [group][block][cg][4].
  const int64_t blocks = (rows + kRows - 1) / kRows;
  std::vector<double> wp(group * blocks * cg * kRows, 0.0);
  for (int64_t ic = 0; ic < channels; ++ic) {
    const int64_t g = ic / cg, i = ic % cg;
    for (int64_t r = 0; r < rows; ++r)
      wp[((g * blocks + r / kRows) * cg + i) * kRows + r % kRows] = static_cast<double>(wv[ic * rows + r]);
  }

  const int64_t tile = tilePixels(cg, in_pixels);
  std::vector<double> xt(cg * tile), acc(kRows * tile), out(out_channels * out_pixels);
  std::vector<int64_t> base_dim(nd * tile), base_flat(tile);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t oc = 0; oc < out_channels; ++oc) std::fill_n(out.data() + oc * out_pixels, out_pixels, b[oc]);
    for (int64_t p0 = 0; p0 < in_pixels; p0 += tile) {
      const int64_t count = std::min(tile, in_pixels - p0), padded = roundUp(count, kCols);
      // Input pixels scaled by the stride, minus the begin pads: their place in the output.
      pixelBases(win, in_sp, win.out, p0, count, base_dim.data(), base_flat.data());
      for (int64_t g = 0; g < group; ++g) {
        for (int64_t ic = 0; ic < cg; ++ic) {
          const T* src = xv.data() + (n * channels + g * cg + ic) * in_pixels + p0;
          double* dst = xt.data() + ic * padded;
          for (int64_t p = 0; p < count; ++p) dst[p] = static_cast<double>(src[p]);
          std::fill(dst + count, dst + padded, 0.0);
        }
        for (int64_t blk = 0; blk < blocks; ++blk) {
          gemm4(wp.data() + (g * blocks + blk) * cg * kRows, xt.data(), cg, padded, acc.data());
          for (int64_t r = 0; r < kRows && blk * kRows + r < rows; ++r) {
            const int64_t row = blk * kRows + r, q = row % kvol;
            double* plane = out.data() + (g * ocg + row / kvol) * out_pixels;
            const int64_t* kd = koff.dim.data() + q * nd;
            for (int64_t p = 0; p < count; ++p) {
              bool inside = true;
              for (size_t d = 0; d < nd; ++d) {
                const int64_t c = base_dim[d * count + p] + kd[d];
                inside = inside && c >= 0 && c < win.out[d];
              }
              if (inside) plane[base_flat[p] + koff.flat[q]] += acc[r * padded + p];
            }
          }
        }
      }
    }
    T* dst = yv.data() + n * out_channels * out_pixels;
    for (int64_t i = 0; i < out_channels * out_pixels; ++i) dst[i] = static_cast<T>(out[i]);
  }
}

std::vector<int64_t> spatial(const ir::Shape& s) { return {s.begin() + 2, s.end()}; }

KILN_REFERENCE_KERNEL(Conv, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Tensor& w = ctx.in(1);
  ir::Tensor& y = ctx.out(0);
  const ir::Window win = ir::resolveWindow(ctx.attrs(), spatial(x.shape()), spatial(w.shape()), false);
  const int64_t group = ctx.attrs().i("group", 1);
  if (y.numel() == 0) return;
  ir::dispatchFloat(x.type(), [&]<typename T>() { conv<T>(x, w, ctx.has(2) ? &ctx.in(2) : nullptr, y, win, group); });
});

// ConvInteger: the shifted X and W as doubles (exact), one double convolution, rounded into
// int32 (the sums of int8 products are exact in double).
KILN_REFERENCE_KERNEL(ConvInteger, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Tensor& w = ctx.in(1);
  const double x_zero = ctx.has(2) ? ctx.in(2).toDouble()[0] : 0.0;
  const std::vector<double> w_zero = ctx.has(3) ? ctx.in(3).toDouble() : std::vector<double>{0.0};
  std::vector<double> xs = x.toDouble(), ws = w.toDouble();
  for (double& v : xs) v -= x_zero;
  const int64_t per_channel = w.shape()[0] > 0 ? w.numel() / w.shape()[0] : 0;
  for (size_t i = 0; i < ws.size(); ++i)
    ws[i] -= w_zero.size() == 1 ? w_zero[0] : w_zero[i / static_cast<size_t>(per_channel)];
  const ir::Tensor xd = ir::Tensor::fromDouble(DataType::kDOUBLE, x.shape(), xs);
  const ir::Tensor wd = ir::Tensor::fromDouble(DataType::kDOUBLE, w.shape(), ws);
  ir::Tensor& y = ctx.out(0);
  if (y.numel() == 0) return;
  ir::Tensor yd(DataType::kDOUBLE, y.shape());
  const ir::Window win = ir::resolveWindow(ctx.attrs(), spatial(x.shape()), spatial(w.shape()), false);
  conv<double>(xd, wd, nullptr, yd, win, ctx.attrs().i("group", 1));
  auto out = y.values<int32_t>();
  auto src = yd.values<double>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(std::llround(src[i]));
});

// DeformConv (2-D): tap (kh, kw) of output pixel (oh, ow) reads X bilinearly at
// (oh * sh - ph + kh * dh + offset_h, ow * sw - pw + kw * dw + offset_w), corners outside X
// counting as 0, times the tap's mask (1 without one); the offsets and mask of a channel are
// those of its offset group.
KILN_REFERENCE_KERNEL(DeformConv, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const ir::Shape& ws = ctx.in(1).shape();
  const ir::Shape& ys = ctx.out(0).shape();
  const int64_t batch = xs[0], channels = xs[1], height = xs[2], width = xs[3];
  const int64_t out_channels = ws[0], cg = ws[1], kh = ws[2], kw = ws[3], oh = ys[2], ow = ys[3];
  const int64_t group = ctx.attrs().i("group", 1), offset_group = ctx.attrs().i("offset_group", 1);
  const ir::Window win = ir::resolveWindow(ctx.attrs(), spatial(xs), spatial(ws), false);
  const std::vector<double> x = ctx.in(0).toDouble(), w = ctx.in(1).toDouble(), offset = ctx.in(2).toDouble();
  const std::vector<double> bias = ctx.has(3) ? ctx.in(3).toDouble() : std::vector<double>(out_channels, 0.0);
  const std::vector<double> mask = ctx.has(4) ? ctx.in(4).toDouble() : std::vector<double>{};
  const int64_t taps = kh * kw, per_offset_group = channels / offset_group, ocg = out_channels / group;
  auto sample = [&](const double* plane, double h, double v) {
    const double h0 = std::floor(h), v0 = std::floor(v);
    const double lh = h - h0, lv = v - v0;
    double acc = 0.0;
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        const int64_t yy = static_cast<int64_t>(h0) + dy, xx = static_cast<int64_t>(v0) + dx;
        if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
        acc += (dy ? lh : 1.0 - lh) * (dx ? lv : 1.0 - lv) * plane[yy * width + xx];
      }
    return acc;
  };
  std::vector<double> y(static_cast<size_t>(batch * out_channels * oh * ow));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < out_channels; ++m)
      for (int64_t py = 0; py < oh; ++py)
        for (int64_t px = 0; px < ow; ++px) {
          double acc = bias[m];
          for (int64_t ci = 0; ci < cg; ++ci) {
            const int64_t c = (m / ocg) * cg + ci, og = c / per_offset_group;
            const double* plane = x.data() + (n * channels + c) * height * width;
            for (int64_t t = 0; t < taps; ++t) {
              const int64_t ty = t / kw, tx = t % kw;
              auto at = [&](int64_t channel) { return ((n * offset_group * 2 * taps + channel) * oh + py) * ow + px; };
              const double dy = offset[at(og * 2 * taps + 2 * t)], dx = offset[at(og * 2 * taps + 2 * t + 1)];
              const double h =
                  static_cast<double>(py * win.strides[0] - win.pads_begin[0] + ty * win.dilations[0]) + dy;
              const double v =
                  static_cast<double>(px * win.strides[1] - win.pads_begin[1] + tx * win.dilations[1]) + dx;
              const double scale =
                  mask.empty() ? 1.0 : mask[((n * offset_group * taps + og * taps + t) * oh + py) * ow + px];
              acc += w[((m * cg + ci) * kh + ty) * kw + tx] * scale * sample(plane, h, v);
            }
          }
          y[((n * out_channels + m) * oh + py) * ow + px] = acc;
        }
  ctx.storeOutput(0, y);
});

//! A 4-D tensor with its axes permuted: out.shape[d] = in.shape[perm[d]].
ir::Tensor permuted4(const ir::Tensor& in, const std::array<int, 4>& perm) {
  const ir::Shape& s = in.shape();
  ir::Tensor out(in.type(), {s[perm[0]], s[perm[1]], s[perm[2]], s[perm[3]]});
  const std::vector<int64_t> in_strides = ir::contiguousStrides(s);
  const int64_t stride[4] = {in_strides[perm[0]], in_strides[perm[1]], in_strides[perm[2]], in_strides[perm[3]]};
  const ir::Shape& o = out.shape();
  const size_t bytes = elementSize(in.type());
  const std::byte* src = in.raw();
  std::byte* dst = out.raw();
  for (int64_t a = 0; a < o[0]; ++a)
    for (int64_t b = 0; b < o[1]; ++b)
      for (int64_t c = 0; c < o[2]; ++c)
        for (int64_t d = 0; d < o[3]; ++d, dst += bytes)
          std::memcpy(dst, src + (a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3]) * bytes, bytes);
  return out;
}

constexpr std::array<int, 4> kNhwcToNchw = {0, 3, 1, 2}, kNchwToNhwc = {0, 2, 3, 1};

KILN_REFERENCE_KERNEL(FusedConv, [](KernelContext& ctx) {
  const bool nhwc = ir::convChannelsLast(ctx.attrs());
  // Channels last: the same computation on NCHW copies (X, W and R permuted in, Y out).
  std::optional<ir::Tensor> x_nchw, w_nchw, r_nchw;
  if (nhwc) {
    x_nchw = permuted4(ctx.in(0), kNhwcToNchw);
    w_nchw = permuted4(ctx.in(1), kNhwcToNchw);
    if (ctx.has(3)) r_nchw = permuted4(ctx.in(3), kNhwcToNchw);
  }
  const ir::Tensor& x = nhwc ? *x_nchw : ctx.in(0);
  const ir::Tensor& w = nhwc ? *w_nchw : ctx.in(1);
  const ir::Tensor* r = nhwc ? (r_nchw ? &*r_nchw : nullptr) : (ctx.has(3) ? &ctx.in(3) : nullptr);
  ir::Tensor& out = ctx.out(0);
  const ir::Window win = ir::resolveWindow(ctx.attrs(), spatial(x.shape()), spatial(w.shape()), false);
  const int64_t group = ctx.attrs().i("group", 1);
  const Epilogue epilogue{.residual = r, .act = ir::convEpilogue(ctx.attrs())};
  if (out.numel() == 0) return;
  std::optional<ir::Tensor> y_nchw;
  if (nhwc) y_nchw.emplace(out.type(), ir::Shape{x.shape()[0], w.shape()[0], win.out[0], win.out[1]});
  ir::Tensor& y = nhwc ? *y_nchw : out;
  ir::dispatchFloat(x.type(),
                    [&]<typename T>() { conv<T>(x, w, ctx.has(2) ? &ctx.in(2) : nullptr, y, win, group, epilogue); });
  if (nhwc) {
    const ir::Tensor back = permuted4(y, kNchwToNhwc);
    std::memcpy(out.raw(), back.raw(), back.byteSize());
  }
});

KILN_REFERENCE_KERNEL(ConvTranspose, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Tensor& w = ctx.in(1);
  ir::Tensor& y = ctx.out(0);
  const ir::TransposedWindow t = ir::resolveTransposedWindow(ctx.attrs(), spatial(x.shape()), spatial(w.shape()));
  const int64_t group = ctx.attrs().i("group", 1);
  if (y.numel() == 0) return;
  ir::dispatchFloat(
      x.type(), [&]<typename T>() { convTranspose<T>(x, w, ctx.has(2) ? &ctx.in(2) : nullptr, y, t.window, group); });
});

}  // namespace
}  // namespace kiln::cpu
