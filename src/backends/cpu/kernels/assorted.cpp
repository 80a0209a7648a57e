// Reference kernels of Shrink, SwiGLU, LpNormalization, EyeLike, ReverseSequence, Det and
// CausalConvWithState (shape rules in ir/ops/assorted.cpp). Arithmetic in double, stored in the tensor's type.
#include <algorithm>
#include <cmath>
#include <utility>

#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

KILN_REFERENCE_KERNEL(Shrink, [](KernelContext& ctx) {
  const double lambd = ctx.attrs().f("lambd", 0.5f), bias = ctx.attrs().f("bias", 0.0f);
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      auto in = ctx.in(0).values<T>();
      auto out = ctx.out(0).values<T>();
      for (size_t i = 0; i < in.size(); ++i) {
        const double x = static_cast<double>(in[i]);
        out[i] = static_cast<T>(x < -lambd ? x + bias : x > lambd ? x - bias : 0.0);
      }
    }
  });
});
KILN_REFERENCE_IN_PLACE(Shrink, 0);

KILN_REFERENCE_KERNEL(SwiGLU, [](KernelContext& ctx) {
  const double alpha = ctx.attrs().f("alpha", 1.0f);
  const ir::Shape& shape = ctx.out(0).shape();
  const std::vector<int64_t> ai = broadcastIndex(ctx.in(0).shape(), shape);
  const std::vector<int64_t> bi = broadcastIndex(ctx.in(1).shape(), shape);
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() {
    auto a = ctx.in(0).values<T>();
    auto b = ctx.in(1).values<T>();
    auto out = ctx.out(0).values<T>();
    for (size_t i = 0; i < out.size(); ++i) {
      const double x = static_cast<double>(a[ai[i]]);
      out[i] = static_cast<T>(x / (1.0 + std::exp(-alpha * x)) * static_cast<double>(b[bi[i]]));
    }
  });
});

//! Dims of `shape` before `axis`, at it, and after it (as products).
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};
AxisSplit splitAt(const ir::Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) s.outer *= shape[d];
    else if (d == axis) s.extent = shape[d];
    else s.inner *= shape[d];
  }
  return s;
}

// LpNormalization: a zero vector stays zero (its norm is zero; ONNX's reference divides and
// gets NaN there, which no model relies on).
KILN_REFERENCE_KERNEL(LpNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  int64_t axis = ctx.attrs().i("axis", -1);
  if (axis < 0) axis += x.rank();
  const int64_t p = ctx.attrs().i("p", 2);
  const AxisSplit s = splitAt(x.shape(), axis);
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    auto in = x.values<T>();
    auto out = ctx.out(0).values<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.extent * s.inner + i;
        double norm = 0.0;
        for (int64_t k = 0; k < s.extent; ++k) {
          const double v = static_cast<double>(in[base + k * s.inner]);
          norm += p == 1 ? std::abs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t k = 0; k < s.extent; ++k) {
          const double v = static_cast<double>(in[base + k * s.inner]);
          out[base + k * s.inner] = static_cast<T>(norm > 0.0 ? v / norm : 0.0);
        }
      }
  });
});

KILN_REFERENCE_KERNEL(EyeLike, [](KernelContext& ctx) {
  const ir::Shape& shape = ctx.out(0).shape();
  const int64_t rows = shape[0], cols = shape[1], k = ctx.attrs().i("k", 0);
  ir::dispatchType(ctx.out(0).type(), [&]<typename T>() {
    auto out = ctx.out(0).values<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = c - r == k ? T(1) : T(0);
  });
});

KILN_REFERENCE_KERNEL(ReverseSequence, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& shape = x.shape();
  const int64_t batch_axis = ctx.attrs().i("batch_axis", 1);
  const std::vector<int64_t> lens = ctx.in(1).toInt64();
  const int64_t time_axis = 1 - batch_axis;
  const int64_t steps = shape[time_axis], batch = shape[batch_axis];
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  // Element (t, b) of the first two dims starts at its row.
  auto row = [&](int64_t t, int64_t b) { return (time_axis == 0 ? t * batch + b : b * steps + t) * inner; };
  for (int64_t b = 0; b < batch; ++b)
    if (lens[b] < 0 || lens[b] > steps)
      ctx.unsupported("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(lens[b]) + " is outside [0, " +
                      std::to_string(steps) + "]");
  ir::dispatchType(x.type(), [&]<typename T>() {
    auto in = x.values<T>();
    auto out = ctx.out(0).values<T>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
        for (int64_t i = 0; i < inner; ++i) out[row(t, b) + i] = in[row(from, b) + i];
      }
  });
});

// Det: LU decomposition with partial pivoting, in double.
KILN_REFERENCE_KERNEL(Det, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const int64_t n = x.shape().back();
  const int64_t count = n > 0 ? x.numel() / (n * n) : ctx.out(0).numel();
  const std::vector<double> all = x.toDouble();
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    auto out = ctx.out(0).values<T>();
    std::vector<double> a(static_cast<size_t>(n * n));
    for (int64_t m = 0; m < count; ++m) {
      std::copy(all.begin() + m * n * n, all.begin() + (m + 1) * n * n, a.begin());
      double det = 1.0;
      for (int64_t c = 0; c < n && det != 0.0; ++c) {
        int64_t pivot = c;
        for (int64_t r = c + 1; r < n; ++r)
          if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
        if (a[pivot * n + c] == 0.0) {
          det = 0.0;
          break;
        }
        if (pivot != c) {
          for (int64_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[pivot * n + j]);
          det = -det;
        }
        det *= a[c * n + c];
        for (int64_t r = c + 1; r < n; ++r) {
          const double f = a[r * n + c] / a[c * n + c];
          for (int64_t j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
        }
      }
      out[m] = static_cast<T>(det);
    }
  });
});

// CausalConvWithState: each (b, c) row is past (K - 1 values, zeros when absent) followed by
// the input; output t is act(bias + sum_j w[j] * row[t + j]), present_state the row's last
// K - 1 values.
KILN_REFERENCE_KERNEL(CausalConvWithState, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const int64_t batch = xs[0], channels = xs[1], length = xs[2];
  const int64_t k = ctx.in(1).shape()[2], state = k - 1;
  const std::vector<double> x = ctx.in(0).toDouble(), w = ctx.in(1).toDouble();
  const std::vector<double> bias = ctx.has(2) ? ctx.in(2).toDouble() : std::vector<double>(channels, 0.0);
  const std::vector<double> past =
      ctx.has(3) ? ctx.in(3).toDouble() : std::vector<double>(static_cast<size_t>(batch * channels * state), 0.0);
  const bool silu = ctx.attrs().s("activation", "none") != "none";
  std::vector<double> out(static_cast<size_t>(batch * channels * length)),
      present(static_cast<size_t>(batch * channels * state));
  std::vector<double> row(static_cast<size_t>(state + length));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t bc = b * channels + c;
      std::copy_n(past.begin() + bc * state, state, row.begin());
      std::copy_n(x.begin() + bc * length, length, row.begin() + state);
      for (int64_t t = 0; t < length; ++t) {
        double acc = bias[c];
        for (int64_t j = 0; j < k; ++j) acc += w[c * k + j] * row[t + j];
        out[bc * length + t] = silu ? acc / (1.0 + std::exp(-acc)) : acc;
      }
      std::copy_n(row.begin() + length, state, present.begin() + bc * state);
    }
  auto store = [&](int o, const std::vector<double>& v) {
    ir::dispatchFloat(ctx.out(o).type(), [&]<typename T>() {
      auto dst = ctx.out(o).values<T>();
      for (size_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(v[i]);
    });
  };
  store(0, out);
  if (ctx.wants(1)) store(1, present);
});

}  // namespace
}  // namespace kiln::cpu
