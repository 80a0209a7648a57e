// Shape rules of the type-conversion and pass-through operators: Cast, CastLike, Identity
// and Dropout (inference form only).
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferCast(InferContext& ctx) {
  ctx.setOutput(0, typeAttribute(ctx, "cast to", ctx.attrs().i("to")), ctx.inputShape(0));
}

void inferCastLike(InferContext& ctx) { ctx.setOutput(0, ctx.inputType(1), ctx.inputShape(0)); }

// Dropout in inference, or in training with ratio 0 (no element dropped, scale 1): output =
// data, mask = all true. Random dropout (training with a ratio above 0; the default ratio is
// 0.5) is not implemented; when training_mode or ratio is only known at run time the kernel
// checks them.
void inferDropout(InferContext& ctx) {
  if (ctx.hasInput(1) && !isFloatingPoint(ctx.inputType(1)))
    ctx.fail("ratio must be floating-point, got " + std::string(toString(ctx.inputType(1))));
  if (ctx.hasInput(2)) {
    if (ctx.inputType(2) != DataType::kBOOL)
      ctx.fail("training_mode must be bool, got " + std::string(toString(ctx.inputType(2))));
    const Tensor* training = ctx.inputValue(2);
    const Tensor* ratio = ctx.hasInput(1) ? ctx.inputValue(1) : nullptr;
    const bool no_ratio = ratio == nullptr && !ctx.hasInput(1);  // the default, 0.5
    if (training && training->numel() == 1 && training->at(0) != 0.0 &&
        (no_ratio || (ratio && ratio->numel() == 1 && ratio->at(0) != 0.0)))
      ctx.unsupported("training_mode = true with a ratio above 0 (random dropout) is not supported");
  }
  // Dropout-7's mask had the input's type (bool from Dropout-10 on); kiln's kernels write bool.
  if (ctx.opset() < 10 && ctx.hasOutput(1))
    ctx.unsupported("Dropout-7's mask output (of the input's type) is not supported");
  ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
  ctx.setOutput(1, DataType::kBOOL, ctx.inputShape(0));
}

// Dropout before opset 12 had a `ratio` attribute; it is input 1 now. (It does not matter in
// inference, but the canonical form keeps it.)
void normalizeDropout(Graph& graph, Node& node, int opset) {
  if (opset >= 12 || !node.attrs.has("ratio")) return;
  double ratio = node.attrs.f("ratio");
  node.attrs.erase("ratio");
  node.inputs.resize(1);
  node.inputs.push_back(graph.addConstant(node.name + "_ratio", Tensor::fromDouble(DataType::kFLOAT, {}, {&ratio, 1})));
}

KILN_REGISTER_OP({.name = "Cast", .infer = inferCast});
KILN_REGISTER_OP({.name = "CastLike", .min_inputs = 2, .max_inputs = 2, .infer = inferCastLike});
KILN_REGISTER_OP({.name = "Identity", .infer = inferSameAsInput0});
KILN_REGISTER_OP(
    {.name = "Dropout", .max_inputs = 3, .max_outputs = 2, .infer = inferDropout, .normalize = normalizeDropout});

}  // namespace
}  // namespace kiln::ir
