// Unary elementwise kernels of "cuda.elementwise" (the provider is cuda_elementwise.cpp):
// math functions and activations, Clip, Shrink, Not, BitwiseNot and Cast. Half and bfloat16
// compute in float and round once when stored, double computes in double. "vectorize" uses
// 16-byte accesses when the pointers are aligned (checked at each launch); otherwise one
// element per access. The types beyond float / half / bf16 / int32 / int64 / bool (double and
// the narrow and unsigned integers) get the one-element kernel only; Cast to or from them is
// in elementwise_cast.cu.
#include <cmath>
#include <limits>

#include "backends/cuda/kernels/elementwise_ops.cuh"

namespace kiln::cuda {
namespace {

// ---- unary functions -------------------------------------------------------------------------

// float and double forms of the math functions: half and bfloat16 compute in float, double in
// double (as the reference).
#define KILN_MATH_FN(name, f32, f64)                                \
  __device__ __forceinline__ float name(float x) { return f32(x); } \
  __device__ __forceinline__ double name(double x) { return f64(x); }
KILN_MATH_FN(mathExp, expf, exp)
KILN_MATH_FN(mathExpm1, expm1f, expm1)
KILN_MATH_FN(mathLog, logf, log)
KILN_MATH_FN(mathLog1p, log1pf, log1p)
KILN_MATH_FN(mathSqrt, sqrtf, sqrt)
KILN_MATH_FN(mathTanh, tanhf, tanh)
KILN_MATH_FN(mathErf, erff, erf)
KILN_MATH_FN(mathFloor, floorf, floor)
KILN_MATH_FN(mathCeil, ceilf, ceil)
KILN_MATH_FN(mathSin, sinf, sin)
KILN_MATH_FN(mathCos, cosf, cos)
KILN_MATH_FN(mathAbs, fabsf, fabs)
#undef KILN_MATH_FN

//! std::clamp's rule (a NaN stays NaN).
template <typename F>
__device__ __forceinline__ F clampTo(F v, F lo, F hi) {
  return v < lo ? lo : hi < v ? hi : v;
}

template <typename F>
__device__ __forceinline__ F softplus(F x) {
  return (x < F(0) ? F(0) : x) + mathLog1p(mathExp(-mathAbs(x)));
}

//! static_cast<T>(r) as the reference's host compiler does it for an integer T (through int64,
//! so that an out-of-range value wraps; uint64 from 2^63 on directly).
template <typename T>
__device__ __forceinline__ T truncateTo(double r) {
  if constexpr (std::is_same_v<T, uint64_t>)
    if (r >= 9223372036854775808.0) return static_cast<T>(r);
  return static_cast<T>(static_cast<int64_t>(r));
}

template <UnaryOp kOp>
struct UnaryFn {
  float alpha = 0, beta = 0, gamma = 0;

  __device__ __forceinline__ void prepare() {}

  template <typename C>
  __device__ __forceinline__ auto operator()(C x) const {
    if constexpr (kOp == UnaryOp::kRelu) {
      if constexpr (std::is_unsigned_v<C>) return x;
      else return x < C(0) ? C(0) : x;  // NaN stays NaN
    } else if constexpr (kOp == UnaryOp::kAbs || kOp == UnaryOp::kNeg) {
      if constexpr (std::is_integral_v<C>) {
        using U = WrapOf<C>;
        C neg = static_cast<C>(U(0) - static_cast<U>(x));  // MIN wraps, as the reference
        if constexpr (kOp == UnaryOp::kNeg) return neg;
        else if constexpr (std::is_unsigned_v<C>) return x;
        else return x < 0 ? neg : x;
      } else {
        return kOp == UnaryOp::kNeg ? -x : mathAbs(x);
      }
    } else if constexpr (kOp == UnaryOp::kNot) {
      return !x;
    } else if constexpr (kOp == UnaryOp::kBitwiseNot) {
      return static_cast<C>(~x);
    } else if constexpr (kOp == UnaryOp::kCast) {
      return x;  // the conversion happens when stored
    } else if constexpr (kOp == UnaryOp::kShrink) {
      // In double for every type, as the reference; lambd is alpha, bias is beta.
      const double v = static_cast<double>(x), lambd = alpha, bias = beta;
      const double r = v < -lambd ? v + bias : v > lambd ? v - bias : 0.0;
      if constexpr (std::is_integral_v<C>) return truncateTo<C>(r);
      else return r;
    } else if constexpr (kOp == UnaryOp::kErf && std::is_integral_v<C>) {
      return static_cast<C>(static_cast<int64_t>(erf(static_cast<double>(x))));  // -1, 0 or 1
    } else {
      return floatOp(x);
    }
  }

  template <typename F>
  __device__ __forceinline__ F floatOp(F x) const {
    const F one = F(1), zero = F(0);
    switch (kOp) {
      case UnaryOp::kSigmoid: {
        if (x >= zero) return one / (one + mathExp(-x));
        F e = mathExp(x);
        return e / (one + e);
      }
      case UnaryOp::kTanh: return mathTanh(x);
      case UnaryOp::kExp: return mathExp(x);
      case UnaryOp::kLog: return mathLog(x);
      case UnaryOp::kSqrt: return mathSqrt(x);
      case UnaryOp::kReciprocal: return one / x;
      case UnaryOp::kErf: return mathErf(x);
      case UnaryOp::kGeluErf: return F(0.5) * x * (one + mathErf(x * F(0.70710678118654752440)));
      case UnaryOp::kGeluTanh:
        return F(0.5) * x * (one + mathTanh(F(0.79788456080286535588) * (x + F(0.044715) * x * x * x)));
      case UnaryOp::kLeakyRelu: return x < zero ? F(alpha) * x : x;
      case UnaryOp::kElu: return x < zero ? F(alpha) * mathExpm1(x) : x;
      case UnaryOp::kSelu: return x <= zero ? F(gamma) * F(alpha) * mathExpm1(x) : F(gamma) * x;
      case UnaryOp::kHardSigmoid: return clampTo(F(alpha) * x + F(beta), zero, one);
      case UnaryOp::kHardSwish: return x * clampTo(x / F(6) + F(0.5), zero, one);
      case UnaryOp::kSoftplus: return softplus(x);
      case UnaryOp::kFloor: return mathFloor(x);
      case UnaryOp::kCeil: return mathCeil(x);
      case UnaryOp::kSin: return mathSin(x);
      case UnaryOp::kCos: return mathCos(x);
      case UnaryOp::kSwish: return x / (one + mathExp(-F(alpha) * x));
      case UnaryOp::kMish: return x * mathTanh(softplus(x));
      default: return x;
    }
  }
};

//! Clip: bounds baked on the host when known there, else read from the device once per thread.
template <typename T>
struct ClipFn {
  using C = Compute<T>;
  C lo, hi;
  const T* lo_ptr = nullptr;
  const T* hi_ptr = nullptr;

  __device__ __forceinline__ void prepare() {
    if (lo_ptr) lo = toCompute(*lo_ptr);
    if (hi_ptr) hi = toCompute(*hi_ptr);
  }
  __device__ __forceinline__ C operator()(C x) const {
    C v = x < lo ? lo : x;  // NaN stays NaN
    return hi < v ? hi : v;
  }
};

template <typename Fn, typename TIn, typename TOut, int N>
__global__ void unaryKernel(const TIn* __restrict__ in, TOut* __restrict__ out, int64_t n, Fn fn) {
  Fn f = fn;
  f.prepare();
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t chunks = n / N;
  for (int64_t c = tid; c < chunks; c += stride) {
    Vec<TIn, N> a = reinterpret_cast<const Vec<TIn, N>*>(in)[c];
    Vec<TOut, N> r;
#pragma unroll
    for (int k = 0; k < N; ++k) r.v[k] = convertTo<TOut>(f(toCompute(a.v[k])));
    reinterpret_cast<Vec<TOut, N>*>(out)[c] = r;
  }
  const int64_t t = chunks * N + tid;  // the last n % N elements
  if (t < n) out[t] = convertTo<TOut>(f(toCompute(in[t])));
}

template <typename Fn, typename TIn, typename TOut, bool kVec>
void launchWith(const Fn& fn, const void* in, void* out, int64_t n, bool vectorize, cudaStream_t stream) {
  const TIn* pi = static_cast<const TIn*>(in);
  TOut* po = static_cast<TOut*>(out);
  if constexpr (kVec) {
    constexpr int N = vecWidth<TIn, TOut>();
    if (vectorize && N > 1 && aligned(in, sizeof(TIn) * N) && aligned(out, sizeof(TOut) * N)) {
      unaryKernel<Fn, TIn, TOut, N><<<gridFor(n / N + 1), kThreads, 0, stream>>>(pi, po, n, fn);
      return;
    }
  }
  unaryKernel<Fn, TIn, TOut, 1><<<gridFor(n), kThreads, 0, stream>>>(pi, po, n, fn);
}

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

//! The types with vectorized unary kernels.
template <typename T>
constexpr bool kIsVectorType = kIsFloat16<T> || std::is_same_v<T, float> || std::is_same_v<T, int32_t> ||
                               std::is_same_v<T, int64_t> || std::is_same_v<T, bool>;

//! The types Cast converts between here (vectorized); Cast to or from another type is in
//! elementwise_cast.cu.
template <typename T>
constexpr bool kIsCastType = kIsVectorType<T> || std::is_same_v<T, uint8_t>;

//! Which input types each op (other than Cast) has a kernel for: the reference's.
template <UnaryOp kOp, typename T>
constexpr bool unaryHas() {
  constexpr bool floating = kIsFloat16<T> || std::is_floating_point_v<T>;
  switch (kOp) {
    case UnaryOp::kCast: return true;
    case UnaryOp::kNot: return std::is_same_v<T, bool>;
    case UnaryOp::kBitwiseNot: return kIsInteger<T>;
    case UnaryOp::kRelu:
    case UnaryOp::kAbs:
    case UnaryOp::kNeg:
    case UnaryOp::kClip:
    case UnaryOp::kShrink:
    case UnaryOp::kErf: return floating || kIsInteger<T>;
    default: return floating;
  }
}

template <UnaryOp kOp>
using UnaryTag = std::integral_constant<UnaryOp, kOp>;

//! Calls f(UnaryTag<kOp>{}) for a run-time op.
// clang-format off
template <typename F>
decltype(auto) dispatchUnary(UnaryOp op, F&& f) {
#define KILN_UNARY_CASE(name) \
  case UnaryOp::name: return f(UnaryTag<UnaryOp::name>{});
  switch (op) {
    KILN_UNARY_CASE(kRelu) KILN_UNARY_CASE(kSigmoid) KILN_UNARY_CASE(kTanh) KILN_UNARY_CASE(kExp)
    KILN_UNARY_CASE(kLog) KILN_UNARY_CASE(kSqrt) KILN_UNARY_CASE(kAbs) KILN_UNARY_CASE(kNeg)
    KILN_UNARY_CASE(kReciprocal) KILN_UNARY_CASE(kErf) KILN_UNARY_CASE(kGeluErf) KILN_UNARY_CASE(kGeluTanh)
    KILN_UNARY_CASE(kLeakyRelu) KILN_UNARY_CASE(kElu) KILN_UNARY_CASE(kSelu) KILN_UNARY_CASE(kHardSigmoid)
    KILN_UNARY_CASE(kHardSwish) KILN_UNARY_CASE(kSoftplus) KILN_UNARY_CASE(kClip) KILN_UNARY_CASE(kFloor)
    KILN_UNARY_CASE(kCeil) KILN_UNARY_CASE(kSin) KILN_UNARY_CASE(kCos) KILN_UNARY_CASE(kNot)
    KILN_UNARY_CASE(kCast) KILN_UNARY_CASE(kBitwiseNot) KILN_UNARY_CASE(kShrink) KILN_UNARY_CASE(kSwish)
    KILN_UNARY_CASE(kMish)
  }
#undef KILN_UNARY_CASE
  throw Error(ErrorCode::kInternal, "bad unary op");
}
// clang-format on

template <typename T>
Compute<T> lowest() {
  if constexpr (std::is_integral_v<T>) return std::numeric_limits<T>::lowest();
  else return -std::numeric_limits<float>::infinity();
}
template <typename T>
Compute<T> highest() {
  if constexpr (std::is_integral_v<T>) return std::numeric_limits<T>::max();
  else return std::numeric_limits<float>::infinity();
}

}  // namespace

bool unarySupported(UnaryOp op, DataType in, DataType out) {
  if (op == UnaryOp::kCast) return true;  // every pair of the 13 types
  if (in != out) return false;
  return dispatchUnary(op, [&](auto op_tag) {
    return dispatchAnyType(in,
                           [&](auto tag) { return unaryHas<decltype(op_tag)::value, typename decltype(tag)::type>(); });
  });
}

bool unaryVectorizes(UnaryOp op, DataType in, DataType out) {
  return dispatchAnyType(in, [&](auto in_tag) {
    return dispatchAnyType(out, [&](auto out_tag) {
      using TIn = typename decltype(in_tag)::type;
      using TOut = typename decltype(out_tag)::type;
      return op == UnaryOp::kCast ? kIsCastType<TIn> && kIsCastType<TOut> : kIsVectorType<TIn>;
    });
  });
}

void launchUnary(UnaryOp op, DataType in_type, DataType out_type, const UnaryParams& params, const void* in, void* out,
                 int64_t n, bool vectorize, cudaStream_t stream) {
  if (n == 0) return;
  if (op == UnaryOp::kCast && !unaryVectorizes(op, in_type, out_type)) {
    launchWideCast(in_type, out_type, in, out, n, stream);
    return;
  }
  dispatchUnary(op, [&](auto op_tag) {
    constexpr UnaryOp kOp = decltype(op_tag)::value;
    dispatchAnyType(in_type, [&](auto in_tag) {
      using TIn = typename decltype(in_tag)::type;
      if constexpr (kOp == UnaryOp::kCast) {
        if constexpr (kIsCastType<TIn>) {
          dispatchDeviceType(out_type, [&](auto out_tag) {
            using TOut = typename decltype(out_tag)::type;
            if constexpr (kIsCastType<TOut>)
              launchWith<UnaryFn<kOp>, TIn, TOut, true>({}, in, out, n, vectorize, stream);
          });
        }
      } else if constexpr (!unaryHas<kOp, TIn>()) {
        throw Error(ErrorCode::kInternal, "no unary kernel for " + std::string(toString(in_type)));
      } else if constexpr (kOp == UnaryOp::kClip) {
        ClipFn<TIn> fn{};
        fn.lo = params.has_lo ? static_cast<Compute<TIn>>(params.lo) : lowest<TIn>();
        fn.hi = params.has_hi ? static_cast<Compute<TIn>>(params.hi) : highest<TIn>();
        if (!params.has_lo) fn.lo_ptr = static_cast<const TIn*>(params.lo_ptr);
        if (!params.has_hi) fn.hi_ptr = static_cast<const TIn*>(params.hi_ptr);
        launchWith<ClipFn<TIn>, TIn, TIn, kIsVectorType<TIn>>(fn, in, out, n, vectorize, stream);
      } else {
        UnaryFn<kOp> fn{params.alpha, params.beta, params.gamma};
        launchWith<UnaryFn<kOp>, TIn, TIn, kIsVectorType<TIn>>(fn, in, out, n, vectorize, stream);
      }
    });
  });
}

}  // namespace kiln::cuda
