// Shape rules of the loss operators NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (opset 12 on; later versions only widen the types). Both take scores of shape
// (N, C, d1, ..., dk), class labels of shape (N, d1, ..., dk) and optional per-class weights;
// the loss has the labels' shape with reduction "none", else it is a scalar.
// SoftmaxCrossEntropyLoss may also output the log-probabilities (the scores' shape).
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferLoss(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type))
    ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("the scores must have rank >= 2 (N, C, ...), got " + toString(x));
  const DataType label_type = ctx.inputType(1);
  if (label_type != DataType::kINT32 && label_type != DataType::kINT64)
    ctx.fail("the labels must be int32 or int64, got " + std::string(toString(label_type)));
  const Shape& labels = ctx.inputShape(1);
  bool matches = labels.size() + 1 == x.size();
  for (size_t i = 0; matches && i < labels.size(); ++i) {
    const int64_t want = x[i == 0 ? 0 : i + 1];
    matches = !isKnown(labels[i]) || !isKnown(want) || labels[i] == want;
  }
  if (!matches) ctx.fail("labels of shape " + toString(labels) + " do not match scores of shape " + toString(x));
  if (ctx.hasInput(2)) {
    const Shape& w = ctx.inputShape(2);
    if (ctx.inputType(2) != type) ctx.fail("the weights must have the type of the scores");
    if (w.size() != 1 || (isKnown(w[0]) && isKnown(x[1]) && w[0] != x[1]))
      ctx.fail("the weights must be 1-D with one value per class, got shape " + toString(w));
  }
  const std::string reduction = ctx.attrs().s("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    ctx.fail("reduction must be none, sum or mean, got '" + reduction + "'");
  ctx.setOutput(0, type, reduction == "none" ? labels : Shape{});
  if (ctx.hasOutput(1)) ctx.setOutput(1, type, x);
}

KILN_REGISTER_OP(
    {.name = "NegativeLogLikelihoodLoss", .min_inputs = 2, .max_inputs = 3, .since_opset = 12, .infer = inferLoss});
KILN_REGISTER_OP({.name = "SoftmaxCrossEntropyLoss",
                  .min_inputs = 2,
                  .max_inputs = 3,
                  .max_outputs = 2,
                  .since_opset = 12,
                  .infer = inferLoss});

}  // namespace
}  // namespace kiln::ir
