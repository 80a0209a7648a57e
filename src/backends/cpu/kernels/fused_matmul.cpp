// Reference kernel of FusedMatMul: Y = act(alpha * A op(B) + bias) + residual, every leading
// dim of A folded into M. Products accumulate in double, the epilogue runs in double on the
// accumulator, and each element is rounded once into Y's type (float32, float16, bfloat16),
// which differs from the inputs' where the layer has an output_type (a folded Cast).
#include <algorithm>
#include <vector>

#include "backends/cpu/kernels/gemm_epilogue.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

void fusedMatMul(KernelContext& ctx) {
  const ir::Tensor& ta = ctx.in(0);
  const ir::Tensor& tb = ctx.in(1);
  ir::Tensor& out = ctx.out(0);
  const bool trans_b = ctx.attrs().i("trans_b", 0) != 0;
  const double alpha = ctx.attrs().f("alpha", 1.0f);
  const GemmActivation act = parseGemmActivation(ctx.attrs().s("activation", "none"), ctx.node.describe());
  const int64_t k = ta.shape().back();
  const int64_t m = k > 0 ? ta.numel() / k : out.numel() / std::max<int64_t>(out.shape().back(), 1);
  const int64_t n = trans_b ? tb.shape()[0] : tb.shape()[1];
  if (out.numel() == 0) return;
  const ir::Tensor* bias = ctx.has(2) ? &ctx.in(2) : nullptr;
  const ir::Tensor* residual = ctx.has(3) ? &ctx.in(3) : nullptr;

  ir::dispatchFloat(ta.type(), [&]<typename T>() {
    // B as double [K, N] row-major, so the inner loop streams one row of it.
    const std::span<const T> bv = tb.values<T>();
    std::vector<double> b(static_cast<size_t>(k * n));
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j)
        b[p * n + j] = static_cast<double>(trans_b ? bv[j * k + p] : bv[p * n + j]);
    const std::span<const T> a = ta.values<T>();
    std::span<const T> bias_v = bias ? bias->values<T>() : std::span<const T>{};
    std::span<const T> res_v = residual ? residual->values<T>() : std::span<const T>{};
    ir::dispatchFloat(out.type(), [&]<typename Y>() {
      Y* y = out.values<Y>().data();
      std::vector<double> acc(static_cast<size_t>(n));
      for (int64_t i = 0; i < m; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t p = 0; p < k; ++p) {
          const double av = static_cast<double>(a[i * k + p]);
          const double* brow = b.data() + p * n;
          for (int64_t j = 0; j < n; ++j) acc[j] += av * brow[j];
        }
        for (int64_t j = 0; j < n; ++j) {
          double v = alpha * acc[j];
          if (bias) v += static_cast<double>(bias_v[j]);
          v = applyGemmActivation(act, v);
          if (residual) v += static_cast<double>(res_v[i * n + j]);
          y[i * n + j] = static_cast<Y>(v);
        }
      }
    });
  });
}

KILN_REFERENCE_KERNEL(FusedMatMul, fusedMatMul);

}  // namespace
}  // namespace kiln::cpu
