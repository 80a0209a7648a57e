// Shape rules of the bitwise operators on integers (BitwiseAnd, BitwiseOr, BitwiseXor,
// BitwiseNot; opset 18) and of BitCast (opset 26), which reinterprets each element's bits as
// another type of the same width (the same shape; little-endian, as kiln's memory is).
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

bool isInteger(DataType t) {
  switch (t) {
    case DataType::kINT8:
    case DataType::kUINT8:
    case DataType::kINT16:
    case DataType::kUINT16:
    case DataType::kINT32:
    case DataType::kUINT32:
    case DataType::kINT64:
    case DataType::kUINT64: return true;
    default: return false;
  }
}

void requireInteger(InferContext& ctx, DataType t) {
  if (!isInteger(t)) ctx.fail("expects integer inputs, got " + std::string(toString(t)));
}

void inferBitwiseBinary(InferContext& ctx) {
  requireInteger(ctx, ctx.inputType(0));
  if (ctx.inputType(1) != ctx.inputType(0))
    ctx.fail("inputs have different types (" + std::string(toString(ctx.inputType(0))) + " vs " +
             std::string(toString(ctx.inputType(1))) + ")");
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

void inferBitwiseNot(InferContext& ctx) {
  requireInteger(ctx, ctx.inputType(0));
  inferSameAsInput0(ctx);
}

void inferBitCast(InferContext& ctx) {
  const DataType from = ctx.inputType(0), to = typeAttribute(ctx, "bitcast to", ctx.attrs().i("to"));
  if (elementSize(from) != elementSize(to))
    ctx.fail("cannot reinterpret " + std::string(toString(from)) + " as " + std::string(toString(to)) +
             ": the bit widths differ");
  ctx.setOutput(0, to, ctx.inputShape(0));
}

KILN_REGISTER_OP(
    {.name = "BitwiseAnd", .min_inputs = 2, .max_inputs = 2, .since_opset = 18, .infer = inferBitwiseBinary});
KILN_REGISTER_OP(
    {.name = "BitwiseOr", .min_inputs = 2, .max_inputs = 2, .since_opset = 18, .infer = inferBitwiseBinary});
KILN_REGISTER_OP(
    {.name = "BitwiseXor", .min_inputs = 2, .max_inputs = 2, .since_opset = 18, .infer = inferBitwiseBinary});
KILN_REGISTER_OP({.name = "BitwiseNot", .since_opset = 18, .infer = inferBitwiseNot});
KILN_REGISTER_OP({.name = "BitCast", .since_opset = 26, .infer = inferBitCast});

}  // namespace
}  // namespace kiln::ir
