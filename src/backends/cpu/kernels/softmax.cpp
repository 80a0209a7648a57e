// Reference kernels of Softmax, LogSoftmax and Hardmax (sums in double, max subtracted first).
#include <cmath>
#include <limits>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

//! The input viewed as [outer][length][inner]; the op runs along `length`.
struct AxisView {
  int64_t outer = 1, length = 1, inner = 1;
};

AxisView axisView(const KernelContext& ctx) {
  const ir::Shape& s = ctx.in(0).shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  const bool legacy = ctx.opset < 13;  // flatten to 2-D at axis: the op spans all of s[axis:]
  int64_t axis = ctx.attrs().i("axis", legacy ? 1 : -1);
  if (axis < 0) axis += rank;
  AxisView v;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) v.outer *= s[d];
    else if (d == axis || legacy) v.length *= s[d];
    else v.inner *= s[d];
  }
  return v;
}

void softmaxFamily(KernelContext& ctx, SoftmaxKind kind) {
  const AxisView v = axisView(ctx);
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() {
    const T* src = ctx.in(0).values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t base = o * v.length * v.inner + i;
        double max = -std::numeric_limits<double>::infinity();
        int64_t arg = 0;
        for (int64_t k = 0; k < v.length; ++k) {
          const double x = static_cast<double>(src[base + k * v.inner]);
          if (x > max) {
            max = x;
            arg = k;
          }
        }
        if (kind == SoftmaxKind::kHardmax) {
          for (int64_t k = 0; k < v.length; ++k) dst[base + k * v.inner] = static_cast<T>(k == arg ? 1.0 : 0.0);
          continue;
        }
        double sum = 0.0;
        for (int64_t k = 0; k < v.length; ++k) sum += std::exp(static_cast<double>(src[base + k * v.inner]) - max);
        const double log_sum = std::log(sum);
        for (int64_t k = 0; k < v.length; ++k) {
          const double shifted = static_cast<double>(src[base + k * v.inner]) - max;
          const double y = kind == SoftmaxKind::kSoftmax ? std::exp(shifted) / sum : shifted - log_sum;
          dst[base + k * v.inner] = static_cast<T>(y);
        }
      }
  });
}

KILN_REFERENCE_KERNEL(Softmax, [](KernelContext& ctx) { softmaxFamily(ctx, SoftmaxKind::kSoftmax); });
KILN_REFERENCE_KERNEL(LogSoftmax, [](KernelContext& ctx) { softmaxFamily(ctx, SoftmaxKind::kLogSoftmax); });
KILN_REFERENCE_KERNEL(Hardmax, [](KernelContext& ctx) { softmaxFamily(ctx, SoftmaxKind::kHardmax); });

}  // namespace
}  // namespace kiln::cpu
