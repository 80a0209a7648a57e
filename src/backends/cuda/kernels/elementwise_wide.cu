// One-element broadcasting kernels of "cuda.elementwise" for the binary ops and types that
// have no vectorized kernel in elementwise_binary.cu: Add / Sub / Mul / Div / Min / Max and
// the comparisons on double, int8, int16, uint8, uint16, uint32 and uint64; PRelu on those
// and int32 / int64; Mod (both fmod modes) on every numeric type; BitShift on the unsigned
// types; BitwiseAnd / Or / Xor on the integer types; Pow of any numeric base by an exponent
// of any numeric type; and SwiGLU on the float types.
//
// These are coverage kernels: one thread per output element through the 64-bit index map
// (one instantiation per op and type keeps the compile time down).
#include "backends/cuda/kernels/elementwise_ops.cuh"

namespace kiln::cuda {
namespace {

template <typename T>
constexpr bool kIsNumeric = !std::is_same_v<T, bool>;
template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
constexpr bool kIsUnsignedInteger = std::is_unsigned_v<T> && !std::is_same_v<T, bool>;
//! The types elementwise_binary.cu has vectorized arithmetic and comparison kernels for.
template <typename T>
constexpr bool kHasVectorKernels = std::is_same_v<T, float> || kIsFloat16<T> || std::is_same_v<T, int32_t> ||
                                   std::is_same_v<T, int64_t> || std::is_same_v<T, bool>;

//! The op / type pairs instantiated here: what the reference supports, less the vectorized ones.
template <BinaryOp kOp, typename T>
constexpr bool wideHas() {
  switch (kOp) {
    case BinaryOp::kMod:
    case BinaryOp::kFmod: return kIsNumeric<T>;
    case BinaryOp::kShiftLeft:
    case BinaryOp::kShiftRight: return kIsUnsignedInteger<T>;
    case BinaryOp::kBitAnd:
    case BinaryOp::kBitOr:
    case BinaryOp::kBitXor: return kIsInteger<T>;
    case BinaryOp::kPow:  // launchPow
    case BinaryOp::kAnd:
    case BinaryOp::kOr: return false;
    case BinaryOp::kPRelu: return kIsNumeric<T> && !kIsFloat16<T> && !std::is_same_v<T, float>;
    default: return kIsNumeric<T> && !kHasVectorKernels<T>;
  }
}

template <typename Fn, typename T, typename TOut>
__global__ void wideBinaryKernel(const T* __restrict__ a, const T* __restrict__ b, TOut* __restrict__ out, int64_t n,
                                 const __grid_constant__ IndexMap<int64_t, 3> m, Fn fn) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[3];
    mapOffsets(m, i, off);
    out[i] = convertTo<TOut>(fn(toCompute(a[off[0]]), toCompute(b[off[1]])));
  }
}

// ---- Pow -------------------------------------------------------------------------------------

//! x ** e as the reference computes it: an integer base is exact with wraparound for whole
//! exponents >= 0, and goes through double (truncated, 0 beyond int64) otherwise; a float base
//! computes in double and rounds once.
template <typename T>
__device__ __forceinline__ T power(T x, double e) {
  if constexpr (kIsInteger<T>) {
    if (e >= 0 && e == floor(e) && e < 18446744073709551616.0) {
      uint64_t n = static_cast<uint64_t>(e);
      uint64_t base = static_cast<uint64_t>(x), result = 1;
      while (n) {
        if (n & 1) result *= base;
        base *= base;
        n >>= 1;
      }
      return static_cast<T>(result);
    }
    double r = pow(static_cast<double>(x), e);
    if (!(fabs(r) < 9.2e18)) return T(0);  // NaN, inf or beyond int64: undefined in ONNX
    return static_cast<T>(static_cast<int64_t>(r));
  } else {
    return convertTo<T>(pow(static_cast<double>(toCompute(x)), e));
  }
}

template <typename T>
__global__ void powKernel(const T* __restrict__ base, const void* __restrict__ exponent, DataType exponent_type,
                          T* __restrict__ out, int64_t n, const __grid_constant__ IndexMap<int64_t, 3> m) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[3];
    mapOffsets(m, i, off);
    out[i] = power(base[off[0]], loadAsDouble(exponent, off[1], exponent_type));
  }
}

// ---- SwiGLU ----------------------------------------------------------------------------------

//! SwiGLU's a * sigmoid(alpha * a) * b, as the reference writes it: in float for float, half
//! and bf16, in double for double.
struct SwiGluFn {
  float alpha = 1;

  template <typename C>
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, double>) return a / (1.0 + exp(-static_cast<double>(alpha) * a)) * b;
    else return a / (1.0f + expf(-alpha * a)) * b;
  }
};

}  // namespace

bool wideBinarySupported(BinaryOp op, DataType in) {
  return dispatchBinary(op, [&](auto op_tag) {
    return dispatchAnyType(in,
                           [&](auto tag) { return wideHas<decltype(op_tag)::value, typename decltype(tag)::type>(); });
  });
}

void launchWideBinary(BinaryOp op, DataType in_type, const BroadcastPlan& plan, const void* a, const void* b, void* out,
                      cudaStream_t stream) {
  if (plan.n == 0) return;
  dispatchBinary(op, [&](auto op_tag) {
    constexpr BinaryOp kOp = decltype(op_tag)::value;
    dispatchAnyType(in_type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (wideHas<kOp, T>()) {
        using TOut = std::conditional_t<(kOp >= BinaryOp::kEqual), bool, T>;
        wideBinaryKernel<BinaryFn<kOp>, T, TOut>
            <<<gridFor(plan.n), kThreads, 0, stream>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                       static_cast<TOut*>(out), plan.n, plan.m64, BinaryFn<kOp>{});
      } else {
        throw Error(ErrorCode::kInternal, "no binary kernel for " + std::string(toString(in_type)));
      }
    });
  });
}

bool powSupported(DataType base, DataType exponent) { return base != DataType::kBOOL && exponent != DataType::kBOOL; }

void launchPow(DataType base_type, DataType exponent_type, const BroadcastPlan& plan, const void* base,
               const void* exponent, void* out, cudaStream_t stream) {
  if (plan.n == 0) return;
  dispatchAnyType(base_type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T>) {
      powKernel<T><<<gridFor(plan.n), kThreads, 0, stream>>>(static_cast<const T*>(base), exponent, exponent_type,
                                                             static_cast<T*>(out), plan.n, plan.m64);
    } else {
      throw Error(ErrorCode::kInternal, "Pow of bool");
    }
  });
}

void launchSwiGlu(DataType type, const BroadcastPlan& plan, const void* a, const void* b, void* out, float alpha,
                  cudaStream_t stream) {
  if (plan.n == 0) return;
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat16<T> || std::is_floating_point_v<T>) {
      wideBinaryKernel<SwiGluFn, T, T><<<gridFor(plan.n), kThreads, 0, stream>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), plan.n, plan.m64, SwiGluFn{alpha});
    } else {
      throw Error(ErrorCode::kInternal, "SwiGLU of " + std::string(toString(type)));
    }
  });
}

}  // namespace kiln::cuda
