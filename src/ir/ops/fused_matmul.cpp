// Shape rule of FusedMatMul (domain "kiln"): one GEMM with its epilogue, made by the
// fuse_gemm_epilogue pass from MatMul/Gemm + bias Add + activation + residual Add:
//
//   Y = act(alpha * A op(B) + bias) + residual
//
// A [..., M, K] (rank >= 2; every leading dim folds into M: it is one 2-D GEMM), B [K, N]
// ([N, K] with trans_b = 1), bias [N] (optional), residual exactly Y's shape (optional).
// Attributes: trans_b (0/1), alpha (float, 1), activation ("none", "relu", "gelu_erf",
// "gelu_tanh"), output_type (optional, an ONNX type number: 1 float32, 10 float16, 16 bfloat16).
// Every input has A's type; Y [..., M, N] has A's type too, or output_type when given: the
// fold_casts pass sets it where a Cast of Y folded into the layer, so the epilogue rounds
// once into the wider type (its tactics say which pairs they write, see there).
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferFusedMatMul(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  for (int i = 1; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i) && ctx.inputType(i) != type)
      ctx.fail("input " + std::to_string(i) + " has type " + std::string(toString(ctx.inputType(i))) + ", A has " +
               std::string(toString(type)));
  const std::string activation = ctx.attrs().s("activation", "none");
  if (activation != "none" && activation != "relu" && activation != "gelu_erf" && activation != "gelu_tanh")
    ctx.fail("unknown activation '" + activation + "' (expected none, relu, gelu_erf or gelu_tanh)");
  DataType out_type = type;
  if (ctx.attrs().has("output_type")) {
    switch (ctx.attrs().i("output_type")) {
      case 1: out_type = DataType::kFLOAT; break;
      case 10: out_type = DataType::kHALF; break;
      case 16: out_type = DataType::kBF16; break;
      default:
        ctx.fail("output_type must be 1 (float32), 10 (float16) or 16 (bfloat16), got " +
                 std::to_string(ctx.attrs().i("output_type")));
    }
  }
  const int64_t trans_b = ctx.attrs().i("trans_b", 0);
  if (trans_b != 0 && trans_b != 1) ctx.fail("trans_b must be 0 or 1, got " + std::to_string(trans_b));

  const Shape& a = ctx.inputShape(0);
  const Shape& b = ctx.inputShape(1);
  if (a.size() < 2) ctx.fail("A must have rank >= 2, got " + toString(a));
  if (b.size() != 2) ctx.fail("B must be 2-D, got " + toString(b));
  const int64_t k_a = a.back();
  const int64_t k_b = trans_b ? b[1] : b[0];
  int64_t n = trans_b ? b[0] : b[1];
  if (isKnown(k_a) && isKnown(k_b) && k_a != k_b)
    ctx.fail("inner dimensions differ: A " + toString(a) + " x B " + toString(b) + " (trans_b=" +
             std::to_string(trans_b) + ")");
  if (ctx.hasInput(2)) {
    const Shape& bias = ctx.inputShape(2);
    if (bias.size() != 1) ctx.fail("bias must be 1-D [N], got " + toString(bias));
    if (isKnown(bias[0]) && isKnown(n) && bias[0] != n)
      ctx.fail("bias " + toString(bias) + " does not match N = " + std::to_string(n));
    n = mergeDims(n, bias[0]);
  }
  Shape y(a.begin(), a.end() - 1);
  y.push_back(n);
  if (ctx.hasInput(3)) {
    const Shape& r = ctx.inputShape(3);
    if (r.size() != y.size()) ctx.fail("residual " + toString(r) + " must have Y's shape " + toString(y));
    for (size_t d = 0; d < y.size(); ++d) {
      if (isKnown(r[d]) && isKnown(y[d]) && r[d] != y[d])
        ctx.fail("residual " + toString(r) + " must have Y's shape " + toString(y));
      y[d] = mergeDims(y[d], r[d]);
    }
  }
  ctx.setOutput(0, out_type, y);
}

KILN_REGISTER_OP({.name = "FusedMatMul", .min_inputs = 2, .max_inputs = 4, .infer = inferFusedMatMul});

}  // namespace
}  // namespace kiln::ir
