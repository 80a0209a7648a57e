// Reference kernels of the sorting operators: TopK.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

//! a > b with NaN greater than every number (numpy's sort order).
template <typename V>
bool greaterNanLast(V a, V b) {
  if constexpr (std::is_floating_point_v<V>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

void topK(KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  const ir::Shape& shape = in.shape();
  const int64_t rank = in.rank();
  int64_t axis = ctx.attrs().i("axis", -1);
  if (axis < 0) axis += rank;
  const bool largest = ctx.attrs().i("largest", 1) != 0;
  const int64_t k = ctx.in(1).intAt(0);
  int64_t outer = 1, inner = 1;
  const int64_t extent = shape[axis];
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) outer *= shape[d];
    if (d > axis) inner *= shape[d];
  }
  if (k < 0 || k > extent)
    throw Error(ErrorCode::kInvalidModel, ctx.node.describe() + ": K = " + std::to_string(k) + " is out of range");
  int64_t* indices = ctx.wants(1) ? ctx.out(1).values<int64_t>().data() : nullptr;
  ir::dispatchType(in.type(), [&]<typename T>() {
    using V = std::conditional_t<std::is_integral_v<T>, T, double>;
    auto x = in.values<T>();
    T* values = ctx.wants(0) ? ctx.out(0).values<T>().data() : nullptr;
    std::vector<int64_t> order(static_cast<size_t>(extent));
    std::vector<V> lane(static_cast<size_t>(extent));
    // Ties keep the lower index first; the result is always sorted (valid for sorted=0 too).
    auto before = [&](int64_t a, int64_t b) {
      if (largest ? greaterNanLast(lane[a], lane[b]) : greaterNanLast(lane[b], lane[a])) return true;
      if (largest ? greaterNanLast(lane[b], lane[a]) : greaterNanLast(lane[a], lane[b])) return false;
      return a < b;
    };
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t base = o * extent * inner + j;
        for (int64_t e = 0; e < extent; ++e) {
          lane[e] = static_cast<V>(x[base + e * inner]);
          order[e] = e;
        }
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        const int64_t out_base = o * k * inner + j;
        for (int64_t e = 0; e < k; ++e) {
          if (values) values[out_base + e * inner] = x[base + order[e] * inner];
          if (indices) indices[out_base + e * inner] = order[e];
        }
      }
    }
  });
}

KILN_REFERENCE_KERNEL(TopK, topK);

}  // namespace
}  // namespace kiln::cpu
