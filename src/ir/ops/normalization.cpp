// Shape rules of the normalization operators: BatchNormalization (inference form),
// InstanceNormalization, LayerNormalization, RMSNormalization (opset 23), GroupNormalization,
// MeanVarianceNormalization and LRN.
#include "ir/onnx_types.h"
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void checkFloat(InferContext& ctx, int input) {
  const DataType type = ctx.inputType(input);
  if (!isFloatingPoint(type))
    ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
}

//! Input `i` must be 1-D with `expected` elements (when both are known).
void checkPerChannel(InferContext& ctx, int i, int64_t expected, const char* what) {
  const Shape& s = ctx.inputShape(i);
  if (s.size() != 1) ctx.fail(std::string(what) + " must be 1-D, got shape " + toString(s));
  if (isKnown(s[0]) && isKnown(expected) && s[0] != expected)
    ctx.fail(std::string(what) + " has " + std::to_string(s[0]) + " values for " + std::to_string(expected) +
             " channels");
}

// BatchNormalization: the inference form (the given statistics), or, with training_mode=1
// (opset 14 on), the batch's own statistics (mean and biased variance over N and the spatial
// dims), with the outputs running_mean and running_var = input * momentum + batch * (1 -
// momentum). The five outputs of training before opset 14 are not supported.
void inferBatchNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const bool training = ctx.attrs().i("training_mode", 0) != 0;
  if (training && ctx.opset() < 14) ctx.unsupported("training_mode before opset 14 is not supported");
  if (!training)
    for (int o = 1; o < ctx.numOutputs(); ++o)
      if (ctx.hasOutput(o))
        ctx.unsupported("the optional outputs (running or saved statistics) of training are not supported");
  if (training && ctx.numOutputs() > 3) ctx.fail("training_mode has at most 3 outputs (Y, running_mean, running_var)");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("X must have rank >= 2 (N, C, ...), got " + toString(x));
  static const char* const kNames[] = {"", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i <= 4; ++i) {
    if (!isFloatingPoint(ctx.inputType(i))) ctx.fail(std::string(kNames[i]) + " must have a floating-point type");
    checkPerChannel(ctx, i, x[1], kNames[i]);
  }
  ctx.setOutput(0, ctx.inputType(0), x);
  for (int o = 1; training && o <= 2; ++o)
    if (ctx.hasOutput(o)) ctx.setOutput(o, ctx.inputType(o + 2), ctx.inputShape(o + 2));
}

// BatchNormalization-7 had `spatial`: 1 (the default) is the per-channel form of opset 9 on;
// 0 took statistics per activation (shape C x D1 x ...), which kiln does not implement.
void normalizeBatchNormalization(Graph&, Node& node, int opset) {
  if (opset >= 9 || !node.attrs.has("spatial")) return;
  if (node.attrs.i("spatial") == 0)
    throw Error(ErrorCode::kUnsupported,
                node.describe() + ": BatchNormalization-7 with spatial=0 (per-activation statistics) is not supported");
  node.attrs.erase("spatial");
}

void inferInstanceNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 3) ctx.fail("input must have rank >= 3 (N, C, spatial...), got " + toString(x));
  for (int i = 1; i <= 2; ++i) {
    if (ctx.inputType(i) != ctx.inputType(0)) ctx.fail("scale and B must have the input's type");
    checkPerChannel(ctx, i, x[1], i == 1 ? "scale" : "B");
  }
  ctx.setOutput(0, ctx.inputType(0), x);
}

//! ONNX TensorProto.DataType code of stash_type to kiln's type.
DataType stashType(InferContext& ctx) {
  const int64_t code = ctx.attrs().i("stash_type", 1);
  const std::optional<DataType> t = fromOnnxType(code);
  if (!t || !isFloatingPoint(*t)) ctx.unsupported("stash_type " + std::to_string(code) + " is not supported");
  return *t;
}

//! Whether `s` broadcasts unidirectionally to `target` (numpy rules, `s` may have lower rank).
bool broadcastsTo(const Shape& s, const Shape& target) {
  if (s.size() > target.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t a = s[s.size() - 1 - i], b = target[target.size() - 1 - i];
    if (isKnown(a) && isKnown(b) && a != 1 && a != b) return false;
  }
  return true;
}

void inferLayerNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const Shape& x = ctx.inputShape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 1) ctx.fail("X must have rank >= 1");
  const int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", -1), rank);
  const Shape normalized(x.begin() + axis, x.end());
  for (int i = 1; i <= 2; ++i) {
    if (!ctx.hasInput(i)) continue;
    if (ctx.inputType(i) != ctx.inputType(0)) ctx.fail("Scale and B must have the type of X");
    if (!broadcastsTo(ctx.inputShape(i), normalized))
      ctx.fail(std::string(i == 1 ? "Scale" : "B") + " of shape " + toString(ctx.inputShape(i)) +
               " does not broadcast to the normalized shape " + toString(normalized));
  }
  const DataType stash = stashType(ctx);
  ctx.setOutput(0, ctx.inputType(0), x);
  Shape stats(x.begin(), x.begin() + axis);
  stats.resize(x.size(), 1);
  ctx.setOutput(1, stash, stats);
  ctx.setOutput(2, stash, stats);
}

// RMSNormalization-23: Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale; one
// output only (unlike LayerNormalization it has no statistics outputs).
void inferRmsNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const Shape& x = ctx.inputShape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 1) ctx.fail("X must have rank >= 1");
  const int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", -1), rank);
  const Shape normalized(x.begin() + axis, x.end());
  if (ctx.inputType(1) != ctx.inputType(0)) ctx.fail("scale must have the type of X");
  if (!broadcastsTo(ctx.inputShape(1), normalized))
    ctx.fail("scale of shape " + toString(ctx.inputShape(1)) + " does not broadcast to the normalized shape " +
             toString(normalized));
  stashType(ctx);
  ctx.setOutput(0, ctx.inputType(0), x);
}

void inferGroupNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("X must have rank >= 2 (N, C, ...), got " + toString(x));
  const int64_t groups = ctx.attrs().i("num_groups");
  if (groups < 1) ctx.fail("num_groups must be >= 1");
  if (isKnown(x[1]) && x[1] % groups != 0)
    ctx.fail(std::to_string(x[1]) + " channels do not divide into " + std::to_string(groups) + " groups");
  stashType(ctx);
  for (int i = 1; i <= 2; ++i) {
    if (ctx.inputType(i) != ctx.inputType(0)) ctx.fail("scale and bias must have the type of X");
    const Shape& s = ctx.inputShape(i);
    // Opset 21 takes one value per channel; opset 18 took one per group.
    const bool ok =
        s.size() == 1 && (!isKnown(s[0]) || !isKnown(x[1]) || s[0] == x[1] || (ctx.opset() < 21 && s[0] == groups));
    if (!ok)
      ctx.fail(std::string(i == 1 ? "scale" : "bias") + " of shape " + toString(s) + " matches neither " +
               "the channels nor (before opset 21) the groups");
  }
  ctx.setOutput(0, ctx.inputType(0), x);
}

void inferMeanVarianceNormalization(InferContext& ctx) {
  checkFloat(ctx, 0);
  const int64_t rank = ctx.inputRank(0);
  for (int64_t a : ctx.attrs().ints("axes", {0, 2, 3})) ctx.normalizeAxis(a, rank, "axes value");
  ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
}

void inferLrn(InferContext& ctx) {
  checkFloat(ctx, 0);
  if (ctx.inputRank(0) < 2) ctx.fail("X must have rank >= 2 (N, C, ...)");
  if (ctx.attrs().i("size") < 1) ctx.fail("size must be >= 1");
  ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
}

KILN_REGISTER_OP({.name = "BatchNormalization",
                  .min_inputs = 5,
                  .max_inputs = 5,
                  .max_outputs = 5,
                  .infer = inferBatchNormalization,
                  .normalize = normalizeBatchNormalization});
KILN_REGISTER_OP(
    {.name = "InstanceNormalization", .min_inputs = 3, .max_inputs = 3, .infer = inferInstanceNormalization});
KILN_REGISTER_OP({.name = "LayerNormalization",
                  .min_inputs = 2,
                  .max_inputs = 3,
                  .max_outputs = 3,
                  .infer = inferLayerNormalization});
KILN_REGISTER_OP(
    {.name = "RMSNormalization", .min_inputs = 2, .max_inputs = 2, .since_opset = 23, .infer = inferRmsNormalization});
KILN_REGISTER_OP({.name = "GroupNormalization",
                  .min_inputs = 3,
                  .max_inputs = 3,
                  .since_opset = 18,
                  .infer = inferGroupNormalization});
KILN_REGISTER_OP({.name = "MeanVarianceNormalization", .infer = inferMeanVarianceNormalization});
KILN_REGISTER_OP({.name = "LRN", .infer = inferLrn});

}  // namespace
}  // namespace kiln::ir
