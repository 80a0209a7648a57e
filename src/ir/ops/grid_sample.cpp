// Shape rule of GridSample (opsets 16, 20 and 22): samples X [N, C, D1..Dr] at the points of
// grid [N, H1..Hr, r], whose last axis holds normalized coordinates in [-1, 1] listed from the
// innermost spatial axis out (x, y[, z]). The output is [N, C, H1..Hr].
//
// Opset 16 takes 4-D X only and names its modes bilinear/nearest/bicubic; opset 20 renamed
// them linear/nearest/cubic and allowed any r >= 1 (volumetric sampling); 22 added types only.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferGridSample(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported("data type " + std::string(toString(type)) + " is not supported");
  if (!isFloatingPoint(ctx.inputType(1))) ctx.fail("grid must be a floating-point tensor");
  const Shape& x = ctx.inputShape(0);
  const Shape& grid = ctx.inputShape(1);
  const bool renamed = ctx.opset() >= 20;
  if (renamed ? x.size() < 3 : x.size() != 4)
    ctx.fail(std::string("X must be ") + (renamed ? "at least 3-D" : "4-D before opset 20") + ", got " + toString(x));
  const int64_t r = static_cast<int64_t>(x.size()) - 2;
  if (grid.size() != x.size()) ctx.fail("grid must have the rank of X, got " + toString(grid));
  if (isKnown(grid.back()) && grid.back() != r)
    ctx.fail("grid's last axis must hold " + std::to_string(r) + " coordinates, got " + toString(grid));
  if (isKnown(x[0]) && isKnown(grid[0]) && x[0] != grid[0])
    ctx.fail("X " + toString(x) + " and grid " + toString(grid) + " differ in batch size");
  const std::string mode = ctx.attrs().s("mode", renamed ? "linear" : "bilinear");
  if (mode != (renamed ? "linear" : "bilinear") && mode != "nearest" && mode != (renamed ? "cubic" : "bicubic"))
    ctx.fail("mode '" + mode + "' is not one of " +
             (renamed ? "linear, nearest, cubic" : "bilinear, nearest, bicubic"));
  const std::string padding = ctx.attrs().s("padding_mode", "zeros");
  if (padding != "zeros" && padding != "border" && padding != "reflection")
    ctx.fail("padding_mode '" + padding + "' is not one of zeros, border, reflection");
  Shape out{x[0], x[1]};
  out.insert(out.end(), grid.begin() + 1, grid.end() - 1);
  ctx.setOutput(0, type, out);
}

KILN_REGISTER_OP({.name = "GridSample", .min_inputs = 2, .max_inputs = 2, .since_opset = 16, .infer = inferGridSample});

}  // namespace
}  // namespace kiln::ir
