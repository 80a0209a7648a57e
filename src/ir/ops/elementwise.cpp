// Shape rules of the elementwise operators.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferBroadcastBinary(InferContext& ctx) {
  if (ctx.inputType(0) != ctx.inputType(1)) ctx.fail("inputs have different types");
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

KILN_REGISTER_OP({.name = "Relu", .infer = inferSameAsInput0});
KILN_REGISTER_OP({.name = "Add", .min_inputs = 2, .max_inputs = 2, .infer = inferBroadcastBinary});

}  // namespace
}  // namespace kiln::ir
