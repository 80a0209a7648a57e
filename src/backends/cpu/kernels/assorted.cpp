// Reference kernels of Shrink, SwiGLU, LpNormalization, EyeLike, ReverseSequence, Det,
// CausalConvWithState, LinearAttention, TensorScatter, RoiAlign, Col2Im and TfIdfVectorizer
// (shape rules in
// ir/ops/assorted.cpp). Arithmetic in double, stored in the
// tensor's type.
#include <algorithm>
#include <cmath>
#include <map>
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
  ctx.storeOutput(0, out);
  ctx.storeOutput(1, present);
});

// LinearAttention: per batch entry and KV head a state S [dk, dv] (past_state or zeros), per
// step t with g = decay (per key row, or one per head), b = beta:
//   S <- exp(g) * S                              (gated rules)
//   S <- S + b * k (v - S^T k)^T                 (delta rules; else S + k v^T)
//   o  = scale * S^T q for each query head of the group (query head h reads KV head
//        h / (Hq / Hkv))
KILN_REFERENCE_KERNEL(LinearAttention, [](KernelContext& ctx) {
  const ir::Shape& qs = ctx.in(0).shape();
  const int64_t batch = qs[0], steps = qs[1];
  const int64_t hq = ctx.attrs().i("q_num_heads"), hkv = ctx.attrs().i("kv_num_heads");
  const int64_t dk = ctx.in(1).shape()[2] / hkv, dv = ctx.in(2).shape()[2] / hkv;
  const std::string rule = ctx.attrs().s("update_rule", "gated_delta");
  const bool gated = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta";
  const double scale = ctx.attrs().has("scale") ? ctx.attrs().f("scale") : 1.0 / std::sqrt(static_cast<double>(dk));
  const std::vector<double> q = ctx.in(0).toDouble(), k = ctx.in(1).toDouble(), v = ctx.in(2).toDouble();
  std::vector<double> state =
      ctx.has(3) ? ctx.in(3).toDouble() : std::vector<double>(static_cast<size_t>(batch * hkv * dk * dv), 0.0);
  const std::vector<double> decay = gated ? ctx.in(4).toDouble() : std::vector<double>{};
  const int64_t decay_width = gated ? ctx.in(4).shape()[2] : 0;
  const std::vector<double> beta = delta ? ctx.in(5).toDouble() : std::vector<double>{};
  const int64_t beta_width = delta ? ctx.in(5).shape()[2] : 0;
  const int64_t group = hq / hkv;
  std::vector<double> out(static_cast<size_t>(batch * steps * hq * dv), 0.0), sk(static_cast<size_t>(dv));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hkv; ++h) {
      double* s = state.data() + (b * hkv + h) * dk * dv;
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t bt = b * steps + t;
        const double* kt = k.data() + bt * hkv * dk + h * dk;
        const double* vt = v.data() + bt * hkv * dv + h * dv;
        if (gated) {
          for (int64_t i = 0; i < dk; ++i) {
            const double g = decay_width == hkv ? decay[bt * hkv + h] : decay[bt * decay_width + h * dk + i];
            for (int64_t j = 0; j < dv; ++j) s[i * dv + j] *= std::exp(g);
          }
        }
        if (delta) {
          const double bb = beta[bt * beta_width + (beta_width == 1 ? 0 : h)];
          for (int64_t j = 0; j < dv; ++j) {
            sk[j] = 0.0;
            for (int64_t i = 0; i < dk; ++i) sk[j] += s[i * dv + j] * kt[i];
          }
          for (int64_t i = 0; i < dk; ++i)
            for (int64_t j = 0; j < dv; ++j) s[i * dv + j] += bb * kt[i] * (vt[j] - sk[j]);
        } else {
          for (int64_t i = 0; i < dk; ++i)
            for (int64_t j = 0; j < dv; ++j) s[i * dv + j] += kt[i] * vt[j];
        }
        for (int64_t g = 0; g < group; ++g) {
          const int64_t head = h * group + g;
          const double* qt = q.data() + bt * hq * dk + head * dk;
          double* ot = out.data() + bt * hq * dv + head * dv;
          for (int64_t j = 0; j < dv; ++j) {
            double acc = 0.0;
            for (int64_t i = 0; i < dk; ++i) acc += qt[i] * s[i * dv + j];
            ot[j] = scale * acc;
          }
        }
      }
    }
  ctx.storeOutput(0, out);
  ctx.storeOutput(1, state);
});

KILN_REFERENCE_KERNEL(TensorScatter, [](KernelContext& ctx) {
  const ir::Tensor& past = ctx.in(0);
  const ir::Tensor& update = ctx.in(1);
  const ir::Shape& ps = past.shape();
  int64_t axis = ctx.attrs().i("axis", -2);
  if (axis < 0) axis += past.rank();
  const bool circular = ctx.attrs().s("mode", "linear") == "circular";
  const AxisSplit cache = splitAt(ps, axis), upd = splitAt(update.shape(), axis);
  const int64_t per_batch = ps[0] > 0 ? cache.outer / ps[0] : 0;  // prefixes per batch entry
  const std::vector<int64_t> writes = ctx.has(2) ? ctx.in(2).toInt64() : std::vector<int64_t>(ps[0], 0);
  ir::dispatchType(past.type(), [&]<typename T>() {
    auto src = past.values<T>();
    auto u = update.values<T>();
    auto out = ctx.out(0).values<T>();
    std::copy(src.begin(), src.end(), out.begin());
    for (int64_t o = 0; o < cache.outer; ++o) {
      const int64_t start = writes[o / per_batch];
      for (int64_t s = 0; s < upd.extent; ++s) {
        int64_t at = start + s;
        if (circular) at = ((at % cache.extent) + cache.extent) % cache.extent;
        if (at < 0 || at >= cache.extent)
          ctx.unsupported("write index " + std::to_string(at) + " is outside the cache's " +
                          std::to_string(cache.extent) + " positions");
        std::copy_n(u.begin() + (o * upd.extent + s) * upd.inner, upd.inner,
                    out.begin() + (o * cache.extent + at) * cache.inner);
      }
    }
  });
});

// RoiAlign: each output bin averages (or, mode max, takes the largest weighted corner of)
// bilinear samples on a sampling_ratio x sampling_ratio grid (adaptive when 0), as ONNX's
// reference and ONNX Runtime compute it; samples beyond one pixel outside X contribute 0.
KILN_REFERENCE_KERNEL(RoiAlign, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const int64_t channels = xs[1], height = xs[2], width = xs[3];
  const std::vector<double> x = ctx.in(0).toDouble(), rois = ctx.in(1).toDouble();
  const std::vector<int64_t> batch = ctx.in(2).toInt64();
  const int64_t oh = ctx.attrs().i("output_height", 1), ow = ctx.attrs().i("output_width", 1);
  const int64_t ratio = ctx.attrs().i("sampling_ratio", 0);
  const double scale = ctx.attrs().f("spatial_scale", 1.0f);
  const bool max_mode = ctx.attrs().s("mode", "avg") == "max";
  const bool half_pixel = ctx.attrs().s("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  const double offset = half_pixel ? 0.5 : 0.0;
  const int64_t count_rois = ctx.in(1).shape()[0];
  std::vector<double> out(static_cast<size_t>(count_rois * channels * oh * ow), 0.0);
  for (int64_t r = 0; r < count_rois; ++r) {
    if (batch[r] < 0 || batch[r] >= xs[0])
      ctx.unsupported("batch_indices[" + std::to_string(r) + "] = " + std::to_string(batch[r]) +
                      " is not a batch entry");
    const double* roi = rois.data() + r * 4;
    const double x0 = roi[0] * scale - offset, y0 = roi[1] * scale - offset;
    double roi_w = roi[2] * scale - offset - x0, roi_h = roi[3] * scale - offset - y0;
    if (!half_pixel) {
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    const double bin_h = roi_h / static_cast<double>(oh), bin_w = roi_w / static_cast<double>(ow);
    const int64_t grid_h = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(roi_h / static_cast<double>(oh)));
    const int64_t grid_w = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(roi_w / static_cast<double>(ow)));
    const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
    for (int64_t c = 0; c < channels; ++c) {
      const double* plane = x.data() + (batch[r] * channels + c) * height * width;
      for (int64_t ph = 0; ph < oh; ++ph)
        for (int64_t pw = 0; pw < ow; ++pw) {
          double acc = 0.0;
          bool first = true;
          for (int64_t iy = 0; iy < grid_h; ++iy)
            for (int64_t ix = 0; ix < grid_w; ++ix) {
              double y = y0 + static_cast<double>(ph) * bin_h + (static_cast<double>(iy) + 0.5) * bin_h / grid_h;
              double xx = x0 + static_cast<double>(pw) * bin_w + (static_cast<double>(ix) + 0.5) * bin_w / grid_w;
              double v[4] = {0, 0, 0, 0}, w[4] = {0, 0, 0, 0};
              if (!(y < -1.0 || y > static_cast<double>(height) || xx < -1.0 || xx > static_cast<double>(width))) {
                y = std::max(y, 0.0);
                xx = std::max(xx, 0.0);
                int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(xx), y_high, x_high;
                if (y_low >= height - 1) {
                  y_high = y_low = height - 1;
                  y = static_cast<double>(y_low);
                } else {
                  y_high = y_low + 1;
                }
                if (x_low >= width - 1) {
                  x_high = x_low = width - 1;
                  xx = static_cast<double>(x_low);
                } else {
                  x_high = x_low + 1;
                }
                const double ly = y - static_cast<double>(y_low), lx = xx - static_cast<double>(x_low);
                const double hy = 1.0 - ly, hx = 1.0 - lx;
                w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
                v[0] = plane[y_low * width + x_low], v[1] = plane[y_low * width + x_high];
                v[2] = plane[y_high * width + x_low], v[3] = plane[y_high * width + x_high];
              }
              if (max_mode) {
                const double m = std::max({w[0] * v[0], w[1] * v[1], w[2] * v[2], w[3] * v[3]});
                acc = first ? m : std::max(acc, m);
                first = false;
              } else {
                acc += w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3];
              }
            }
          out[((r * channels + c) * oh + ph) * ow + pw] = max_mode ? acc : acc / count;
        }
    }
  }
  ctx.storeOutput(0, out);
});

// Col2Im: every column l (a window position of the sliding grid) adds its C x prod(block)
// values into the image where each kernel element falls (strides, dilations, pads; the parts
// in the pads are dropped).
KILN_REFERENCE_KERNEL(Col2Im, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const std::vector<int64_t> image = ctx.in(1).toInt64(), block = ctx.in(2).toInt64();
  const size_t nd = image.size();
  const std::vector<int64_t> strides = ctx.attrs().ints("strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dilations = ctx.attrs().ints("dilations", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> pads = ctx.attrs().ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (strides.size() != nd || dilations.size() != nd || pads.size() != 2 * nd)
    ctx.unsupported("strides, dilations and pads must have one value per spatial dim (pads two)");
  std::vector<int64_t> grid(nd);
  int64_t columns = 1, kvol = 1, pixels = 1;
  for (size_t d = 0; d < nd; ++d) {
    grid[d] = (image[d] + pads[d] + pads[nd + d] - (dilations[d] * (block[d] - 1) + 1)) / strides[d] + 1;
    columns *= grid[d];
    kvol *= block[d];
    pixels *= image[d];
  }
  if (columns != xs[2])
    ctx.unsupported("input has " + std::to_string(xs[2]) + " columns where the geometry gives " +
                    std::to_string(columns));
  const int64_t batch = xs[0], channels = xs[1] / kvol;
  const std::vector<double> x = ctx.in(0).toDouble();
  std::vector<double> y(static_cast<size_t>(batch * channels * pixels), 0.0);
  std::vector<int64_t> g(nd), k(nd);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t kk = 0; kk < kvol; ++kk) {
        for (int64_t rest = kk, d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
          k[d] = rest % block[d];
          rest /= block[d];
        }
        for (int64_t l = 0; l < columns; ++l) {
          for (int64_t rest = l, d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
            g[d] = rest % grid[d];
            rest /= grid[d];
          }
          int64_t at = 0;
          bool inside = true;
          for (size_t d = 0; d < nd; ++d) {
            const int64_t pos = g[d] * strides[d] - pads[d] + k[d] * dilations[d];
            inside = inside && pos >= 0 && pos < image[d];
            at = at * image[d] + pos;
          }
          if (inside) y[(n * channels + c) * pixels + at] += x[((n * channels + c) * kvol + kk) * columns + l];
        }
      }
  ctx.storeOutput(0, y);
});

// TfIdfVectorizer: every n-gram of the row (n from min_gram_length to max_gram_length, items
// skip + 1 apart for skip up to max_skip_count; a 1-gram counted once, not once per skip)
// found in the pool adds 1 to its column; IDF gives the n-gram's weight where it occurs,
// TFIDF count times weight (weights 1 when absent).
KILN_REFERENCE_KERNEL(TfIdfVectorizer, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const std::vector<int64_t> x = ctx.in(0).toInt64();
  const std::vector<int64_t> counts = ctx.attrs().ints("ngram_counts", {});
  const std::vector<int64_t> indexes = ctx.attrs().ints("ngram_indexes", {});
  const std::vector<int64_t> pool = ctx.attrs().ints("pool_int64s", {});
  const std::vector<float> weights = ctx.attrs().floats("weights", {});
  const int64_t min_gram = ctx.attrs().i("min_gram_length", 1), max_gram = ctx.attrs().i("max_gram_length", 1);
  const int64_t max_skip = ctx.attrs().i("max_skip_count", 0);
  const std::string mode = ctx.attrs().s("mode", "TF");
  // n-gram (as its items) -> its position in the pool's order, per length.
  std::vector<std::map<std::vector<int64_t>, int64_t>> lookup(counts.size());
  int64_t gram = 0;
  for (size_t n = 0; n < counts.size(); ++n) {
    const int64_t end = n + 1 < counts.size() ? counts[n + 1] : static_cast<int64_t>(pool.size());
    for (int64_t at = counts[n]; at < end; at += static_cast<int64_t>(n + 1))
      lookup[n][std::vector<int64_t>(pool.begin() + at, pool.begin() + at + static_cast<int64_t>(n + 1))] = gram++;
  }
  const int64_t rows = xs.size() == 1 ? 1 : xs[0], cols = xs.back();
  const int64_t width = ctx.out(0).shape().back();
  std::vector<double> out(static_cast<size_t>(rows * width), 0.0);
  std::vector<int64_t> items;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> found(static_cast<size_t>(gram), 0);
    for (int64_t start = 0; start < cols; ++start)
      for (int64_t skip = 0; skip <= max_skip; ++skip)
        for (int64_t n = min_gram; n <= max_gram && n <= static_cast<int64_t>(counts.size()); ++n) {
          if (n == 1 && skip > 0) continue;
          const int64_t last = start + (n - 1) * (skip + 1);
          if (last >= cols) break;
          items.clear();
          for (int64_t i = 0; i < n; ++i) items.push_back(x[r * cols + start + i * (skip + 1)]);
          const auto hit = lookup[n - 1].find(items);
          if (hit != lookup[n - 1].end()) ++found[hit->second];
        }
    for (int64_t g = 0; g < gram; ++g) {
      if (found[g] == 0) continue;
      const double w = weights.empty() ? 1.0 : weights[g];
      double& cell = out[r * width + indexes[g]];
      cell = mode == "TF" ? static_cast<double>(found[g]) : mode == "IDF" ? w : static_cast<double>(found[g]) * w;
    }
  }
  ctx.storeOutput(0, out);
});

}  // namespace
}  // namespace kiln::cpu
