// Shape rules of Softmax, LogSoftmax and Hardmax.
//
// Opset 13 changed their meaning: before it, the input is flattened to 2-D at `axis`
// (default 1) and the op runs over the whole trailing block; from 13 on it runs along the one
// `axis` (default -1). The kernels read the model's opset to tell the two apart.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferSoftmaxFamily(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  const Shape& x = ctx.inputShape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t fallback = ctx.opset() < 13 ? 1 : -1;
  if (rank == 0) ctx.fail("input must have rank >= 1");
  ctx.normalizeAxis(ctx.attrs().i("axis", fallback), rank);
  ctx.setOutput(0, type, x);
}

KILN_REGISTER_OP({.name = "Softmax", .infer = inferSoftmaxFamily});
KILN_REGISTER_OP({.name = "LogSoftmax", .infer = inferSoftmaxFamily});
KILN_REGISTER_OP({.name = "Hardmax", .infer = inferSoftmaxFamily});

}  // namespace
}  // namespace kiln::ir
