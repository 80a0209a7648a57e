// Shape rules of the comparison and logic operators (bool outputs), IsNaN, IsInf and
// BitShift.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

std::string typeName(DataType t) { return std::string(toString(t)); }

bool isUnsigned(DataType t) {
  return t == DataType::kUINT8 || t == DataType::kUINT16 || t == DataType::kUINT32 || t == DataType::kUINT64;
}

Shape broadcastSameType(InferContext& ctx) {
  if (ctx.inputType(0) != ctx.inputType(1))
    ctx.fail("inputs have different types (" + typeName(ctx.inputType(0)) + " vs " + typeName(ctx.inputType(1)) + ")");
  return broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1));
}

// Equal: any type, bool included.
void inferEqual(InferContext& ctx) { ctx.setOutput(0, DataType::kBOOL, broadcastSameType(ctx)); }

// Less Greater LessOrEqual GreaterOrEqual: numeric inputs.
void inferOrdering(InferContext& ctx) {
  if (ctx.inputType(0) == DataType::kBOOL) ctx.fail("expects numeric inputs, got bool");
  ctx.setOutput(0, DataType::kBOOL, broadcastSameType(ctx));
}

// And Or Xor: bool inputs.
void inferLogicBinary(InferContext& ctx) {
  if (ctx.inputType(0) != DataType::kBOOL) ctx.fail("expects bool inputs, got " + typeName(ctx.inputType(0)));
  ctx.setOutput(0, DataType::kBOOL, broadcastSameType(ctx));
}

void inferNot(InferContext& ctx) {
  if (ctx.inputType(0) != DataType::kBOOL) ctx.fail("expects a bool input, got " + typeName(ctx.inputType(0)));
  inferSameAsInput0(ctx);
}

void inferFloatPredicate(InferContext& ctx) {
  if (!isFloatingPoint(ctx.inputType(0)))
    ctx.fail("expects a floating-point input, got " + typeName(ctx.inputType(0)));
  ctx.setOutput(0, DataType::kBOOL, ctx.inputShape(0));
}

void inferBitShift(InferContext& ctx) {
  std::string direction = ctx.attrs().s("direction");
  if (direction != "LEFT" && direction != "RIGHT")
    ctx.fail("direction must be \"LEFT\" or \"RIGHT\", got \"" + direction + "\"");
  if (!isUnsigned(ctx.inputType(0)))
    ctx.fail("expects unsigned integer inputs, got " + typeName(ctx.inputType(0)));
  ctx.setOutput(0, ctx.inputType(0), broadcastSameType(ctx));
}

KILN_REGISTER_OP({.name = "Equal", .min_inputs = 2, .max_inputs = 2, .infer = inferEqual});
KILN_REGISTER_OP({.name = "Less", .min_inputs = 2, .max_inputs = 2, .infer = inferOrdering});
KILN_REGISTER_OP({.name = "Greater", .min_inputs = 2, .max_inputs = 2, .infer = inferOrdering});
KILN_REGISTER_OP({.name = "LessOrEqual", .min_inputs = 2, .max_inputs = 2, .infer = inferOrdering});
KILN_REGISTER_OP({.name = "GreaterOrEqual", .min_inputs = 2, .max_inputs = 2, .infer = inferOrdering});
KILN_REGISTER_OP({.name = "And", .min_inputs = 2, .max_inputs = 2, .infer = inferLogicBinary});
KILN_REGISTER_OP({.name = "Or", .min_inputs = 2, .max_inputs = 2, .infer = inferLogicBinary});
KILN_REGISTER_OP({.name = "Xor", .min_inputs = 2, .max_inputs = 2, .infer = inferLogicBinary});
KILN_REGISTER_OP({.name = "Not", .infer = inferNot});
KILN_REGISTER_OP({.name = "IsNaN", .infer = inferFloatPredicate});
KILN_REGISTER_OP({.name = "IsInf", .infer = inferFloatPredicate});
KILN_REGISTER_OP({.name = "BitShift", .min_inputs = 2, .max_inputs = 2, .since_opset = 11, .infer = inferBitShift});

}  // namespace
}  // namespace kiln::ir
