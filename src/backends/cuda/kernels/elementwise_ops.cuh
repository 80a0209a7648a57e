// The binary elementwise functions of "cuda.elementwise", shared by the kernel files that
// instantiate them: elementwise_binary.cu (the vectorized float / half / bf16 / int32 / int64
// / bool kernels) and elementwise_wide.cu (the other integer types and double).
//
// Integer semantics are the reference's (backends/cpu/kernels/elementwise.cpp, bitwise.cpp,
// logic.cpp): arithmetic wraps (two's complement), division and Mod by zero give 0, Mod with
// fmod = 0 takes the divisor's sign, shifts by the bit width or more give 0. Mod of floats is
// computed in double (fmod is exact, so it rounds once when stored).
#pragma once

#include <cmath>
#include <type_traits>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/elementwise.h"

namespace kiln::cuda {

// ---- between the kernel files ----------------------------------------------------------------

//! elementwise_wide.cu: the binary ops on the types binaryVectorizes() refuses.
bool wideBinarySupported(BinaryOp op, DataType in);
void launchWideBinary(BinaryOp op, DataType in_type, const BroadcastPlan& plan, const void* a, const void* b, void* out,
                      cudaStream_t stream);

//! elementwise_cast.cu: Cast where either type is double, int8, int16, uint16, uint32 or uint64.
void launchWideCast(DataType in_type, DataType out_type, const void* in, void* out, int64_t n, cudaStream_t stream);

// ---- binary functions ------------------------------------------------------------------------

//! The unsigned type integer arithmetic on C wraps in: at least 32 bits, so that no operand is
//! promoted to (signed) int.
template <typename C>
using WrapOf = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;

template <BinaryOp kOp>
struct BinaryFn {
  template <typename C>
  __device__ __forceinline__ auto operator()(C a, C b) const {
    if constexpr (kOp == BinaryOp::kAdd || kOp == BinaryOp::kSub || kOp == BinaryOp::kMul) {
      if constexpr (std::is_integral_v<C>) {
        using U = WrapOf<C>;
        U x = static_cast<U>(a), y = static_cast<U>(b);
        return static_cast<C>(kOp == BinaryOp::kAdd ? x + y : kOp == BinaryOp::kSub ? x - y : x * y);
      } else {
        return kOp == BinaryOp::kAdd ? a + b : kOp == BinaryOp::kSub ? a - b : a * b;
      }
    } else if constexpr (kOp == BinaryOp::kDiv) {
      if constexpr (std::is_integral_v<C>) {
        if (b == 0) return C(0);
        if constexpr (std::is_signed_v<C>)
          if (b == C(-1)) return static_cast<C>(WrapOf<C>(0) - static_cast<WrapOf<C>>(a));  // -MIN wraps
        return static_cast<C>(a / b);                                                       // truncates toward zero
      } else {
        return a / b;
      }
    } else if constexpr (kOp == BinaryOp::kMod || kOp == BinaryOp::kFmod) {
      constexpr bool c_fmod = kOp == BinaryOp::kFmod;  // the dividend's sign; kMod: the divisor's
      if constexpr (std::is_integral_v<C>) {
        if (b == 0) return C(0);
        if constexpr (std::is_signed_v<C>) {
          if (b == C(-1)) return C(0);  // MIN % -1 would overflow
          C r = static_cast<C>(a % b);
          if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
          return r;
        } else {
          return static_cast<C>(a % b);
        }
      } else {
        double x = static_cast<double>(a), y = static_cast<double>(b);
        double r = fmod(x, y);
        if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
      }
    } else if constexpr (kOp == BinaryOp::kShiftLeft || kOp == BinaryOp::kShiftRight) {
      static_assert(std::is_unsigned_v<C>);
      if (b >= sizeof(C) * 8) return C(0);
      uint64_t x = a;
      return static_cast<C>(kOp == BinaryOp::kShiftLeft ? x << b : x >> b);
    } else if constexpr (kOp == BinaryOp::kBitAnd) {
      return static_cast<C>(a & b);
    } else if constexpr (kOp == BinaryOp::kBitOr) {
      return static_cast<C>(a | b);
    } else if constexpr (kOp == BinaryOp::kBitXor) {
      return static_cast<C>(a ^ b);
    } else if constexpr (kOp == BinaryOp::kPow) {
      return powf(a, b);  // float / half / bf16 with an exponent of the same type
    } else if constexpr (kOp == BinaryOp::kMin || kOp == BinaryOp::kMax) {
      if constexpr (!std::is_integral_v<C>) {
        if (a != a) return a;
        if (b != b) return b;
      }
      if constexpr (kOp == BinaryOp::kMax) return a < b ? b : a;
      else return b < a ? b : a;
    } else if constexpr (kOp == BinaryOp::kPRelu) {
      if constexpr (std::is_unsigned_v<C>) {
        return a;
      } else if constexpr (std::is_integral_v<C>) {
        return a < 0 ? static_cast<C>(static_cast<WrapOf<C>>(a) * static_cast<WrapOf<C>>(b)) : a;
      } else {
        return static_cast<float>(a) < 0.0f ? a * b : a;  // the reference tests the sign in float
      }
    } else if constexpr (kOp == BinaryOp::kEqual) {
      return a == b;
    } else if constexpr (kOp == BinaryOp::kLess) {
      return a < b;
    } else if constexpr (kOp == BinaryOp::kGreater) {
      return a > b;
    } else if constexpr (kOp == BinaryOp::kLessOrEqual) {
      return a <= b;
    } else if constexpr (kOp == BinaryOp::kGreaterOrEqual) {
      return a >= b;
    } else if constexpr (kOp == BinaryOp::kAnd) {
      return a && b;
    } else {
      static_assert(kOp == BinaryOp::kOr);
      return a || b;
    }
  }
};

template <BinaryOp kOp>
using OpTag = std::integral_constant<BinaryOp, kOp>;

//! Calls f(OpTag<kOp>{}) for a run-time op.
// clang-format off
template <typename F>
decltype(auto) dispatchBinary(BinaryOp op, F&& f) {
#define KILN_BINARY_CASE(name) \
  case BinaryOp::name: return f(OpTag<BinaryOp::name>{});
  switch (op) {
    KILN_BINARY_CASE(kAdd) KILN_BINARY_CASE(kSub) KILN_BINARY_CASE(kMul) KILN_BINARY_CASE(kDiv)
    KILN_BINARY_CASE(kPow) KILN_BINARY_CASE(kMin) KILN_BINARY_CASE(kMax) KILN_BINARY_CASE(kPRelu)
    KILN_BINARY_CASE(kMod) KILN_BINARY_CASE(kFmod) KILN_BINARY_CASE(kShiftLeft) KILN_BINARY_CASE(kShiftRight)
    KILN_BINARY_CASE(kBitAnd) KILN_BINARY_CASE(kBitOr) KILN_BINARY_CASE(kBitXor) KILN_BINARY_CASE(kEqual)
    KILN_BINARY_CASE(kLess) KILN_BINARY_CASE(kGreater) KILN_BINARY_CASE(kLessOrEqual)
    KILN_BINARY_CASE(kGreaterOrEqual) KILN_BINARY_CASE(kAnd) KILN_BINARY_CASE(kOr)
  }
#undef KILN_BINARY_CASE
  throw Error(ErrorCode::kInternal, "bad binary op");
}
// clang-format on

}  // namespace kiln::cuda
