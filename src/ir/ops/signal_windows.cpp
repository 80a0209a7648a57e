// Shape rule of the signal windows HannWindow, HammingWindow and BlackmanWindow (opset 17): a
// 1-D window of `size` values (a scalar integer input, so the output shape follows from its
// value: a shape input when the model takes it as an input) in `output_datatype`.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferSignalWindow(InferContext& ctx) {
  const DataType st = ctx.inputType(0);
  if (st != DataType::kINT64 && st != DataType::kINT32) ctx.fail("size must be int32 or int64");
  if (ctx.inputRank(0) != 0 && !(ctx.inputRank(0) == 1 && ctx.inputShape(0)[0] == 1)) ctx.fail("size must be a scalar");
  const DataType type = typeAttribute(ctx, "output_datatype", ctx.attrs().i("output_datatype", 1));
  if (!isFloatingPoint(type) && type != DataType::kINT64 && type != DataType::kINT32)
    ctx.unsupported("output_datatype " + std::string(toString(type)) + " is not supported");
  const Tensor* size = ctx.inputValue(0);
  if (!size) {
    ctx.setOutput(0, type, {kUnknownDim});
    return;
  }
  const int64_t n = size->intAt(0);
  if (n < 0) ctx.fail("size is negative (" + std::to_string(n) + ")");
  ctx.setOutput(0, type, {n});
}

KILN_REGISTER_OP({.name = "HannWindow", .since_opset = 17, .infer = inferSignalWindow});
KILN_REGISTER_OP({.name = "HammingWindow", .since_opset = 17, .infer = inferSignalWindow});
KILN_REGISTER_OP({.name = "BlackmanWindow", .since_opset = 17, .infer = inferSignalWindow});

}  // namespace
}  // namespace kiln::ir
