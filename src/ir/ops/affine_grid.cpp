// Shape rule of AffineGrid (opset 20): the sampling grid of GridSample for a batch of affine
// maps. theta is [N, 2, 3] (2-D) or [N, 3, 4] (3-D); size is the int64 vector [N, C, H, W] or
// [N, C, D, H, W] of the image to sample; the output is [N, H, W, 2] or [N, D, H, W, 3], its
// last axis listing the innermost axis first (x, y[, z]). The spatial dims come from size's
// value: unknown when size is neither a constant nor computed from shapes.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferAffineGrid(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported("data type " + std::string(toString(type)) + " is not supported");
  const Shape& theta = ctx.inputShape(0);
  if (theta.size() != 3) ctx.fail("theta must be 3-D [N, 2, 3] or [N, 3, 4], got " + toString(theta));
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("size must be int64");
  const Shape& size_shape = ctx.inputShape(1);
  if (size_shape.size() != 1) ctx.fail("size must be a vector, got " + toString(size_shape));
  int64_t r = kUnknownDim;  // spatial rank: 2 or 3
  if (isKnown(size_shape[0])) r = size_shape[0] - 2;
  else if (isKnown(theta[1])) r = theta[1];
  if (!isKnown(r)) ctx.unsupported("the spatial rank is unknown: neither size's length nor theta's rows are known");
  if (r != 2 && r != 3) ctx.fail("size must have 4 or 5 entries, got " + toString(size_shape));
  if ((isKnown(theta[1]) && theta[1] != r) || (isKnown(theta[2]) && theta[2] != r + 1))
    ctx.fail("theta must be [N, " + std::to_string(r) + ", " + std::to_string(r + 1) + "] for a " + std::to_string(r) +
             "-D grid, got " + toString(theta));
  Shape out(static_cast<size_t>(r + 2), kUnknownDim);
  out[0] = theta[0];
  out.back() = r;
  const Tensor* value = ctx.inputValue(1);
  const std::optional<Shape> symbolic = value ? std::nullopt : ctx.inputShapeValue(1);
  if (value || symbolic) {
    const Shape size = value ? Shape(value->toInt64()) : *symbolic;
    for (size_t i = 0; i < size.size(); ++i)
      if (value && size[i] < 0) ctx.fail("size entry " + std::to_string(size[i]) + " is negative");
    if (isKnown(size[0]) && isKnown(theta[0]) && size[0] != theta[0])
      ctx.fail("size " + toString(size) + " and theta " + toString(theta) + " differ in batch size");
    if (isKnown(size[0])) out[0] = size[0];
    for (int64_t d = 0; d < r; ++d) out[1 + d] = size[2 + d];
  }
  ctx.setOutput(0, type, out);
}

KILN_REGISTER_OP({.name = "AffineGrid", .min_inputs = 2, .max_inputs = 2, .since_opset = 20, .infer = inferAffineGrid});

}  // namespace
}  // namespace kiln::ir
