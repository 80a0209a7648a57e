// Reference kernels of the elementwise operators.
#include <algorithm>

#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

template <typename Fn>
void unaryFloat(KernelContext& ctx, Fn fn) {
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    auto in = ctx.in(0).values<T>();
    auto out = ctx.out(0).values<T>();
    for (size_t i = 0; i < in.size(); ++i) out[i] = static_cast<T>(fn(static_cast<double>(in[i])));
  });
}

template <typename Fn>
void binaryArith(KernelContext& ctx, Fn fn) {
  const ir::Tensor& a = ctx.in(0);
  const ir::Tensor& b = ctx.in(1);
  ir::Tensor& out = ctx.out(0);
  auto ia = broadcastIndex(a.shape(), out.shape());
  auto ib = broadcastIndex(b.shape(), out.shape());
  ir::dispatchType(a.type(), [&]<typename T>() {
    auto va = a.values<T>();
    auto vb = b.values<T>();
    auto vo = out.values<T>();
    for (size_t i = 0; i < vo.size(); ++i) vo[i] = fn(va[ia[i]], vb[ib[i]]);
  });
}

KILN_REFERENCE_KERNEL(Relu, [](KernelContext& ctx) { unaryFloat(ctx, [](double x) { return std::max(x, 0.0); }); });
KILN_REFERENCE_KERNEL(Add, [](KernelContext& ctx) {
  binaryArith(ctx, []<typename T>(T x, T y) -> T {
    if constexpr (std::is_same_v<T, bool>) return x || y;
    else return static_cast<T>(x + y);
  });
});

}  // namespace
}  // namespace kiln::cpu
