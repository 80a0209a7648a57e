// Reference kernels of the pooling operators, any number of spatial dims.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/window.h"

namespace kiln::cpu {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

//! Where each output pixel's window starts and where each kernel position lies relative to
//! it, per spatial dim and as a flat offset into one (n, c) plane of the input.
struct PoolPlan {
  size_t nd = 0;
  std::vector<int64_t> in_sp;
  int64_t in_pixels = 1, out_pixels = 1, kvol = 1;
  std::vector<int64_t> base_dim, base_flat;  // [nd][out_pixels], [out_pixels]
  std::vector<int64_t> k_dim, k_flat;        // [kvol][nd], [kvol]
};

PoolPlan makePlan(const ir::Window& win, const ir::Shape& x_shape) {
  PoolPlan plan;
  plan.nd = win.rank();
  plan.in_sp.assign(x_shape.begin() + 2, x_shape.end());
  const size_t nd = plan.nd;
  const std::vector<int64_t> strides = ir::contiguousStrides(plan.in_sp);
  for (size_t d = 0; d < nd; ++d) {
    plan.in_pixels *= plan.in_sp[d];
    plan.out_pixels *= win.out[d];
    plan.kvol *= win.kernel[d];
  }
  plan.base_dim.resize(nd * plan.out_pixels);
  plan.base_flat.assign(plan.out_pixels, 0);
  std::vector<int64_t> idx(nd, 0);
  for (int64_t p = 0; p < plan.out_pixels; ++p) {
    for (size_t d = 0; d < nd; ++d) {
      const int64_t c = idx[d] * win.strides[d] - win.pads_begin[d];
      plan.base_dim[d * plan.out_pixels + p] = c;
      plan.base_flat[p] += c * strides[d];
    }
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < win.out[d]) break;
      idx[d] = 0;
    }
  }
  plan.k_dim.resize(nd * plan.kvol);
  plan.k_flat.assign(plan.kvol, 0);
  idx.assign(nd, 0);
  for (int64_t q = 0; q < plan.kvol; ++q) {
    for (size_t d = 0; d < nd; ++d) {
      plan.k_dim[q * nd + d] = idx[d] * win.dilations[d];
      plan.k_flat[q] += plan.k_dim[q * nd + d] * strides[d];
    }
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < win.kernel[d]) break;
      idx[d] = 0;
    }
  }
  return plan;
}

//! MaxPool's Indices: flat index into X; storage_order 1 orders the spatial dims column-major.
int64_t storageIndex(const PoolPlan& plan, int64_t plane, int64_t flat, bool column_major) {
  if (!column_major) return plane * plan.in_pixels + flat;
  int64_t index = 0, stride = 1;
  std::vector<int64_t> coord(plan.nd);
  for (size_t d = plan.nd; d-- > 0;) {
    coord[d] = flat % plan.in_sp[d];
    flat /= plan.in_sp[d];
  }
  for (size_t d = 0; d < plan.nd; ++d) {
    index += coord[d] * stride;
    stride *= plan.in_sp[d];
  }
  return plane * plan.in_pixels + index;
}

template <typename T>
void windowedPool(KernelContext& ctx, PoolKind kind) {
  const ir::Tensor& x = ctx.in(0);
  ir::Tensor& y = ctx.out(0);
  const ir::Shape& xs = x.shape();
  const ir::Window win = ir::resolveWindow(ctx.attrs(), ir::Shape(xs.begin() + 2, xs.end()),
                                           ctx.attrs().ints("kernel_shape"), true);
  const PoolPlan plan = makePlan(win, xs);
  const size_t nd = plan.nd;
  const bool include_pad = ctx.attrs().i("count_include_pad", 0) != 0;
  const bool column_major = ctx.attrs().i("storage_order", 0) == 1;
  const double p_norm = kind == PoolKind::kLp ? static_cast<double>(ctx.attrs().i("p", 2)) : 2.0;
  int64_t* indices = ctx.wants(1) ? ctx.out(1).values<int64_t>().data() : nullptr;
  const T* xv = x.values<T>().data();
  T* yv = y.values<T>().data();
  const int64_t planes = xs[0] * xs[1];
  for (int64_t c = 0; c < planes; ++c) {
    const T* src = xv + c * plan.in_pixels;
    for (int64_t p = 0; p < plan.out_pixels; ++p) {
      double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
      int64_t best_flat = -1, valid = 0, in_padded = 0;
      for (int64_t q = 0; q < plan.kvol; ++q) {
        bool inside = true, inside_padded = true;
        for (size_t d = 0; d < nd; ++d) {
          const int64_t coord = plan.base_dim[d * plan.out_pixels + p] + plan.k_dim[q * nd + d];
          inside = inside && coord >= 0 && coord < plan.in_sp[d];
          inside_padded = inside_padded && coord >= -win.pads_begin[d] && coord < plan.in_sp[d] + win.pads_end[d];
        }
        in_padded += inside_padded;
        if (!inside) continue;
        const int64_t flat = plan.base_flat[p] + plan.k_flat[q];
        const double v = static_cast<double>(src[flat]);
        ++valid;
        if (kind == PoolKind::kMax) {
          if (v > best || best_flat < 0) {
            best = v;
            best_flat = flat;
          }
        } else if (kind == PoolKind::kAverage) {
          sum += v;
        } else {
          sum += std::pow(std::fabs(v), p_norm);
        }
      }
      double result = 0.0;
      if (kind == PoolKind::kMax) {
        result = best_flat < 0 ? 0.0 : best;
        if (indices) indices[c * plan.out_pixels + p] = best_flat < 0 ? -1 : storageIndex(plan, c, best_flat, column_major);
      } else if (kind == PoolKind::kAverage) {
        const int64_t divisor = include_pad ? in_padded : valid;
        result = divisor > 0 ? sum / static_cast<double>(divisor) : 0.0;
      } else {
        result = std::pow(sum, 1.0 / p_norm);
      }
      yv[c * plan.out_pixels + p] = static_cast<T>(result);
    }
  }
}

template <typename T>
void globalPool(KernelContext& ctx, PoolKind kind) {
  const ir::Tensor& x = ctx.in(0);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const int64_t pixels = planes > 0 ? x.numel() / planes : 0;
  const double p_norm = kind == PoolKind::kLp ? static_cast<double>(ctx.attrs().i("p", 2)) : 2.0;
  const T* xv = x.values<T>().data();
  T* yv = ctx.out(0).values<T>().data();
  for (int64_t c = 0; c < planes; ++c) {
    const T* src = xv + c * pixels;
    double acc = kind == PoolKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < pixels; ++i) {
      const double v = static_cast<double>(src[i]);
      if (kind == PoolKind::kMax) acc = std::max(acc, v);
      else if (kind == PoolKind::kAverage) acc += v;
      else acc += std::pow(std::fabs(v), p_norm);
    }
    if (kind == PoolKind::kAverage) acc = pixels > 0 ? acc / static_cast<double>(pixels) : 0.0;
    if (kind == PoolKind::kLp) acc = std::pow(acc, 1.0 / p_norm);
    yv[c] = static_cast<T>(acc);
  }
}

// MaxUnpool scatters X to the flat positions I of the unpooled shape implied by the
// attributes ((in - 1) * stride + kernel - pads); a larger output_shape pads that at the end of
// each spatial dim (as the ONNX reference does), so indices are re-flattened into it.
template <typename T>
void maxUnpool(KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  ir::Tensor& y = ctx.out(0);
  const ir::Shape& xs = x.shape();
  const size_t n = xs.size() - 2;
  const std::vector<int64_t> kernel = ctx.attrs().ints("kernel_shape");
  const std::vector<int64_t> strides = ctx.attrs().ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.attrs().ints("pads", std::vector<int64_t>(2 * n, 0));
  ir::Shape unpooled{xs[0], xs[1]};
  for (size_t i = 0; i < n; ++i) unpooled.push_back((xs[i + 2] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]);
  const ir::Shape& ys = y.shape();
  for (size_t d = 0; d < ys.size(); ++d)
    if (ys[d] < unpooled[d])
      throw Error(ErrorCode::kInvalidModel, ctx.node.describe() + ": output_shape " + toString(ys) +
                                                " is smaller than the unpooled shape " + toString(unpooled));
  const std::vector<int64_t> out_strides = ir::contiguousStrides(ys);
  int64_t unpooled_numel = 1;
  for (int64_t d : unpooled) unpooled_numel *= d;
  auto xv = x.values<T>();
  auto iv = ctx.in(1).values<int64_t>();
  auto yv = y.values<T>();
  for (size_t i = 0; i < xv.size(); ++i) {
    int64_t rest = iv[i];
    if (rest < 0 || rest >= unpooled_numel)
      throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": index " + std::to_string(rest) + " is out of range");
    int64_t flat = 0;
    for (size_t d = unpooled.size(); d-- > 0;) {
      flat += (rest % unpooled[d]) * out_strides[d];
      rest /= unpooled[d];
    }
    yv[flat] = xv[i];
  }
}

KILN_REFERENCE_KERNEL(MaxUnpool, [](KernelContext& ctx) {
  // Positions no index names are zero; the output buffer may hold anything (runtime memory).
  std::fill(ctx.out(0).bytes().begin(), ctx.out(0).bytes().end(), std::byte{0});
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { maxUnpool<T>(ctx); });
});
KILN_REFERENCE_KERNEL(MaxPool, [](KernelContext& ctx) {
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) ctx.unsupported("MaxPool on bool");
    else windowedPool<T>(ctx, PoolKind::kMax);
  });
});
//! NhwcMaxPool: the largest value in each window (pads never win), per channel; as MaxPool,
//! the first value, then strictly greater ones.
template <typename T>
void nhwcMaxPool(KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  ir::Tensor& y = ctx.out(0);
  const ir::Shape& xs = x.shape();
  const ir::Window win = ir::resolveWindow(ctx.attrs(), ir::Shape{xs[1], xs[2]}, ctx.attrs().ints("kernel_shape"), true);
  const int64_t n = xs[0], h = xs[1], w = xs[2], c = xs[3], oh = win.out[0], ow = win.out[1];
  auto xv = x.values<T>();
  auto yv = y.values<T>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double best = 0;
          bool any = false;
          for (int64_t i = 0; i < win.kernel[0]; ++i) {
            const int64_t iy = oy * win.strides[0] - win.pads_begin[0] + i * win.dilations[0];
            if (iy < 0 || iy >= h) continue;
            for (int64_t j = 0; j < win.kernel[1]; ++j) {
              const int64_t ix = ox * win.strides[1] - win.pads_begin[1] + j * win.dilations[1];
              if (ix < 0 || ix >= w) continue;
              const double v = static_cast<double>(xv[((b * h + iy) * w + ix) * c + ch]);
              if (!any || v > best) best = v;
              any = true;
            }
          }
          yv[((b * oh + oy) * ow + ox) * c + ch] = static_cast<T>(any ? best : 0.0);
        }
}

KILN_REFERENCE_KERNEL(NhwcMaxPool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { nhwcMaxPool<T>(ctx); });
});
KILN_REFERENCE_KERNEL(AveragePool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { windowedPool<T>(ctx, PoolKind::kAverage); });
});
KILN_REFERENCE_KERNEL(LpPool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { windowedPool<T>(ctx, PoolKind::kLp); });
});
KILN_REFERENCE_KERNEL(GlobalAveragePool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { globalPool<T>(ctx, PoolKind::kAverage); });
});
KILN_REFERENCE_KERNEL(GlobalMaxPool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { globalPool<T>(ctx, PoolKind::kMax); });
});
KILN_REFERENCE_KERNEL(GlobalLpPool, [](KernelContext& ctx) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() { globalPool<T>(ctx, PoolKind::kLp); });
});

}  // namespace
}  // namespace kiln::cpu
