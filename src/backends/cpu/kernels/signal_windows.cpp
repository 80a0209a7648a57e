// Reference kernels of the signal windows, as the ONNX operators define them: with
// N = size when `periodic` (the default) else size - 1, w[n] for n in [0, size) is
//   Hann      0.5 - 0.5 cos(2 pi n / N)
//   Hamming   25/46 - 21/46 cos(2 pi n / N)
//   Blackman  0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)
#include <cmath>
#include <numbers>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

template <typename F>
void window(KernelContext& ctx, F&& w) {
  ir::Tensor& out = ctx.out(0);
  const int64_t size = out.numel();
  const double n1 = static_cast<double>(ctx.attrs().i("periodic", 1) != 0 ? size : size - 1);
  ir::dispatchType(out.type(), [&]<typename T>() {
    auto v = out.values<T>();
    for (int64_t i = 0; i < size; ++i) {
      const double x = n1 > 0 ? 2.0 * std::numbers::pi * static_cast<double>(i) / n1 : 0.0;
      v[static_cast<size_t>(i)] = static_cast<T>(w(x));
    }
  });
}

KILN_REFERENCE_KERNEL(HannWindow,
                      [](KernelContext& ctx) { window(ctx, [](double x) { return 0.5 - 0.5 * std::cos(x); }); });
KILN_REFERENCE_KERNEL(HammingWindow, [](KernelContext& ctx) {
  window(ctx, [](double x) { return 25.0 / 46.0 - 21.0 / 46.0 * std::cos(x); });
});
KILN_REFERENCE_KERNEL(BlackmanWindow, [](KernelContext& ctx) {
  window(ctx, [](double x) { return 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2.0 * x); });
});

}  // namespace
}  // namespace kiln::cpu
