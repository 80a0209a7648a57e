// Reference kernels of NonZero, Compress, Unique and NonMaxSuppression (shape rules and the
// shared computations in ir/ops/data_dependent.*).
#include <cstring>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/data_dependent.h"

namespace kiln::cpu {
namespace {

KILN_REFERENCE_KERNEL(NonZero, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& s = x.shape();
  const std::vector<double> v = x.toDouble();
  auto out = ctx.out(0).values<int64_t>();
  const int64_t count = ctx.out(0).shape()[1];
  int64_t k = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) {
    if (v[i] == 0.0) continue;
    for (int64_t rest = i, d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
      out[d * count + k] = rest % s[d];
      rest /= s[d];
    }
    ++k;
  }
});

KILN_REFERENCE_KERNEL(Compress, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const std::vector<double> cond = ctx.in(1).toDouble();
  const size_t es = elementSize(x.type());
  const auto* src = reinterpret_cast<const std::byte*>(x.raw());
  auto* dst = reinterpret_cast<std::byte*>(ctx.out(0).raw());
  if (!ctx.attrs().has("axis")) {
    for (size_t i = 0; i < cond.size() && i < static_cast<size_t>(x.numel()); ++i)
      if (cond[i] != 0.0) dst = std::copy_n(src + i * es, es, dst);
    return;
  }
  const ir::Shape& s = x.shape();
  int64_t axis = ctx.attrs().i("axis");
  if (axis < 0) axis += x.rank();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= s[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < s[axis] && i < static_cast<int64_t>(cond.size()); ++i)
      if (cond[i] != 0.0) dst = std::copy_n(src + ((o * s[axis] + i) * inner) * es, inner * es, dst);
});

KILN_REFERENCE_KERNEL(Unique, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const bool has_axis = ctx.attrs().has("axis");
  int64_t axis = has_axis ? ctx.attrs().i("axis") : -1;
  if (has_axis && axis < 0) axis += x.rank();
  const auto [first, inverse] = ir::uniqueOf(x, axis, ctx.attrs().i("sorted", 1) != 0);
  // Y: the distinct slices (elements) in order.
  const size_t es = elementSize(x.type());
  const auto* src = reinterpret_cast<const std::byte*>(x.raw());
  auto* dst = reinterpret_cast<std::byte*>(ctx.out(0).raw());
  if (axis < 0) {
    for (int64_t f : first) dst = std::copy_n(src + f * es, es, dst);
  } else {
    const ir::Shape& s = x.shape();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= s[d];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t f : first) dst = std::copy_n(src + ((o * s[axis] + f) * inner) * es, inner * es, dst);
  }
  if (ctx.wants(1)) std::copy(first.begin(), first.end(), ctx.out(1).values<int64_t>().begin());
  if (ctx.wants(2)) std::copy(inverse.begin(), inverse.end(), ctx.out(2).values<int64_t>().begin());
  if (ctx.wants(3)) {
    auto counts = ctx.out(3).values<int64_t>();
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i : inverse) ++counts[i];
  }
});

KILN_REFERENCE_KERNEL(NonMaxSuppression, [](KernelContext& ctx) {
  ir::NmsInputs in{.boxes = &ctx.in(0), .scores = &ctx.in(1)};
  if (ctx.has(2)) in.max_per_class = ctx.in(2).toInt64().at(0);
  if (ctx.has(3)) in.iou_threshold = ctx.in(3).toDouble().at(0);
  if (ctx.has(4)) in.score_threshold = ctx.in(4).toDouble().at(0);
  in.center_point_box = ctx.attrs().i("center_point_box", 0) != 0;
  auto out = ctx.out(0).values<int64_t>();
  size_t k = 0;
  for (const auto& row : ir::nonMaxSuppression(in))
    for (int64_t v : row) out[k++] = v;
});

}  // namespace
}  // namespace kiln::cpu
