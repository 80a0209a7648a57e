// Shape rule of CenterCropPad (opset 18): crops or zero-pads each of `axes` (all axes when
// absent) about its centre to the length given by the int vector `shape` (one entry per axis).
// The output's other dims are the input's. The cropped or padded dims come from shape's value:
// unknown when shape is neither a constant nor computed from shapes.
#include <set>

#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferCenterCropPad(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  const auto rank = static_cast<int64_t>(in.size());
  const DataType shape_type = ctx.inputType(1);
  if (shape_type != DataType::kINT64 && shape_type != DataType::kINT32) ctx.fail("shape must be int32 or int64");
  const Shape& shape_shape = ctx.inputShape(1);
  if (shape_shape.size() != 1) ctx.fail("shape must be a vector, got " + toString(shape_shape));
  std::vector<int64_t> axes;
  if (ctx.attrs().has("axes")) {
    std::set<int64_t> seen;
    for (int64_t a : ctx.attrs().ints("axes")) {
      axes.push_back(ctx.normalizeAxis(a, rank, "axes"));
      if (!seen.insert(axes.back()).second) ctx.fail("axes names axis " + std::to_string(a) + " twice");
    }
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  if (isKnown(shape_shape[0]) && shape_shape[0] != static_cast<int64_t>(axes.size()))
    ctx.fail("shape has " + std::to_string(shape_shape[0]) + " entries for " + std::to_string(axes.size()) + " axes");
  Shape out = in;
  const Tensor* value = ctx.inputValue(1);
  const std::optional<Shape> symbolic = value ? std::nullopt : ctx.inputShapeValue(1);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t length = kUnknownDim;
    if (value) {
      length = value->intAt(static_cast<int64_t>(i));
      if (length < 0) ctx.fail("shape entry " + std::to_string(length) + " is negative");
    } else if (symbolic) {
      length = (*symbolic)[i];
    }
    out[axes[i]] = length;
  }
  ctx.setOutput(0, ctx.inputType(0), out);
}

KILN_REGISTER_OP(
    {.name = "CenterCropPad", .min_inputs = 2, .max_inputs = 2, .since_opset = 18, .infer = inferCenterCropPad});

}  // namespace
}  // namespace kiln::ir
