// Reference kernels of the reductions (Reduce*, ArgMax, ArgMin) and the scans CumSum and CumProd.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

enum class Reduce { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

//! Calls fn(input_index, output_index) for every element of an input of `shape`, in row-major
//! order, where the output index advances by out_strides[d] along dimension d.
template <typename Fn>
void forEachElement(const ir::Shape& shape, const std::vector<int64_t>& out_strides, Fn&& fn) {
  const size_t rank = shape.size();
  if (rank == 0) {
    fn(int64_t{0}, int64_t{0});
    return;
  }
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  const int64_t inner = shape[rank - 1];
  const int64_t inner_step = out_strides[rank - 1];
  std::vector<int64_t> coord(rank, 0);
  int64_t o = 0;
  for (int64_t i = 0; i < total; i += inner) {
    for (int64_t j = 0; j < inner; ++j) fn(i + j, o + j * inner_step);
    for (size_t d = rank - 1; d-- > 0;) {
      o += out_strides[d];
      if (++coord[d] < shape[d]) break;
      o -= out_strides[d] * shape[d];
      coord[d] = 0;
    }
  }
}

//! The dims a Reduce* node reduces (true) or nullopt-like empty vector for "no-op".
std::vector<bool> reducedDims(const KernelContext& ctx, bool& noop) {
  const int64_t rank = ctx.in(0).rank();
  std::vector<int64_t> axes;
  if (ctx.has(1)) axes = ctx.in(1).toInt64();
  noop = false;
  if (axes.empty()) {
    noop = ctx.attrs().i("noop_with_empty_axes", 0) != 0;
    return std::vector<bool>(rank, true);
  }
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) reduced[a < 0 ? a + rank : a] = true;
  return reduced;
}

template <typename T>
void reduceTyped(KernelContext& ctx, Reduce kind, const std::vector<bool>& reduced) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  const ir::Shape& shape = in.shape();
  // Output strides over the input's dims: 0 along reduced dims.
  std::vector<int64_t> out_strides(shape.size(), 0);
  int64_t stride = 1, count = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (reduced[d]) {
      count *= shape[d];
      continue;
    }
    out_strides[d] = stride;
    stride *= shape[d];
  }
  auto x = in.values<T>();
  auto y = out.values<T>();
  const size_t n_out = y.size();

  // Integers keep exact integer arithmetic where the result is an integer; the rest is double.
  constexpr bool kIntegral = std::is_integral_v<T>;
  const bool exact = kIntegral && (kind == Reduce::kSum || kind == Reduce::kMean || kind == Reduce::kMax ||
                                   kind == Reduce::kMin || kind == Reduce::kProd || kind == Reduce::kL1 ||
                                   kind == Reduce::kSumSquare);
  if (exact) {
    if constexpr (kIntegral) {
      using Acc = ir::Accumulator<T>;
      Acc init = 0;
      if (kind == Reduce::kProd) init = 1;
      if (kind == Reduce::kMax) init = static_cast<Acc>(std::numeric_limits<T>::lowest());
      if (kind == Reduce::kMin) init = static_cast<Acc>(std::numeric_limits<T>::max());
      std::vector<Acc> acc(n_out, init);
      forEachElement(shape, out_strides, [&](int64_t i, int64_t o) {
        Acc v = static_cast<Acc>(x[i]);
        switch (kind) {
          case Reduce::kMax: acc[o] = v > acc[o] ? v : acc[o]; break;
          case Reduce::kMin: acc[o] = v < acc[o] ? v : acc[o]; break;
          case Reduce::kProd: acc[o] *= v; break;
          case Reduce::kL1:
            if constexpr (std::is_signed_v<Acc>) acc[o] += v < 0 ? -v : v;
            else acc[o] += v;
            break;
          case Reduce::kSumSquare: acc[o] += v * v; break;
          default: acc[o] += v; break;
        }
      });
      for (size_t o = 0; o < n_out; ++o) {
        Acc v = acc[o];
        if (kind == Reduce::kMean) v = count ? v / static_cast<Acc>(count) : 0;
        y[o] = static_cast<T>(v);
      }
    }
    return;
  }

  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> shift;  // LogSumExp: the max of each group, subtracted before exp
  if (kind == Reduce::kLogSumExp) {
    shift.assign(n_out, -inf);
    forEachElement(shape, out_strides, [&](int64_t i, int64_t o) {
      double v = static_cast<double>(x[i]);
      if (v > shift[o]) shift[o] = v;
    });
    for (double& s : shift)
      if (!std::isfinite(s)) s = 0;
  }
  double init = 0;
  if (kind == Reduce::kProd) init = 1;
  if (kind == Reduce::kMax) init = -inf;
  if (kind == Reduce::kMin) init = inf;
  std::vector<double> acc(n_out, init);
  forEachElement(shape, out_strides, [&](int64_t i, int64_t o) {
    double v = static_cast<double>(x[i]);
    switch (kind) {
      case Reduce::kMax: acc[o] = (v > acc[o] || std::isnan(v)) ? v : acc[o]; break;
      case Reduce::kMin: acc[o] = (v < acc[o] || std::isnan(v)) ? v : acc[o]; break;
      case Reduce::kProd: acc[o] *= v; break;
      case Reduce::kL1: acc[o] += std::fabs(v); break;
      case Reduce::kL2:
      case Reduce::kSumSquare: acc[o] += v * v; break;
      case Reduce::kLogSumExp: acc[o] += std::exp(v - shift[o]); break;
      default: acc[o] += v; break;
    }
  });
  for (size_t o = 0; o < n_out; ++o) {
    double v = acc[o];
    switch (kind) {
      case Reduce::kMean: v /= static_cast<double>(count); break;
      case Reduce::kL2: v = std::sqrt(v); break;
      case Reduce::kLogSum: v = std::log(v); break;
      case Reduce::kLogSumExp: v = std::log(v) + shift[o]; break;
      default: break;
    }
    if constexpr (kIntegral) y[o] = static_cast<T>(std::llround(v));
    else y[o] = static_cast<T>(v);
  }
}

void reduce(KernelContext& ctx, Reduce kind) {
  bool noop = false;
  std::vector<bool> reduced = reducedDims(ctx, noop);
  if (noop) {
    std::memcpy(ctx.out(0).raw(), ctx.in(0).raw(), ctx.in(0).byteSize());
    return;
  }
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() { reduceTyped<T>(ctx, kind, reduced); });
}

KILN_REFERENCE_KERNEL(ReduceSum, [](KernelContext& ctx) { reduce(ctx, Reduce::kSum); });
KILN_REFERENCE_KERNEL(ReduceMean, [](KernelContext& ctx) { reduce(ctx, Reduce::kMean); });
KILN_REFERENCE_KERNEL(ReduceMax, [](KernelContext& ctx) { reduce(ctx, Reduce::kMax); });
KILN_REFERENCE_KERNEL(ReduceMin, [](KernelContext& ctx) { reduce(ctx, Reduce::kMin); });
KILN_REFERENCE_KERNEL(ReduceProd, [](KernelContext& ctx) { reduce(ctx, Reduce::kProd); });
KILN_REFERENCE_KERNEL(ReduceL1, [](KernelContext& ctx) { reduce(ctx, Reduce::kL1); });
KILN_REFERENCE_KERNEL(ReduceL2, [](KernelContext& ctx) { reduce(ctx, Reduce::kL2); });
KILN_REFERENCE_KERNEL(ReduceLogSum, [](KernelContext& ctx) { reduce(ctx, Reduce::kLogSum); });
KILN_REFERENCE_KERNEL(ReduceLogSumExp, [](KernelContext& ctx) { reduce(ctx, Reduce::kLogSumExp); });
KILN_REFERENCE_KERNEL(ReduceSumSquare, [](KernelContext& ctx) { reduce(ctx, Reduce::kSumSquare); });

//! outer x axis x inner decomposition of a shape around `axis`.
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
  AxisSplit(const ir::Shape& shape, int64_t axis) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
      if (d < axis) outer *= shape[d];
      else if (d == axis) extent = shape[d];
      else inner *= shape[d];
    }
  }
};

void argExtremum(KernelContext& ctx, bool is_max) {
  const ir::Tensor& in = ctx.in(0);
  const int64_t rank = in.rank();
  int64_t axis = ctx.attrs().i("axis", 0);
  if (axis < 0) axis += rank;
  const bool last = ctx.attrs().i("select_last_index", 0) != 0;
  const AxisSplit split(in.shape(), axis);
  auto y = ctx.out(0).values<int64_t>();
  ir::dispatchType(in.type(), [&]<typename T>() {
    using V = std::conditional_t<std::is_integral_v<T>, T, double>;
    auto x = in.values<T>();
    std::vector<V> best(static_cast<size_t>(split.inner));
    for (int64_t o = 0; o < split.outer; ++o) {
      const T* base = x.data() + o * split.extent * split.inner;
      int64_t* index = y.data() + o * split.inner;
      for (int64_t j = 0; j < split.inner; ++j) {
        best[j] = static_cast<V>(base[j]);
        index[j] = 0;
      }
      for (int64_t k = 1; k < split.extent; ++k) {
        const T* row = base + k * split.inner;
        for (int64_t j = 0; j < split.inner; ++j) {
          V v = static_cast<V>(row[j]);
          bool better = is_max ? v > best[j] : v < best[j];
          if (better || (last && v == best[j])) {
            best[j] = v;
            index[j] = k;
          }
        }
      }
    }
  });
}

KILN_REFERENCE_KERNEL(ArgMax, [](KernelContext& ctx) { argExtremum(ctx, true); });
KILN_REFERENCE_KERNEL(ArgMin, [](KernelContext& ctx) { argExtremum(ctx, false); });

//! CumSum (`product` false) and CumProd (true): the running sum or product along the axis
//! (input 1), exclusive and/or reversed.
void cumulative(KernelContext& ctx, bool product) {
  const ir::Tensor& in = ctx.in(0);
  const int64_t rank = in.rank();
  int64_t axis = ctx.in(1).intAt(0);
  if (axis < -rank || axis >= rank)
    throw Error(ErrorCode::kInvalidModel, ctx.node.describe() + ": axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += rank;
  const bool exclusive = ctx.attrs().i("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().i("reverse", 0) != 0;
  const AxisSplit split(in.shape(), axis);
  ir::dispatchType(in.type(), [&]<typename T>() {
    using Acc = ir::Accumulator<T>;
    auto x = in.values<T>();
    auto y = ctx.out(0).values<T>();
    std::vector<Acc> acc(static_cast<size_t>(split.inner));
    for (int64_t o = 0; o < split.outer; ++o) {
      std::fill(acc.begin(), acc.end(), product ? static_cast<Acc>(1) : Acc{});
      for (int64_t step = 0; step < split.extent; ++step) {
        const int64_t k = reverse ? split.extent - 1 - step : step;
        const int64_t offset = (o * split.extent + k) * split.inner;
        for (int64_t j = 0; j < split.inner; ++j) {
          const Acc v = static_cast<Acc>(x[offset + j]);
          if (exclusive) y[offset + j] = static_cast<T>(acc[j]);
          acc[j] = product ? static_cast<Acc>(acc[j] * v) : static_cast<Acc>(acc[j] + v);
          if (!exclusive) y[offset + j] = static_cast<T>(acc[j]);
        }
      }
    }
  });
}

KILN_REFERENCE_KERNEL(CumSum, [](KernelContext& ctx) { cumulative(ctx, false); });
KILN_REFERENCE_KERNEL(CumProd, [](KernelContext& ctx) { cumulative(ctx, true); });

}  // namespace
}  // namespace kiln::cpu
