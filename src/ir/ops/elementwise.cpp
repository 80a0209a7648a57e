// Shape rules of the broadcasting arithmetic operators: the binary ones (Add Sub Mul Div Pow
// Mod PRelu), the variadic ones (Min Max Sum Mean) and Where. Unary math and activations are
// in unary.cpp, comparisons and logic in logic.cpp, Cast and friends in cast.cpp.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

std::string typeName(DataType t) { return std::string(toString(t)); }

void requireNumeric(const InferContext& ctx, int i) {
  if (ctx.inputType(i) == DataType::kBOOL) ctx.fail("input " + std::to_string(i) + " must be numeric, got bool");
}

void requireSameType(const InferContext& ctx, int i, int j) {
  if (ctx.inputType(i) != ctx.inputType(j))
    ctx.fail("inputs " + std::to_string(i) + " and " + std::to_string(j) + " have different types (" +
             typeName(ctx.inputType(i)) + " vs " + typeName(ctx.inputType(j)) + ")");
}

void inferBroadcastBinary(InferContext& ctx) {
  requireSameType(ctx, 0, 1);
  requireNumeric(ctx, 0);
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

// Pow: the exponent may have any numeric type; the output has the base's type.
void inferPow(InferContext& ctx) {
  requireNumeric(ctx, 0);
  requireNumeric(ctx, 1);
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

void inferMod(InferContext& ctx) {
  int64_t fmod = ctx.attrs().i("fmod", 0);
  if (fmod != 0 && fmod != 1) ctx.fail("fmod must be 0 or 1, got " + std::to_string(fmod));
  inferBroadcastBinary(ctx);
}

// PRelu: the slope broadcasts to X in one direction only; the output has X's shape.
void inferPRelu(InferContext& ctx) {
  requireSameType(ctx, 0, 1);
  requireNumeric(ctx, 0);
  const Shape& x = ctx.inputShape(0);
  const Shape& slope = ctx.inputShape(1);
  if (slope.size() > x.size())
    ctx.fail("slope of rank " + std::to_string(slope.size()) + " does not broadcast to X of rank " +
             std::to_string(x.size()));
  for (size_t d = 0; d < slope.size(); ++d) {
    int64_t s = slope[d];
    int64_t xd = x[d + x.size() - slope.size()];
    if (isKnown(s) && s != 1 && isKnown(xd) && s != xd)
      ctx.fail("slope shape " + toString(slope) + " does not broadcast to X shape " + toString(x));
  }
  ctx.setOutput(0, ctx.inputType(0), x);
}

// Min Max Sum Mean: one or more inputs of one type, broadcast together.
void inferVariadic(InferContext& ctx) {
  if (ctx.numInputs() < 1) ctx.fail("needs at least one input");
  requireNumeric(ctx, 0);
  Shape shape = ctx.inputShape(0);
  for (int i = 1; i < ctx.numInputs(); ++i) {
    requireSameType(ctx, 0, i);
    shape = broadcastShapes(ctx, shape, ctx.inputShape(i));
  }
  ctx.setOutput(0, ctx.inputType(0), shape);
}

void inferVariadicFloat(InferContext& ctx) {
  if (ctx.numInputs() >= 1 && !isFloatingPoint(ctx.inputType(0)))
    ctx.fail("expects floating-point inputs, got " + typeName(ctx.inputType(0)));
  inferVariadic(ctx);
}

void inferWhere(InferContext& ctx) {
  if (ctx.inputType(0) != DataType::kBOOL) ctx.fail("condition must be bool, got " + typeName(ctx.inputType(0)));
  requireSameType(ctx, 1, 2);
  Shape shape = broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1));
  ctx.setOutput(0, ctx.inputType(1), broadcastShapes(ctx, shape, ctx.inputShape(2)));
}

constexpr int kManyInputs = 1 << 20;

KILN_REGISTER_OP({.name = "Add", .min_inputs = 2, .max_inputs = 2, .infer = inferBroadcastBinary});
KILN_REGISTER_OP({.name = "Sub", .min_inputs = 2, .max_inputs = 2, .infer = inferBroadcastBinary});
KILN_REGISTER_OP({.name = "Mul", .min_inputs = 2, .max_inputs = 2, .infer = inferBroadcastBinary});
KILN_REGISTER_OP({.name = "Div", .min_inputs = 2, .max_inputs = 2, .infer = inferBroadcastBinary});
KILN_REGISTER_OP({.name = "Pow", .min_inputs = 2, .max_inputs = 2, .infer = inferPow});
KILN_REGISTER_OP({.name = "Mod", .min_inputs = 2, .max_inputs = 2, .infer = inferMod});
KILN_REGISTER_OP({.name = "PRelu", .min_inputs = 2, .max_inputs = 2, .infer = inferPRelu});
KILN_REGISTER_OP({.name = "Min", .min_inputs = 1, .max_inputs = kManyInputs, .infer = inferVariadic});
KILN_REGISTER_OP({.name = "Max", .min_inputs = 1, .max_inputs = kManyInputs, .infer = inferVariadic});
KILN_REGISTER_OP({.name = "Sum", .min_inputs = 1, .max_inputs = kManyInputs, .infer = inferVariadicFloat});
KILN_REGISTER_OP({.name = "Mean", .min_inputs = 1, .max_inputs = kManyInputs, .infer = inferVariadicFloat});
KILN_REGISTER_OP({.name = "Where", .min_inputs = 3, .max_inputs = 3, .infer = inferWhere});

}  // namespace
}  // namespace kiln::ir
