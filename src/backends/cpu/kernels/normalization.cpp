// Reference kernels of the normalization operators. Statistics are computed in double with
// two passes (mean, then the mean of squared deviations), whatever the tensor type.
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

struct Moments {
  double mean = 0.0;
  double inv_std = 0.0;  //!< 1 / sqrt(variance + epsilon)
};

//! Mean and inverse standard deviation of `count` values read as src[i] (population variance).
template <typename T>
Moments moments(const T* src, int64_t count, double epsilon) {
  double sum = 0.0;
  for (int64_t i = 0; i < count; ++i) sum += static_cast<double>(src[i]);
  const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
  double sq = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double d = static_cast<double>(src[i]) - mean;
    sq += d * d;
  }
  const double var = count > 0 ? sq / static_cast<double>(count) : 0.0;
  return {mean, 1.0 / std::sqrt(var + epsilon)};
}

//! Planes of an (N, C, ...) tensor: (batch, channels, pixels per plane).
struct Planes {
  int64_t batch, channels, pixels;
};
Planes planesOf(const ir::Tensor& x) {
  const int64_t n = x.shape()[0], c = x.shape()[1];
  return {n, c, n * c > 0 ? x.numel() / (n * c) : 0};
}

KILN_REFERENCE_KERNEL(BatchNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const double epsilon = ctx.attrs().f("epsilon", 1e-5f);
  const std::vector<double> scale = ctx.in(1).toDouble(), bias = ctx.in(2).toDouble();
  std::vector<double> mean = ctx.in(3).toDouble(), var = ctx.in(4).toDouble();
  const Planes pl = planesOf(x);
  if (ctx.attrs().i("training_mode", 0) != 0) {
    // The batch's statistics normalize; the running ones move towards them by 1 - momentum.
    const double momentum = ctx.attrs().f("momentum", 0.9f);
    const std::vector<double> xs = x.toDouble();
    std::vector<double> running_mean(pl.channels), running_var(pl.channels);
    const double count = static_cast<double>(pl.batch * pl.pixels);
    for (int64_t c = 0; c < pl.channels; ++c) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < pl.batch; ++n)
        for (int64_t i = 0; i < pl.pixels; ++i) sum += xs[(n * pl.channels + c) * pl.pixels + i];
      const double m = count > 0 ? sum / count : 0.0;
      for (int64_t n = 0; n < pl.batch; ++n)
        for (int64_t i = 0; i < pl.pixels; ++i) {
          const double d = xs[(n * pl.channels + c) * pl.pixels + i] - m;
          sq += d * d;
        }
      const double v = count > 0 ? sq / count : 0.0;
      running_mean[c] = mean[c] * momentum + m * (1 - momentum);
      running_var[c] = var[c] * momentum + v * (1 - momentum);
      mean[c] = m;
      var[c] = v;
    }
    ctx.storeOutput(1, running_mean);
    ctx.storeOutput(2, running_var);
  }
  // y = x * a + b per channel, a = scale / sqrt(var + eps), b = B - mean * a.
  std::vector<double> a(pl.channels), b(pl.channels);
  for (int64_t c = 0; c < pl.channels; ++c) {
    a[c] = scale[c] / std::sqrt(var[c] + epsilon);
    b[c] = bias[c] - mean[c] * a[c];
  }
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t n = 0; n < pl.batch; ++n)
      for (int64_t c = 0; c < pl.channels; ++c) {
        const int64_t off = (n * pl.channels + c) * pl.pixels;
        for (int64_t i = 0; i < pl.pixels; ++i)
          dst[off + i] = static_cast<T>(static_cast<double>(src[off + i]) * a[c] + b[c]);
      }
  });
});

KILN_REFERENCE_KERNEL(InstanceNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const double epsilon = ctx.attrs().f("epsilon", 1e-5f);
  const std::vector<double> scale = ctx.in(1).toDouble(), bias = ctx.in(2).toDouble();
  const Planes pl = planesOf(x);
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t n = 0; n < pl.batch; ++n)
      for (int64_t c = 0; c < pl.channels; ++c) {
        const int64_t off = (n * pl.channels + c) * pl.pixels;
        const Moments m = moments(src + off, pl.pixels, epsilon);
        const double a = scale[c] * m.inv_std, b = bias[c] - m.mean * a;
        for (int64_t i = 0; i < pl.pixels; ++i)
          dst[off + i] = static_cast<T>(static_cast<double>(src[off + i]) * a + b);
      }
  });
});

KILN_REFERENCE_KERNEL(LayerNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& xs = x.shape();
  const int64_t rank = x.rank();
  int64_t axis = ctx.attrs().i("axis", -1);
  if (axis < 0) axis += rank;
  const double epsilon = ctx.attrs().f("epsilon", 1e-5f);
  const ir::Shape normalized(xs.begin() + axis, xs.end());
  int64_t inner = 1, outer = 1;
  for (int64_t d : normalized) inner *= d;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  const std::vector<double> scale = ctx.in(1).toDouble();
  const std::vector<double> bias = ctx.has(2) ? ctx.in(2).toDouble() : std::vector<double>{0.0};
  const std::vector<int64_t> si = broadcastIndex(ctx.in(1).shape(), normalized);
  const std::vector<int64_t> bi =
      ctx.has(2) ? broadcastIndex(ctx.in(2).shape(), normalized) : std::vector<int64_t>(inner, 0);
  std::vector<Moments> stats(outer);
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t r = 0; r < outer; ++r) {
      const Moments m = moments(src + r * inner, inner, epsilon);
      stats[r] = m;
      for (int64_t i = 0; i < inner; ++i) {
        const double v = (static_cast<double>(src[r * inner + i]) - m.mean) * m.inv_std;
        dst[r * inner + i] = static_cast<T>(v * scale[si[i]] + bias[bi[i]]);
      }
    }
  });
  for (int o = 1; o <= 2; ++o) {
    if (!ctx.wants(o)) continue;
    ir::dispatchFloat(ctx.out(o).type(), [&]<typename U>() {
      U* dst = ctx.out(o).values<U>().data();
      for (int64_t r = 0; r < outer; ++r) dst[r] = static_cast<U>(o == 1 ? stats[r].mean : stats[r].inv_std);
    });
  }
});

// RMSNormalization: no mean is subtracted; the root mean square is taken in double (stash_type
// only says the precision must be at least float's).
KILN_REFERENCE_KERNEL(RMSNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& xs = x.shape();
  int64_t axis = ctx.attrs().i("axis", -1);
  if (axis < 0) axis += x.rank();
  const double epsilon = ctx.attrs().f("epsilon", 1e-5f);
  const ir::Shape normalized(xs.begin() + axis, xs.end());
  int64_t inner = 1;
  for (int64_t d : normalized) inner *= d;
  const int64_t outer = inner > 0 ? x.numel() / inner : 0;
  const std::vector<double> scale = ctx.in(1).toDouble();
  const std::vector<int64_t> si = broadcastIndex(ctx.in(1).shape(), normalized);
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t r = 0; r < outer; ++r) {
      double sq = 0.0;
      for (int64_t i = 0; i < inner; ++i) {
        const double v = static_cast<double>(src[r * inner + i]);
        sq += v * v;
      }
      const double inv_rms = 1.0 / std::sqrt(sq / static_cast<double>(inner) + epsilon);
      for (int64_t i = 0; i < inner; ++i)
        dst[r * inner + i] = static_cast<T>(static_cast<double>(src[r * inner + i]) * inv_rms * scale[si[i]]);
    }
  });
});

KILN_REFERENCE_KERNEL(GroupNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const double epsilon = ctx.attrs().f("epsilon", 1e-5f);
  const int64_t groups = ctx.attrs().i("num_groups");
  const std::vector<double> scale = ctx.in(1).toDouble(), bias = ctx.in(2).toDouble();
  const Planes pl = planesOf(x);
  const int64_t cg = pl.channels / groups;
  // Opset 18 models may give one scale/bias per group rather than per channel.
  const bool per_group = static_cast<int64_t>(scale.size()) != pl.channels;
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t n = 0; n < pl.batch; ++n)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = (n * pl.channels + g * cg) * pl.pixels;
        const Moments m = moments(src + off, cg * pl.pixels, epsilon);
        for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
          const int64_t k = per_group ? g : c;
          const double a = scale[k] * m.inv_std, b = bias[k] - m.mean * a;
          const int64_t co = (n * pl.channels + c) * pl.pixels;
          for (int64_t i = 0; i < pl.pixels; ++i)
            dst[co + i] = static_cast<T>(static_cast<double>(src[co + i]) * a + b);
        }
      }
  });
});

// MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes`, as the ONNX function body
// defines it (the epsilon is added to the standard deviation, not the variance).
KILN_REFERENCE_KERNEL(MeanVarianceNormalization, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& xs = x.shape();
  const int64_t rank = x.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : ctx.attrs().ints("axes", {0, 2, 3})) reduced[a < 0 ? a + rank : a] = true;
  // Each element's statistics slot: its flat index over the dims that are not reduced.
  std::vector<int64_t> slot(x.numel());
  int64_t slots = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[d]) slots *= xs[d];
  const std::vector<int64_t> strides = ir::contiguousStrides(xs);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t s = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d]) s = s * xs[d] + (i / strides[d]) % xs[d];
    slot[i] = s;
  }
  std::vector<double> sum(slots, 0.0), sq(slots, 0.0), count(slots, 0.0);
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t i = 0; i < x.numel(); ++i) {
      sum[slot[i]] += static_cast<double>(src[i]);
      count[slot[i]] += 1.0;
    }
    for (int64_t s = 0; s < slots; ++s) sum[s] = count[s] > 0 ? sum[s] / count[s] : 0.0;  // now the mean
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double d = static_cast<double>(src[i]) - sum[slot[i]];
      sq[slot[i]] += d * d;
    }
    for (int64_t s = 0; s < slots; ++s) sq[s] = std::sqrt(count[s] > 0 ? sq[s] / count[s] : 0.0) + 1e-9;
    for (int64_t i = 0; i < x.numel(); ++i)
      dst[i] = static_cast<T>((static_cast<double>(src[i]) - sum[slot[i]]) / sq[slot[i]]);
  });
});

KILN_REFERENCE_KERNEL(LRN, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const int64_t size = ctx.attrs().i("size");
  const double alpha = ctx.attrs().f("alpha", 1e-4f), beta = ctx.attrs().f("beta", 0.75f);
  const double bias = ctx.attrs().f("bias", 1.0f);
  const Planes pl = planesOf(x);
  // The window over channels is [c - floor((size-1)/2), c + ceil((size-1)/2)].
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t n = 0; n < pl.batch; ++n)
      for (int64_t c = 0; c < pl.channels; ++c)
        for (int64_t i = 0; i < pl.pixels; ++i) {
          double sq = 0.0;
          for (int64_t k = std::max<int64_t>(0, c - before); k <= std::min(pl.channels - 1, c + after); ++k) {
            const double v = static_cast<double>(src[(n * pl.channels + k) * pl.pixels + i]);
            sq += v * v;
          }
          const int64_t at = (n * pl.channels + c) * pl.pixels + i;
          dst[at] = static_cast<T>(static_cast<double>(src[at]) / std::pow(bias + alpha / size * sq, beta));
        }
  });
});

}  // namespace
}  // namespace kiln::cpu
