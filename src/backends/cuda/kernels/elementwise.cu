// Unary elementwise kernels of "cuda.elementwise" (the provider is cuda_elementwise.cpp):
// math functions and activations, Clip, Not and Cast. Half and bfloat16 compute in float and
// round once when stored. "vectorize" uses 16-byte accesses when the pointers are aligned
// (checked at each launch); otherwise one element per access.
#include <cmath>
#include <limits>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/elementwise.h"

namespace kiln::cuda {
namespace {

// ---- unary functions -------------------------------------------------------------------------

template <UnaryOp kOp>
struct UnaryFn {
  float alpha = 0, beta = 0, gamma = 0;

  __device__ __forceinline__ void prepare() {}

  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kOp == UnaryOp::kRelu) {
      return x < C(0) ? C(0) : x;  // NaN stays NaN
    } else if constexpr (kOp == UnaryOp::kAbs || kOp == UnaryOp::kNeg) {
      if constexpr (std::is_integral_v<C>) {
        using U = std::make_unsigned_t<C>;
        C neg = static_cast<C>(U(0) - static_cast<U>(x));  // MIN wraps, as the reference
        return kOp == UnaryOp::kNeg ? neg : (x < 0 ? neg : x);
      } else {
        return kOp == UnaryOp::kNeg ? -x : fabsf(x);
      }
    } else if constexpr (kOp == UnaryOp::kNot) {
      return !x;
    } else if constexpr (kOp == UnaryOp::kCast) {
      return x;  // the conversion happens when stored
    } else {
      return floatOp(x);
    }
  }

  __device__ __forceinline__ float floatOp(float x) const {
    switch (kOp) {
      case UnaryOp::kSigmoid: {
        if (x >= 0) return 1.0f / (1.0f + expf(-x));
        float e = expf(x);
        return e / (1.0f + e);
      }
      case UnaryOp::kTanh: return tanhf(x);
      case UnaryOp::kExp: return expf(x);
      case UnaryOp::kLog: return logf(x);
      case UnaryOp::kSqrt: return sqrtf(x);
      case UnaryOp::kReciprocal: return 1.0f / x;
      case UnaryOp::kErf: return erff(x);
      case UnaryOp::kGeluErf: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
      case UnaryOp::kGeluTanh: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
      case UnaryOp::kLeakyRelu: return x < 0 ? alpha * x : x;
      case UnaryOp::kElu: return x < 0 ? alpha * expm1f(x) : x;
      case UnaryOp::kSelu: return x <= 0 ? gamma * alpha * expm1f(x) : gamma * x;
      case UnaryOp::kHardSigmoid: return fminf(fmaxf(alpha * x + beta, 0.0f), 1.0f);
      case UnaryOp::kHardSwish: return x * fminf(fmaxf(x / 6.0f + 0.5f, 0.0f), 1.0f);
      case UnaryOp::kSoftplus: return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
      case UnaryOp::kFloor: return floorf(x);
      case UnaryOp::kCeil: return ceilf(x);
      case UnaryOp::kSin: return sinf(x);
      case UnaryOp::kCos: return cosf(x);
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

template <typename Fn, typename TIn, typename TOut>
void launchWith(const Fn& fn, const void* in, void* out, int64_t n, bool vectorize, cudaStream_t stream) {
  constexpr int N = vecWidth<TIn, TOut>();
  const TIn* pi = static_cast<const TIn*>(in);
  TOut* po = static_cast<TOut*>(out);
  if (vectorize && N > 1 && aligned(in, sizeof(TIn) * N) && aligned(out, sizeof(TOut) * N))
    unaryKernel<Fn, TIn, TOut, N><<<gridFor(n / N + 1), kThreads, 0, stream>>>(pi, po, n, fn);
  else
    unaryKernel<Fn, TIn, TOut, 1><<<gridFor(n), kThreads, 0, stream>>>(pi, po, n, fn);
}

constexpr bool isIntOp(UnaryOp op) {
  return op == UnaryOp::kRelu || op == UnaryOp::kAbs || op == UnaryOp::kNeg || op == UnaryOp::kClip;
}

template <typename T>
constexpr bool kIsCastType = kIsFloating<T> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
                             std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>;

template <typename T>
constexpr bool kIsIntType = std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;

template <UnaryOp kOp>
using UnaryTag = std::integral_constant<UnaryOp, kOp>;

//! Calls f(UnaryTag<kOp>{}) for a run-time op.
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
    KILN_UNARY_CASE(kCast)
  }
#undef KILN_UNARY_CASE
  throw Error(ErrorCode::kInternal, "bad unary op");
}

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
  auto known = [](DataType t) {
    switch (t) {
      case DataType::kFLOAT: case DataType::kHALF: case DataType::kBF16: case DataType::kINT32:
      case DataType::kINT64: case DataType::kBOOL: case DataType::kINT8: case DataType::kUINT8: return true;
      default: return false;
    }
  };
  if (!known(in) || !known(out)) return false;
  return dispatchDeviceType(in, [&](auto in_tag) -> bool {
    using TIn = typename decltype(in_tag)::type;
    if (op == UnaryOp::kCast)
      return kIsCastType<TIn> &&
             dispatchDeviceType(out, [&](auto out_tag) { return kIsCastType<typename decltype(out_tag)::type>; });
    if (in != out) return false;
    if (op == UnaryOp::kNot) return std::is_same_v<TIn, bool>;
    if (kIsFloating<TIn>) return true;
    return kIsIntType<TIn> && isIntOp(op);
  });
}

void launchUnary(UnaryOp op, DataType in_type, DataType out_type, const UnaryParams& params, const void* in, void* out,
                 int64_t n, bool vectorize, cudaStream_t stream) {
  if (n == 0) return;
  dispatchUnary(op, [&](auto op_tag) {
    constexpr UnaryOp kOp = decltype(op_tag)::value;
    dispatchDeviceType(in_type, [&](auto in_tag) {
      using TIn = typename decltype(in_tag)::type;
      if constexpr (kOp == UnaryOp::kCast) {
        if constexpr (kIsCastType<TIn>) {
          dispatchDeviceType(out_type, [&](auto out_tag) {
            using TOut = typename decltype(out_tag)::type;
            if constexpr (kIsCastType<TOut>) launchWith<UnaryFn<kOp>, TIn, TOut>({}, in, out, n, vectorize, stream);
          });
        }
      } else if constexpr (kOp == UnaryOp::kClip) {
        if constexpr (kIsFloating<TIn> || kIsIntType<TIn>) {
          ClipFn<TIn> fn{};
          fn.lo = params.has_lo ? static_cast<Compute<TIn>>(params.lo) : lowest<TIn>();
          fn.hi = params.has_hi ? static_cast<Compute<TIn>>(params.hi) : highest<TIn>();
          if (!params.has_lo) fn.lo_ptr = static_cast<const TIn*>(params.lo_ptr);
          if (!params.has_hi) fn.hi_ptr = static_cast<const TIn*>(params.hi_ptr);
          launchWith<ClipFn<TIn>, TIn, TIn>(fn, in, out, n, vectorize, stream);
        }
      } else if constexpr (kOp == UnaryOp::kNot) {
        if constexpr (std::is_same_v<TIn, bool>) launchWith<UnaryFn<kOp>, bool, bool>({}, in, out, n, vectorize, stream);
      } else if constexpr (kIsFloating<TIn> || (kIsIntType<TIn> && isIntOp(kOp))) {
        UnaryFn<kOp> fn{params.alpha, params.beta, params.gamma};
        launchWith<UnaryFn<kOp>, TIn, TIn>(fn, in, out, n, vectorize, stream);
      }
    });
  });
}

}  // namespace kiln::cuda
