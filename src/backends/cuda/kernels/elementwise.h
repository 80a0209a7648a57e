// Launchers of kiln's elementwise CUDA kernels (unary ops and Cast in elementwise.cu and
// elementwise_cast.cu, the broadcasting binary ops and Where in elementwise_binary.cu and
// elementwise_wide.cu), called by the "cuda.elementwise" provider (cuda_elementwise.cpp).
// Each takes the stream to launch on and neither allocates nor synchronizes. Plain C++17.
//
// float / half / bf16 / int32 / int64 / bool have vectorized kernels (16-byte accesses); the
// other types the reference covers (double, int8, int16, uint8..uint64) have one-element
// kernels, instantiated only for the op / type pairs the reference supports.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/kernels/index_map.h"
#include "kiln/types.h"

namespace kiln::cuda {

// clang-format off
enum class UnaryOp : uint8_t {
  kRelu, kSigmoid, kTanh, kExp, kLog, kSqrt, kAbs, kNeg, kReciprocal, kErf, kGeluErf, kGeluTanh, kLeakyRelu, kElu,
  kSelu, kHardSigmoid, kHardSwish, kSoftplus, kClip, kFloor, kCeil, kSin, kCos, kNot, kCast, kBitwiseNot, kShrink,
  kSwish, kMish,
};
// clang-format on

//! Parameters of a unary op (alpha, beta, gamma as ONNX names them; Shrink's lambd and bias
//! are alpha and beta; Clip's bounds).
struct UnaryParams {
  float alpha = 0;
  float beta = 0;
  float gamma = 0;
  double lo = 0;  //!< Clip bounds when known on the host (has_lo / has_hi)
  double hi = 0;
  bool has_lo = false;
  bool has_hi = false;
  const void* lo_ptr = nullptr;  //!< Clip bounds on the device (an element of the input type)
  const void* hi_ptr = nullptr;
};

//! True when `op` has a kernel for input type `in` and output type `out`.
bool unarySupported(UnaryOp op, DataType in, DataType out);
//! True when that kernel has a vectorized form (else `vectorize` changes nothing).
bool unaryVectorizes(UnaryOp op, DataType in, DataType out);
//! out[i] = op(in[i]) for n elements; `vectorize` uses 16-byte accesses when the kernel has
//! that form and the pointers allow (checked here), else one element per access.
void launchUnary(UnaryOp op, DataType in_type, DataType out_type, const UnaryParams& params, const void* in, void* out,
                 int64_t n, bool vectorize, cudaStream_t stream);


//! Binary ops; those from kEqual on give bools. kMod is ONNX Mod with fmod = 0, kFmod with
//! fmod = 1; kPow here has an exponent of the base's type (launchPow takes any exponent).
// clang-format off
enum class BinaryOp : uint8_t {
  kAdd, kSub, kMul, kDiv, kPow, kMin, kMax, kPRelu, kMod, kFmod, kShiftLeft, kShiftRight, kBitAnd, kBitOr, kBitXor,
  kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr,
};
// clang-format on

bool isComparison(BinaryOp op);
//! True when `op` has a kernel for two inputs of type `in`.
bool binarySupported(BinaryOp op, DataType in);
//! True when that kernel has a vectorized form (else `vectorize` changes nothing).
bool binaryVectorizes(BinaryOp op, DataType in);

//! How the operands of a broadcasting op meet the output, computed in Kernel::reshape.
struct BroadcastPlan {
  int64_t n = 0;                           //!< output elements
  bool flat = false;                       //!< every operand is either the output's shape or a single element
  bool scalar[3] = {false, false, false};  //!< per operand, in flat mode
  bool use32 = true;
  IndexMap<int32_t, 3> m32{};  //!< operand strides in the general case (unused operands: 0)
  IndexMap<int64_t, 3> m64{};  //!< the same in 64-bit indices
};

//! Plans the broadcast of `ins` (2 or 3 shapes) to `out`. m64 is always set (the one-element
//! kernels use it); m32 when use32.
BroadcastPlan planBroadcast(const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& ins);

void launchBinary(BinaryOp op, DataType in_type, const BroadcastPlan& plan, const void* a, const void* b, void* out,
                  bool vectorize, cudaStream_t stream);

//! Pow of any numeric base type by an exponent of any numeric type, as the reference: the
//! exponent is read as double; floats compute in double, integer bases exactly with
//! wraparound for whole exponents >= 0 and through double (truncated) otherwise.
bool powSupported(DataType base, DataType exponent);
void launchPow(DataType base_type, DataType exponent_type, const BroadcastPlan& plan, const void* base,
               const void* exponent, void* out, cudaStream_t stream);

//! SwiGLU (opset 28): out = a * sigmoid(alpha * a) * b, a and b of one float type broadcasting.
void launchSwiGlu(DataType type, const BroadcastPlan& plan, const void* a, const void* b, void* out, float alpha,
                  cudaStream_t stream);

//! Where(cond, x, y) for x/y elements of `element_size` bytes (a pure selection of bits).
void launchWhere(size_t element_size, const BroadcastPlan& plan, const void* cond, const void* x, const void* y,
                 void* out, bool vectorize, cudaStream_t stream);

}  // namespace kiln::cuda
