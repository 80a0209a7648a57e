// Reference kernels of the bitwise operators (BitwiseAnd, BitwiseOr, BitwiseXor, BitwiseNot)
// and BitCast (a byte copy: the bits stay, the type changes).
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernels/broadcast_loop.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

//! Calls f.template operator()<T>() for the integer element type `t`.
template <typename F>
void dispatchInteger(const KernelContext& ctx, DataType t, F&& f) {
  ir::dispatchType(t, [&]<typename T>() {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) f.template operator()<T>();
    else throw Error(ErrorCode::kInvalidModel, ctx.node.describe() + ": expects integer inputs");
  });
}

template <typename Op>
void bitwiseBinary(KernelContext& ctx, Op op) {
  dispatchInteger(ctx, ctx.in(0).type(), [&]<typename T>() {
    broadcastBinary<T, T, T>(ctx.in(0), ctx.in(1), ctx.out(0), [&](T a, T b) { return static_cast<T>(op(a, b)); });
  });
}

KILN_REFERENCE_KERNEL(BitwiseAnd, [](KernelContext& ctx) { bitwiseBinary(ctx, [](auto a, auto b) { return a & b; }); });
KILN_REFERENCE_KERNEL(BitwiseOr, [](KernelContext& ctx) { bitwiseBinary(ctx, [](auto a, auto b) { return a | b; }); });
KILN_REFERENCE_KERNEL(BitwiseXor, [](KernelContext& ctx) { bitwiseBinary(ctx, [](auto a, auto b) { return a ^ b; }); });

KILN_REFERENCE_KERNEL(BitwiseNot, [](KernelContext& ctx) {
  dispatchInteger(ctx, ctx.in(0).type(), [&]<typename T>() {
    auto in = ctx.in(0).values<T>();
    auto out = ctx.out(0).values<T>();
    for (size_t i = 0; i < in.size(); ++i) out[i] = static_cast<T>(~in[i]);
  });
});

KILN_REFERENCE_KERNEL(BitCast, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  if (in.byteSize() != out.byteSize())
    throw Error(ErrorCode::kInvalidModel, ctx.node.describe() + ": input and output sizes differ");
  if (in.byteSize() > 0) std::memcpy(out.raw(), in.raw(), in.byteSize());
});

}  // namespace
}  // namespace kiln::cpu
