// Reference kernels of the unary elementwise operators: math functions and activations.
// Floating-point functions are evaluated in double and rounded once to the output type.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

template <typename T>
constexpr bool kIsInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;

//! out = fn(in) elementwise for a floating-point input, fn taking and returning double.
template <typename Fn>
void unaryFloat(KernelContext& ctx, Fn fn) {
  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() {
    auto in = ctx.in(0).values<T>();
    auto out = ctx.out(0).values<T>();
    for (size_t i = 0; i < in.size(); ++i) out[i] = static_cast<T>(fn(static_cast<double>(in[i])));
  });
}

//! out = fn<T>(in) elementwise for any numeric input type.
template <typename Fn>
void unaryNumeric(KernelContext& ctx, Fn fn) {
  if (ctx.in(0).type() == DataType::kBOOL) ctx.unsupported("bool input is not supported by this operator");
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      auto in = ctx.in(0).values<T>();
      auto out = ctx.out(0).values<T>();
      for (size_t i = 0; i < in.size(); ++i) out[i] = fn(in[i]);
    }
  });
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}

// log(1 + exp(x)) without overflow for large x.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

// unaryFloat, unaryNumeric and Clip read in[i] before they write out[i] and read nothing else
// of the input: the kernels declared with KILN_REFERENCE_IN_PLACE may run in place.
#define KILN_FLOAT_KERNEL(op, expr)                                                                        \
  KILN_REFERENCE_KERNEL(op, [](KernelContext& ctx) { unaryFloat(ctx, [](double x) { return (expr); }); }); \
  KILN_REFERENCE_IN_PLACE(op, 0)

KILN_FLOAT_KERNEL(Reciprocal, 1.0 / x);
KILN_FLOAT_KERNEL(Sqrt, std::sqrt(x));
KILN_FLOAT_KERNEL(Exp, std::exp(x));
KILN_FLOAT_KERNEL(Log, std::log(x));
KILN_FLOAT_KERNEL(Tanh, std::tanh(x));
KILN_FLOAT_KERNEL(Sigmoid, sigmoid(x));
KILN_FLOAT_KERNEL(Softplus, softplus(x));
KILN_FLOAT_KERNEL(Softsign, x / (1.0 + std::abs(x)));
KILN_FLOAT_KERNEL(Mish, x* std::tanh(softplus(x)));
KILN_FLOAT_KERNEL(Floor, std::floor(x));
KILN_FLOAT_KERNEL(Ceil, std::ceil(x));
KILN_FLOAT_KERNEL(Round, std::nearbyint(x));  // default rounding mode: half to even
KILN_FLOAT_KERNEL(Sin, std::sin(x));
KILN_FLOAT_KERNEL(Cos, std::cos(x));
KILN_FLOAT_KERNEL(Tan, std::tan(x));
KILN_FLOAT_KERNEL(Asin, std::asin(x));
KILN_FLOAT_KERNEL(Acos, std::acos(x));
KILN_FLOAT_KERNEL(Atan, std::atan(x));
KILN_FLOAT_KERNEL(Sinh, std::sinh(x));
KILN_FLOAT_KERNEL(Cosh, std::cosh(x));
KILN_FLOAT_KERNEL(Asinh, std::asinh(x));
KILN_FLOAT_KERNEL(Acosh, std::acosh(x));
KILN_FLOAT_KERNEL(Atanh, std::atanh(x));

// Erf-13 also takes integer inputs: erf of an integer truncates to -1, 0 or 1.
KILN_REFERENCE_KERNEL(Erf, [](KernelContext& ctx) {
  unaryNumeric(ctx, []<typename T>(T x) -> T {
    double r = std::erf(static_cast<double>(x));
    if constexpr (kIsInt<T>) return static_cast<T>(static_cast<int64_t>(r));
    else return static_cast<T>(r);
  });
});

// Attribute values are float in ONNX; they are widened to double once.
KILN_REFERENCE_KERNEL(LeakyRelu, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 0.01f);
  unaryFloat(ctx, [alpha](double x) { return x < 0 ? alpha * x : x; });
});
KILN_REFERENCE_IN_PLACE(LeakyRelu, 0);

KILN_REFERENCE_KERNEL(Elu, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 1.0f);
  unaryFloat(ctx, [alpha](double x) { return x < 0 ? alpha * std::expm1(x) : x; });
});
KILN_REFERENCE_IN_PLACE(Elu, 0);

KILN_REFERENCE_KERNEL(Selu, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 1.67326319217681884765625f);
  double gamma = ctx.attrs().f("gamma", 1.05070102214813232421875f);
  unaryFloat(ctx, [alpha, gamma](double x) { return x <= 0 ? gamma * alpha * std::expm1(x) : gamma * x; });
});

KILN_REFERENCE_KERNEL(Celu, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 1.0f);
  unaryFloat(ctx, [alpha](double x) { return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha)); });
});

KILN_REFERENCE_KERNEL(ThresholdedRelu, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 1.0f);
  unaryFloat(ctx, [alpha](double x) { return x > alpha ? x : 0.0; });
});

KILN_REFERENCE_KERNEL(HardSigmoid, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 0.2f);
  double beta = ctx.attrs().f("beta", 0.5f);
  unaryFloat(ctx, [alpha, beta](double x) { return std::clamp(alpha * x + beta, 0.0, 1.0); });
});
KILN_REFERENCE_IN_PLACE(HardSigmoid, 0);

KILN_REFERENCE_KERNEL(Swish, [](KernelContext& ctx) {
  double alpha = ctx.attrs().f("alpha", 1.0f);
  unaryFloat(ctx, [alpha](double x) { return x / (1.0 + std::exp(-alpha * x)); });
});

KILN_REFERENCE_KERNEL(HardSwish, [](KernelContext& ctx) {
  unaryFloat(ctx, [](double x) { return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0); });
});
KILN_REFERENCE_IN_PLACE(HardSwish, 0);

KILN_REFERENCE_KERNEL(Gelu, [](KernelContext& ctx) {
  if (ctx.attrs().s("approximate", "none") == "tanh") {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    unaryFloat(ctx, [k](double x) { return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x))); });
  } else {
    unaryFloat(ctx, [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); });
  }
});

KILN_REFERENCE_KERNEL(Relu, [](KernelContext& ctx) {
  unaryNumeric(ctx, []<typename T>(T x) -> T {
    if constexpr (std::is_unsigned_v<T>) return x;
    else return x < T{0} ? T{0} : x;  // NaN stays NaN
  });
});
KILN_REFERENCE_IN_PLACE(Relu, 0);

KILN_REFERENCE_KERNEL(Abs, [](KernelContext& ctx) {
  unaryNumeric(ctx, []<typename T>(T x) -> T {
    if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (kIsInt<T>) return x < 0 ? static_cast<T>(0 - static_cast<uint64_t>(x)) : x;  // MIN wraps
    else return static_cast<T>(std::abs(static_cast<double>(x)));
  });
});

KILN_REFERENCE_KERNEL(Neg, [](KernelContext& ctx) {
  unaryNumeric(ctx, []<typename T>(T x) -> T {
    if constexpr (kIsInt<T>) return static_cast<T>(0 - static_cast<uint64_t>(x));  // MIN wraps
    else return static_cast<T>(-static_cast<double>(x));
  });
});

KILN_REFERENCE_KERNEL(Sign, [](KernelContext& ctx) {
  unaryNumeric(ctx, []<typename T>(T x) -> T {
    if constexpr (std::is_unsigned_v<T>) return x > 0 ? T{1} : T{0};
    else if constexpr (kIsInt<T>) return static_cast<T>((x > 0) - (x < 0));
    else {
      double v = static_cast<double>(x);
      return static_cast<T>(v > 0 ? 1.0 : v < 0 ? -1.0 : v);  // NaN stays NaN, -0 stays -0
    }
  });
});

// Clip: y = min(max(x, min), max); min > max gives max everywhere, as ONNX specifies.
KILN_REFERENCE_KERNEL(Clip, [](KernelContext& ctx) {
  if (ctx.in(0).type() == DataType::kBOOL) ctx.unsupported("bool input is not supported");
  ir::dispatchType(ctx.in(0).type(), [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      T lo, hi;
      if constexpr (kIsInt<T>) {
        lo = std::numeric_limits<T>::lowest();
        hi = std::numeric_limits<T>::max();
      } else {
        lo = static_cast<T>(-std::numeric_limits<double>::infinity());
        hi = static_cast<T>(std::numeric_limits<double>::infinity());
      }
      if (ctx.has(1)) lo = ctx.in(1).values<T>()[0];
      if (ctx.has(2)) hi = ctx.in(2).values<T>()[0];
      auto in = ctx.in(0).values<T>();
      auto out = ctx.out(0).values<T>();
      for (size_t i = 0; i < in.size(); ++i) {
        T v = in[i] < lo ? lo : in[i];  // NaN stays NaN
        out[i] = hi < v ? hi : v;
      }
    }
  });
});
KILN_REFERENCE_IN_PLACE(Clip, 0);

}  // namespace
}  // namespace kiln::cpu
