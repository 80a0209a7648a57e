// Shape rules of operators that stand alone: Shrink, SwiGLU (opset 28), LpNormalization,
// EyeLike, ReverseSequence, Det and CausalConvWithState (opset 27). Their reference kernels are
// in backends/cpu/kernels/assorted.cpp.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void requireFloat(InferContext& ctx, int input, const char* what) {
  if (!isFloatingPoint(ctx.inputType(input)))
    ctx.fail(std::string(what) + " must be floating-point, got " + std::string(toString(ctx.inputType(input))));
}

// Shrink-9: y = x + bias below -lambd, x - bias above lambd, 0 between; any numeric type.
void inferShrink(InferContext& ctx) {
  if (ctx.inputType(0) == DataType::kBOOL) ctx.fail("expects a numeric input, got bool");
  if (ctx.attrs().f("lambd", 0.5f) < 0) ctx.fail("lambd must be >= 0");
  inferSameAsInput0(ctx);
}

// SwiGLU-28: Y = Swish(A, alpha) * B = A * sigmoid(alpha * A) * B, A and B broadcasting.
void inferSwiGlu(InferContext& ctx) {
  requireFloat(ctx, 0, "A");
  if (ctx.inputType(1) != ctx.inputType(0)) ctx.fail("B must have the type of A");
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

// LpNormalization-1/22: X / ||X||_p along `axis` (p 1 or 2).
void inferLpNormalization(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const int64_t p = ctx.attrs().i("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p));
  ctx.normalizeAxis(ctx.attrs().i("axis", -1), ctx.inputRank(0));
  inferSameAsInput0(ctx);
}

// EyeLike-9/22: a 2-D tensor of the input's shape with ones on diagonal k, of type `dtype` (the
// input's type when absent).
void inferEyeLike(InferContext& ctx) {
  if (ctx.inputRank(0) != 2) ctx.fail("input must be 2-D, got " + toString(ctx.inputShape(0)));
  const DataType type =
      ctx.attrs().has("dtype") ? typeAttribute(ctx, "dtype", ctx.attrs().i("dtype")) : ctx.inputType(0);
  ctx.setOutput(0, type, ctx.inputShape(0));
}

// ReverseSequence-10: reverses the first sequence_lens[b] entries along time_axis of each batch
// entry b along batch_axis (the axes 0 and 1, one of each).
void inferReverseSequence(InferContext& ctx) {
  const int64_t batch_axis = ctx.attrs().i("batch_axis", 1), time_axis = ctx.attrs().i("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    ctx.fail("batch_axis and time_axis must be 0 and 1 (one each)");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("input must have rank >= 2, got " + toString(x));
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("sequence_lens must be int64");
  const Shape& lens = ctx.inputShape(1);
  if (lens.size() != 1 || (isKnown(lens[0]) && isKnown(x[batch_axis]) && lens[0] != x[batch_axis]))
    ctx.fail("sequence_lens of shape " + toString(lens) + " does not have one entry per batch entry of " + toString(x));
  inferSameAsInput0(ctx);
}

// Det-11/22: the determinant of each square matrix of the last two dims: [*, M, M] -> [*].
void inferDet(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("input must have rank >= 2, got " + toString(x));
  const int64_t m = x[x.size() - 2], n = x.back();
  if (isKnown(m) && isKnown(n) && m != n) ctx.fail("matrices must be square, got " + toString(x));
  ctx.setOutput(0, ctx.inputType(0), Shape(x.begin(), x.end() - 2));
}

// CausalConvWithState-27: a causal depthwise 1-D convolution that carries state. input
// [B, C, L], weight [C, 1, K], optional bias [C] and past_state [B, C, K - 1] (zeros when
// absent) -> output [B, C, L] and present_state [B, C, K - 1], the last K - 1 positions of
// past_state followed by input.
void inferCausalConvWithState(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  if (x.size() != 3) ctx.fail("input must be [batch, channels, length], got " + toString(x));
  if (w.size() != 3 || (isKnown(w[1]) && w[1] != 1) || (isKnown(w[0]) && isKnown(x[1]) && w[0] != x[1]))
    ctx.fail("weight must be [channels, 1, k] for input " + toString(x) + ", got " + toString(w));
  for (int i = 1; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i) && ctx.inputType(i) != ctx.inputType(0)) ctx.fail("inputs must all have the type of input");
  const int64_t state = isKnown(w[2]) ? w[2] - 1 : kUnknownDim;
  if (isKnown(w[2]) && w[2] < 1) ctx.fail("the kernel size must be >= 1, got " + toString(w));
  if (ctx.hasInput(2) && (ctx.inputRank(2) != 1)) ctx.fail("bias must be [channels]");
  if (ctx.hasInput(3)) {
    const Shape& past = ctx.inputShape(3);
    if (past.size() != 3 || (isKnown(past[2]) && isKnown(state) && past[2] != state))
      ctx.fail("past_state must be [batch, channels, k - 1], got " + toString(past));
  }
  const std::string act = ctx.attrs().s("activation", "none");
  if (act != "none" && act != "silu" && act != "swish")
    ctx.fail("activation must be \"none\", \"silu\" or \"swish\", got \"" + act + "\"");
  ctx.setOutput(0, ctx.inputType(0), x);
  if (ctx.hasOutput(1)) ctx.setOutput(1, ctx.inputType(0), {x[0], x[1], state});
}

KILN_REGISTER_OP({.name = "Shrink", .infer = inferShrink});
KILN_REGISTER_OP({.name = "CausalConvWithState",
                  .min_inputs = 2,
                  .max_inputs = 4,
                  .max_outputs = 2,
                  .since_opset = 27,
                  .infer = inferCausalConvWithState});
KILN_REGISTER_OP({.name = "SwiGLU", .min_inputs = 2, .max_inputs = 2, .since_opset = 28, .infer = inferSwiGlu});
KILN_REGISTER_OP({.name = "LpNormalization", .infer = inferLpNormalization});
KILN_REGISTER_OP({.name = "EyeLike", .infer = inferEyeLike});
KILN_REGISTER_OP(
    {.name = "ReverseSequence", .min_inputs = 2, .max_inputs = 2, .since_opset = 10, .infer = inferReverseSequence});
KILN_REGISTER_OP({.name = "Det", .since_opset = 11, .infer = inferDet});

}  // namespace
}  // namespace kiln::ir
