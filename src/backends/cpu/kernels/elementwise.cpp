// Reference kernels of the broadcasting arithmetic operators: Add Sub Mul Div Pow Mod PRelu,
// the variadic Min Max Sum Mean, and Where.
//
// Integer arithmetic wraps around (two's complement), as ONNX Runtime and numpy do. Half and
// bfloat16 compute in float and round once when stored. Division (and Mod) by an integer zero
// is undefined in ONNX; it gives 0 here rather than a crash.
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/broadcast_loop.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

template <typename T>
constexpr bool kIsInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;

//! a op b modulo 2^bits(T): computed in uint64 so that no signed overflow occurs.
template <typename T, typename Op>
T wrapping(T a, T b, Op op) {
  return static_cast<T>(op(static_cast<uint64_t>(a), static_cast<uint64_t>(b)));
}

// Every numeric type ONNX arithmetic allows (all but bool).
template <typename F>
void dispatchNumeric(const KernelContext& ctx, DataType type, F&& f) {
  if (type == DataType::kBOOL) ctx.unsupported("bool inputs are not supported by this operator");
  ir::dispatchType(type, [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) f.template operator()<T>();
  });
}

template <typename Fn>
void binaryArith(KernelContext& ctx, Fn fn) {
  dispatchNumeric(ctx, ctx.in(0).type(), [&]<typename T>() {
    broadcastBinary<T, T, T>(ctx.in(0), ctx.in(1), ctx.out(0), [&](T x, T y) -> T { return fn(x, y); });
  });
}

template <typename T>
T divide(T a, T b) {
  if constexpr (kIsInt<T>) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>)
      if (b == T{-1}) return wrapping(T{0}, a, [](uint64_t x, uint64_t y) { return x - y; });  // -MIN wraps
    return static_cast<T>(a / b);  // truncates toward zero, like C and ONNX Runtime
  } else {
    return static_cast<T>(a / b);
  }
}

// Mod: fmod = 1 takes the dividend's sign (C fmod); fmod = 0 the divisor's (Python / numpy).
template <typename T>
T modulo(T a, T b, bool c_fmod) {
  if constexpr (kIsInt<T>) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>)
      if (b == T{-1}) return T{0};  // avoids MIN % -1 overflow
    T r = static_cast<T>(a % b);
    if constexpr (std::is_signed_v<T>)
      if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
    return r;
  } else {
    double x = static_cast<double>(a), y = static_cast<double>(b);
    double r = std::fmod(x, y);  // exact, so computing in double rounds once
    if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    return static_cast<T>(r);
  }
}

// x ** e for an integer base: exact with wraparound for e >= 0; a negative or fractional
// exponent goes through double and truncates like Cast.
template <typename T>
T integerPower(T x, double e) {
  if (e >= 0 && e == std::floor(e) && e < 18446744073709551616.0) {
    uint64_t n = static_cast<uint64_t>(e);
    uint64_t base = static_cast<uint64_t>(x), result = 1;
    while (n) {
      if (n & 1) result *= base;
      base *= base;
      n >>= 1;
    }
    return static_cast<T>(result);
  }
  double r = std::pow(static_cast<double>(x), e);
  if (!(std::abs(r) < 9.2e18)) return T{0};  // NaN, inf or beyond int64: undefined in ONNX
  return static_cast<T>(static_cast<int64_t>(r));
}

KILN_REFERENCE_KERNEL(Add, [](KernelContext& ctx) {
  binaryArith(ctx, []<typename T>(T x, T y) -> T {
    if constexpr (kIsInt<T>) return wrapping(x, y, [](uint64_t a, uint64_t b) { return a + b; });
    else return static_cast<T>(x + y);
  });
});

KILN_REFERENCE_KERNEL(Sub, [](KernelContext& ctx) {
  binaryArith(ctx, []<typename T>(T x, T y) -> T {
    if constexpr (kIsInt<T>) return wrapping(x, y, [](uint64_t a, uint64_t b) { return a - b; });
    else return static_cast<T>(x - y);
  });
});

KILN_REFERENCE_KERNEL(Mul, [](KernelContext& ctx) {
  binaryArith(ctx, []<typename T>(T x, T y) -> T {
    if constexpr (kIsInt<T>) return wrapping(x, y, [](uint64_t a, uint64_t b) { return a * b; });
    else return static_cast<T>(x * y);
  });
});

KILN_REFERENCE_KERNEL(Div, [](KernelContext& ctx) { binaryArith(ctx, []<typename T>(T x, T y) { return divide(x, y); }); });

// binaryArith's broadcastBinary may write over an input of the output's shape: it reads each
// element of that input only for the same output element, before writing it.
KILN_REFERENCE_IN_PLACE(Add, 0, 1);
KILN_REFERENCE_IN_PLACE(Sub, 0, 1);
KILN_REFERENCE_IN_PLACE(Mul, 0, 1);
KILN_REFERENCE_IN_PLACE(Div, 0, 1);

KILN_REFERENCE_KERNEL(Mod, [](KernelContext& ctx) {
  bool c_fmod = ctx.attrs().i("fmod", 0) != 0;
  binaryArith(ctx, [c_fmod]<typename T>(T x, T y) { return modulo(x, y, c_fmod); });
});

// Pow: the exponent (any numeric type) is read as double, exact for every integer below 2^53.
KILN_REFERENCE_KERNEL(Pow, [](KernelContext& ctx) {
  const ir::Tensor& base = ctx.in(0);
  const ir::Tensor& exponent = ctx.in(1);
  std::vector<double> e = exponent.toDouble();
  dispatchNumeric(ctx, base.type(), [&]<typename T>() {
    broadcastBinary(base.values<T>().data(), base.shape(), e.data(), exponent.shape(), ctx.out(0).values<T>().data(),
                    ctx.out(0).shape(), [](T x, double y) -> T {
                      if constexpr (kIsInt<T>) return integerPower(x, y);
                      else return static_cast<T>(std::pow(static_cast<double>(x), y));
                    });
  });
});

// PRelu: slope broadcasts to X (the output has X's shape, checked by the shape rule).
KILN_REFERENCE_KERNEL(PRelu, [](KernelContext& ctx) {
  dispatchNumeric(ctx, ctx.in(0).type(), [&]<typename T>() {
    broadcastBinary<T, T, T>(ctx.in(0), ctx.in(1), ctx.out(0), [](T x, T slope) -> T {
      if constexpr (std::is_unsigned_v<T>) return x;
      else if constexpr (kIsInt<T>) return x < 0 ? wrapping(x, slope, [](uint64_t a, uint64_t b) { return a * b; }) : x;
      else return static_cast<float>(x) < 0.0f ? static_cast<T>(x * slope) : x;
    });
  });
});

// Variadic ops fold their inputs into a buffer of Acc covering the output: input 0 broadcast
// into it, then acc = combine(acc, input i) for the others, then out = finish(acc).
template <typename T, typename Acc, typename Combine, typename Finish>
void foldInputs(KernelContext& ctx, Combine combine, Finish finish) {
  ir::Tensor& out = ctx.out(0);
  std::vector<Acc> acc(static_cast<size_t>(out.numel()));
  const ir::Tensor& first = ctx.in(0);
  const ir::Shape& shape = out.shape();
  broadcastBinary(first.values<T>().data(), first.shape(), first.values<T>().data(), first.shape(), acc.data(), shape,
                  [](T x, T) { return static_cast<Acc>(x); });
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const ir::Tensor& in = ctx.in(static_cast<int>(i));
    broadcastBinary(acc.data(), shape, in.values<T>().data(), in.shape(), acc.data(), shape, combine);
  }
  auto o = out.values<T>();
  for (size_t i = 0; i < acc.size(); ++i) o[i] = finish(acc[i]);
}

// Min and Max propagate NaN, like numpy's minimum / maximum.
template <bool kMax>
void minMax(KernelContext& ctx) {
  dispatchNumeric(ctx, ctx.in(0).type(), [&]<typename T>() {
    foldInputs<T, T>(
        ctx,
        [](T acc, T x) -> T {
          if constexpr (!kIsInt<T>) {
            if (acc != acc) return acc;
            if (x != x) return x;
          }
          if constexpr (kMax) return acc < x ? x : acc;
          else return x < acc ? x : acc;
        },
        [](T acc) { return acc; });
  });
}

KILN_REFERENCE_KERNEL(Max, [](KernelContext& ctx) { minMax<true>(ctx); });
KILN_REFERENCE_KERNEL(Min, [](KernelContext& ctx) { minMax<false>(ctx); });

template <bool kMean>
void sumMean(KernelContext& ctx) {
  dispatchNumeric(ctx, ctx.in(0).type(), [&]<typename T>() {
    using Acc = ir::Accumulator<T>;
    const Acc count = static_cast<Acc>(ctx.inputs.size());
    foldInputs<T, Acc>(
        ctx, [](Acc acc, T x) { return static_cast<Acc>(acc + static_cast<Acc>(x)); },
        [count](Acc acc) { return static_cast<T>(kMean ? acc / count : acc); });
  });
}

KILN_REFERENCE_KERNEL(Sum, [](KernelContext& ctx) { sumMean<false>(ctx); });
KILN_REFERENCE_KERNEL(Mean, [](KernelContext& ctx) { sumMean<true>(ctx); });

KILN_REFERENCE_KERNEL(Where, [](KernelContext& ctx) {
  const ir::Tensor& cond = ctx.in(0);
  const ir::Tensor& x = ctx.in(1);
  const ir::Tensor& y = ctx.in(2);
  ir::Tensor& out = ctx.out(0);
  BroadcastLoop<3> loop(out.shape(), {&cond.shape(), &x.shape(), &y.shape()});
  ir::dispatchType(x.type(), [&]<typename T>() {
    const bool* c = cond.values<bool>().data();
    const T* a = x.values<T>().data();
    const T* b = y.values<T>().data();
    T* o = out.values<T>().data();
    loop.run([&](int64_t off, int64_t n, const std::array<int64_t, 3>& in, const std::array<int64_t, 3>& st) {
      for (int64_t j = 0; j < n; ++j)
        o[off + j] = c[in[0] + j * st[0]] ? a[in[1] + j * st[1]] : b[in[2] + j * st[2]];
    });
  });
});

}  // namespace
}  // namespace kiln::cpu
