// Reference kernels of the comparison and logic operators (bool outputs), IsNaN, IsInf and
// BitShift.
#include <cmath>
#include <type_traits>

#include "backends/cpu/kernels/broadcast_loop.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

//! out (bool) = fn(a, b) over the broadcast of two inputs of one type. Half and bfloat16
//! compare as float (exact).
template <typename Fn>
void compare(KernelContext& ctx, Fn fn) {
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    using V = std::conditional_t<std::is_same_v<T, ir::Half> || std::is_same_v<T, ir::BFloat16>, float, T>;
    broadcastBinary<T, T, bool>(ctx.in(0), ctx.in(1), ctx.out(0),
                                [&](T x, T y) { return fn(static_cast<V>(x), static_cast<V>(y)); });
  });
}

KILN_REFERENCE_KERNEL(Equal, [](KernelContext& ctx) { compare(ctx, [](auto x, auto y) { return x == y; }); });
KILN_REFERENCE_KERNEL(Less, [](KernelContext& ctx) { compare(ctx, [](auto x, auto y) { return x < y; }); });
KILN_REFERENCE_KERNEL(Greater, [](KernelContext& ctx) { compare(ctx, [](auto x, auto y) { return x > y; }); });
KILN_REFERENCE_KERNEL(LessOrEqual, [](KernelContext& ctx) { compare(ctx, [](auto x, auto y) { return x <= y; }); });
KILN_REFERENCE_KERNEL(GreaterOrEqual, [](KernelContext& ctx) { compare(ctx, [](auto x, auto y) { return x >= y; }); });

template <typename Fn>
void logicBinary(KernelContext& ctx, Fn fn) {
  broadcastBinary<bool, bool, bool>(ctx.in(0), ctx.in(1), ctx.out(0), fn);
}

KILN_REFERENCE_KERNEL(And, [](KernelContext& ctx) { logicBinary(ctx, [](bool x, bool y) { return x && y; }); });
KILN_REFERENCE_KERNEL(Or, [](KernelContext& ctx) { logicBinary(ctx, [](bool x, bool y) { return x || y; }); });
KILN_REFERENCE_KERNEL(Xor, [](KernelContext& ctx) { logicBinary(ctx, [](bool x, bool y) { return x != y; }); });

KILN_REFERENCE_KERNEL(Not, [](KernelContext& ctx) {
  auto in = ctx.in(0).values<bool>();
  auto out = ctx.out(0).values<bool>();
  for (size_t i = 0; i < in.size(); ++i) out[i] = !in[i];
});

template <typename Fn>
void floatPredicate(KernelContext& ctx, Fn fn) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() {
    auto in = ctx.in(0).values<T>();
    auto out = ctx.out(0).values<bool>();
    for (size_t i = 0; i < in.size(); ++i) out[i] = fn(static_cast<double>(in[i]));
  });
}

KILN_REFERENCE_KERNEL(IsNaN, [](KernelContext& ctx) { floatPredicate(ctx, [](double x) { return std::isnan(x); }); });

KILN_REFERENCE_KERNEL(IsInf, [](KernelContext& ctx) {
  bool negative = ctx.attrs().i("detect_negative", 1) != 0;
  bool positive = ctx.attrs().i("detect_positive", 1) != 0;
  floatPredicate(ctx, [=](double x) { return std::isinf(x) && (x > 0 ? positive : negative); });
});

// BitShift on unsigned integers; shifting by the bit width or more gives 0.
KILN_REFERENCE_KERNEL(BitShift, [](KernelContext& ctx) {
  bool left = ctx.attrs().s("direction") == "LEFT";
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      broadcastBinary<T, T, T>(ctx.in(0), ctx.in(1), ctx.out(0), [left](T x, T n) -> T {
        if (n >= sizeof(T) * 8) return T{0};
        return static_cast<T>(left ? x << n : x >> n);
      });
    } else {
      ctx.unsupported("BitShift needs unsigned integer inputs");
    }
  });
});

}  // namespace
}  // namespace kiln::cpu
