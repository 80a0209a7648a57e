// Shape rules of the unary elementwise operators: math functions and activations. The output
// has the input's type and shape; the rules only check the element type and attributes.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferFloatUnary(InferContext& ctx) {
  if (!isFloatingPoint(ctx.inputType(0)))
    ctx.fail("expects a floating-point input, got " + std::string(toString(ctx.inputType(0))));
  inferSameAsInput0(ctx);
}

void inferNumericUnary(InferContext& ctx) {
  if (ctx.inputType(0) == DataType::kBOOL) ctx.fail("expects a numeric input, got bool");
  inferSameAsInput0(ctx);
}

void inferSignedUnary(InferContext& ctx) {
  DataType t = ctx.inputType(0);
  if (t == DataType::kBOOL || t == DataType::kUINT8 || t == DataType::kUINT16 || t == DataType::kUINT32 ||
      t == DataType::kUINT64)
    ctx.fail("expects a signed input, got " + std::string(toString(t)));
  inferSameAsInput0(ctx);
}

void inferGelu(InferContext& ctx) {
  std::string approximate = ctx.attrs().s("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    ctx.fail("approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  inferFloatUnary(ctx);
}

// Clip (opset 11+ form; older models are rejected by the importer): optional scalar min
// (input 1) and max (input 2) of the input's type.
void inferClip(InferContext& ctx) {
  inferNumericUnary(ctx);
  for (int i = 1; i <= 2; ++i) {
    if (!ctx.hasInput(i)) continue;
    if (ctx.inputType(i) != ctx.inputType(0))
      ctx.fail(std::string(i == 1 ? "min" : "max") + " has type " + std::string(toString(ctx.inputType(i))) +
               ", input has " + std::string(toString(ctx.inputType(0))));
    const Shape& s = ctx.inputShape(i);
    if (allKnown(s) && volume(s) != 1)
      ctx.fail(std::string(i == 1 ? "min" : "max") + " must be a scalar, has shape " + toString(s));
  }
}

// Clip before opset 11 (Clip-6) held min and max as float attributes (float tensors only);
// they become constants of the input's type (inferred by now), absent where not given.
void normalizeClip(Graph& graph, Node& node, int opset) {
  if (opset >= 11) return;
  const DataType type = graph.tensors[node.inputs[0]].type;
  node.inputs.resize(1);
  node.inputs.resize(3, kAbsent);
  for (int i = 1; i <= 2; ++i) {
    const char* name = i == 1 ? "min" : "max";
    if (!node.attrs.has(name)) continue;
    const double v = node.attrs.f(name);
    node.attrs.erase(name);
    node.inputs[i] = graph.addConstant(node.name + "_" + name, Tensor::fromDouble(type, {}, {&v, 1}));
  }
  while (node.inputs.size() > 1 && node.inputs.back() == kAbsent) node.inputs.pop_back();
}

#define KILN_FLOAT_UNARY(op) KILN_REGISTER_OP({.name = #op, .infer = inferFloatUnary})

KILN_FLOAT_UNARY(Reciprocal);
KILN_FLOAT_UNARY(Sqrt);
KILN_FLOAT_UNARY(Exp);
KILN_FLOAT_UNARY(Log);
KILN_FLOAT_UNARY(Tanh);
KILN_FLOAT_UNARY(Sigmoid);
KILN_FLOAT_UNARY(LeakyRelu);
KILN_FLOAT_UNARY(HardSigmoid);
KILN_FLOAT_UNARY(Elu);
KILN_FLOAT_UNARY(Selu);
KILN_FLOAT_UNARY(Softplus);
KILN_FLOAT_UNARY(Softsign);
KILN_FLOAT_UNARY(ThresholdedRelu);
KILN_FLOAT_UNARY(Floor);
KILN_FLOAT_UNARY(Ceil);
KILN_FLOAT_UNARY(Round);
KILN_FLOAT_UNARY(Sin);
KILN_FLOAT_UNARY(Cos);
KILN_FLOAT_UNARY(Tan);
KILN_FLOAT_UNARY(Asin);
KILN_FLOAT_UNARY(Acos);
KILN_FLOAT_UNARY(Atan);
KILN_FLOAT_UNARY(Sinh);
KILN_FLOAT_UNARY(Cosh);
KILN_FLOAT_UNARY(Asinh);
KILN_FLOAT_UNARY(Acosh);
KILN_FLOAT_UNARY(Atanh);
KILN_REGISTER_OP({.name = "HardSwish", .since_opset = 14, .infer = inferFloatUnary});
KILN_REGISTER_OP({.name = "Celu", .since_opset = 12, .infer = inferFloatUnary});
KILN_REGISTER_OP({.name = "Gelu", .since_opset = 20, .infer = inferGelu});
KILN_REGISTER_OP({.name = "Swish", .since_opset = 24, .infer = inferFloatUnary});  // x * sigmoid(alpha * x)
KILN_REGISTER_OP({.name = "Mish", .since_opset = 18, .infer = inferFloatUnary});   // x * tanh(softplus(x))
KILN_REGISTER_OP({.name = "Erf", .infer = inferNumericUnary});  // Erf-13 allows integer types
KILN_REGISTER_OP({.name = "Relu", .infer = inferNumericUnary});
KILN_REGISTER_OP({.name = "Abs", .infer = inferNumericUnary});
KILN_REGISTER_OP({.name = "Sign", .infer = inferNumericUnary});
KILN_REGISTER_OP({.name = "Neg", .infer = inferSignedUnary});
KILN_REGISTER_OP({.name = "Clip", .max_inputs = 3, .since_opset = 6, .infer = inferClip, .normalize = normalizeClip});

}  // namespace
}  // namespace kiln::ir
