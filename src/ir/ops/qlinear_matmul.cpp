// Shape rule of QLinearMatMul (opsets 10 and 21): MatMul's shapes (numpy matmul, batch dims
// broadcast, 1-D operands promoted) on int8/uint8 a and b, each with a scale and a zero point of
// its type, and y quantized with y_scale and y_zero_point (whose type is y's).
//
// a's scale and zero point are per tensor (one value), per row (1-D [M], or a's rank with a
// last dim of 1); b's per tensor or per column (1-D [N], or b's rank with dim -2 of 1); y's per
// tensor only: a per-row or per-column y is unsupported. Scales are float32 in opset 10 and may
// be float16 or bfloat16 from opset 21 on.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

bool isInt8(DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; }

bool isOneValue(const Shape& s) {
  for (int64_t d : s)
    if (d != 1) return false;
  return true;
}

//! Checks the scale and zero point at inputs `scale`, `scale + 1` of operand `operand`
//! (kind: 0 a, per row; 1 b, per column; 2 y, per tensor).
void checkParams(InferContext& ctx, int scale, const Shape& operand, int kind) {
  static constexpr const char* kNames[] = {"a", "b", "y"};
  const std::string name = kNames[kind];
  const DataType st = ctx.inputType(scale);
  if (st != DataType::kFLOAT && (ctx.opset() < 21 || !isFloatingPoint(st) || st == DataType::kDOUBLE))
    ctx.fail(name + "_scale must be float32" + (ctx.opset() < 21 ? "" : ", float16 or bfloat16") + ", got " +
             std::string(toString(st)));
  const Shape& s = ctx.inputShape(scale);
  const Shape& z = ctx.inputShape(scale + 1);
  if (s != z) ctx.fail(name + "_scale and " + name + "_zero_point differ in shape");
  if (isOneValue(s)) return;
  if (kind == 2) ctx.unsupported("y_scale and y_zero_point must hold one value, got " + toString(s));
  if (operand.size() < 2) ctx.fail(name + " is 1-D, so its scale must hold one value, got " + toString(s));
  const size_t r = operand.size();
  const int64_t varying = kind == 0 ? operand[r - 2] : operand[r - 1];  // M or N
  if (s.size() == 1) {
    if (isKnown(s[0]) && isKnown(varying) && s[0] != varying)
      ctx.fail(name + "_scale " + toString(s) + " does not match " + name + " " + toString(operand));
    return;
  }
  const std::string misfit = name + "_scale " + toString(s) + " does not fit " + name + " " + toString(operand);
  if (s.size() != r) ctx.fail(misfit);
  for (size_t d = 0; d < r; ++d) {
    const bool fixed = d == (kind == 0 ? r - 1 : r - 2);  // k: one value along the summed axis
    if (fixed ? s[d] != 1 : (isKnown(s[d]) && isKnown(operand[d]) && s[d] != 1 && s[d] != operand[d])) ctx.fail(misfit);
  }
}

void inferQLinearMatMul(InferContext& ctx) {
  const DataType at = ctx.inputType(0), bt = ctx.inputType(3), yt = ctx.inputType(7);
  if (!isInt8(at) || !isInt8(bt) || !isInt8(yt))
    ctx.fail("a, b and y_zero_point must be int8 or uint8, got " + std::string(toString(at)) + ", " +
             std::string(toString(bt)) + ", " + std::string(toString(yt)));
  if (ctx.inputType(2) != at || ctx.inputType(5) != bt)
    ctx.fail("a_zero_point and b_zero_point must have the types of a and b");
  const Shape& a = ctx.inputShape(0);
  const Shape& b = ctx.inputShape(3);
  if (a.empty() || b.empty()) ctx.fail("a and b must have rank >= 1");
  const int64_t k_a = a.back(), k_b = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (isKnown(k_a) && isKnown(k_b) && k_a != k_b)
    ctx.fail("inner dimensions differ: " + toString(a) + " x " + toString(b));
  checkParams(ctx, 1, a, 0);
  checkParams(ctx, 4, b, 1);
  checkParams(ctx, 6, {}, 2);
  Shape batch_a(a.begin(), a.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(a.size())));
  Shape batch_b(b.begin(), b.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(b.size())));
  Shape out = broadcastShapes(ctx, batch_a, batch_b);
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  ctx.setOutput(0, yt, out);
}

KILN_REGISTER_OP(
    {.name = "QLinearMatMul", .min_inputs = 8, .max_inputs = 8, .since_opset = 10, .infer = inferQLinearMatMul});

}  // namespace
}  // namespace kiln::ir
