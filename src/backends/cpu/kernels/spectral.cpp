// Reference kernels of DFT and STFT: direct sums in double (O(n^2) per transform; the
// reference is the oracle, not a fast path). Shape rules: ir/ops/spectral.cpp.
#include <cmath>
#include <complex>
#include <numbers>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

using Complex = std::complex<double>;

//! sum_n z[n] e^(sign 2 pi i k n / n_total) for k < bins.
std::vector<Complex> transform(const std::vector<Complex>& z, int64_t n_total, int64_t bins, double sign) {
  std::vector<Complex> out(static_cast<size_t>(bins));
  for (int64_t k = 0; k < bins; ++k) {
    Complex acc = 0.0;
    for (int64_t n = 0; n < static_cast<int64_t>(z.size()); ++n) {
      // k * n modulo n_total keeps the angle small, and so exact for large k * n.
      const double angle =
          sign * 2.0 * std::numbers::pi * static_cast<double>((k * n) % n_total) / static_cast<double>(n_total);
      acc += z[n] * Complex(std::cos(angle), std::sin(angle));
    }
    out[k] = acc;
  }
  return out;
}

KILN_REFERENCE_KERNEL(DFT, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const ir::Shape& ys = ctx.out(0).shape();
  const int64_t rank = static_cast<int64_t>(xs.size());
  int64_t axis = ctx.opset < 20 ? ctx.attrs().i("axis", 1) : ctx.has(2) ? ctx.in(2).toInt64()[0] : -2;
  if (axis < 0) axis += rank;
  const bool inverse = ctx.attrs().i("inverse", 0) != 0, onesided = ctx.attrs().i("onesided", 0) != 0;
  const int64_t in_len = xs[axis], out_len = ys[axis], in_c = xs.back(), out_c = ys.back();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (int64_t d = axis + 1; d < rank - 1; ++d) inner *= xs[d];
  // The transform's length: dft_length, or the input's (a one-sided inverse: the full length).
  const int64_t n = ctx.has(1) ? ctx.in(1).toInt64()[0] : inverse && onesided ? out_len : in_len;
  const std::vector<double> x = ctx.in(0).toDouble();
  std::vector<double> y(static_cast<size_t>(outer * out_len * inner * out_c));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t len, int64_t k, int64_t c) { return ((o * len + k) * inner + i) * c; };
      std::vector<Complex> z(static_cast<size_t>(n), 0.0);
      if (inverse && onesided) {
        // Hermitian symmetry fills the spectrum from its first half: Z[n - k] = conj(Z[k]).
        for (int64_t k = 0; k < n; ++k) {
          const int64_t src = k < in_len ? k : n - k;
          if (src < 0 || src >= in_len) continue;
          const Complex v(x[at(in_len, src, in_c)], in_c == 2 ? x[at(in_len, src, in_c) + 1] : 0.0);
          z[k] = k < in_len ? v : std::conj(v);
        }
      } else {
        for (int64_t k = 0; k < std::min(n, in_len); ++k)
          z[k] = Complex(x[at(in_len, k, in_c)], in_c == 2 ? x[at(in_len, k, in_c) + 1] : 0.0);
      }
      std::vector<Complex> r = transform(z, n, out_len, inverse ? 1.0 : -1.0);
      for (int64_t k = 0; k < out_len; ++k) {
        const Complex v = inverse ? r[k] / static_cast<double>(n) : r[k];
        y[at(out_len, k, out_c)] = v.real();
        if (out_c == 2) y[at(out_len, k, out_c) + 1] = v.imag();
      }
    }
  ctx.storeOutput(0, y);
});

KILN_REFERENCE_KERNEL(STFT, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const ir::Shape& ys = ctx.out(0).shape();
  const int64_t batch = xs[0], length = xs[1], in_c = xs[2], frames = ys[1], bins = ys[2];
  const int64_t step = ctx.in(1).toInt64()[0];
  const int64_t frame = ctx.has(2) ? ctx.in(2).shape()[0] : ctx.in(3).toInt64()[0];
  const std::vector<double> window = ctx.has(2) ? ctx.in(2).toDouble() : std::vector<double>(frame, 1.0);
  const std::vector<double> x = ctx.in(0).toDouble();
  std::vector<double> y(static_cast<size_t>(batch * frames * bins * 2));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      std::vector<Complex> z(static_cast<size_t>(frame));
      for (int64_t s = 0; s < frame; ++s) {
        const int64_t at = (b * length + f * step + s) * in_c;
        z[s] = window[s] * Complex(x[at], in_c == 2 ? x[at + 1] : 0.0);
      }
      const std::vector<Complex> r = transform(z, frame, bins, -1.0);
      for (int64_t k = 0; k < bins; ++k) {
        y[((b * frames + f) * bins + k) * 2] = r[k].real();
        y[((b * frames + f) * bins + k) * 2 + 1] = r[k].imag();
      }
    }
  ctx.storeOutput(0, y);
});

}  // namespace
}  // namespace kiln::cpu
