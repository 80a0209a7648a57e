// Shape rules of the linear quantization operators: QuantizeLinear and DequantizeLinear
// (opset 10 on) and DynamicQuantizeLinear (opset 11).
//
// Granularity comes from the scale's shape, which the zero point (when given) shares:
// a scalar or one-element 1-D scale is per tensor; a 1-D scale of x.shape[axis] values is
// per axis (opset 13 on; axis defaults to 1); with block_size > 0 (opset 21 on) the scale has
// x's rank, x's dims except ceil(x.shape[axis] / block_size) along axis. Opset 10 has no axis,
// so its per-tensor form is also the canonical one and needs no normalize step.
//
// Quantized types are int8, uint8, int16 and uint16 (and int32 for DequantizeLinear's input);
// the float8, 4-bit and 2-bit types of opsets 19 to 25 are refused as unsupported, naming the
// type, since kiln has no such element types. `saturate` only changes float8 results, so it is
// accepted and has no effect. `output_dtype` (QuantizeLinear-21, DequantizeLinear-23) names the
// result type when no zero point does; `precision` (QuantizeLinear-25) the type in which
// x / y_scale is computed.
#include "ir/onnx_types.h"
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

//! An ONNX data type number named by an attribute (output_dtype, precision) as a kiln type;
//! the types kiln cannot store are unsupported, naming them.
DataType attributeType(const InferContext& ctx, const char* attribute, int64_t onnx_type) {
  const std::optional<DataType> t = fromOnnxType(onnx_type);
  if (t && (isFloatingPoint(*t) || *t == DataType::kUINT8 || *t == DataType::kINT8 || *t == DataType::kUINT16 ||
            *t == DataType::kINT16 || *t == DataType::kINT32))
    return *t;
  if (onnx_type >= 17 && onnx_type <= 26)  // the float8, 4-bit and 2-bit types kiln does not store
    ctx.unsupported(std::string(attribute) + " " + std::string(onnxTypeName(onnx_type)) + " is not supported");
  ctx.fail(std::string(attribute) + " is not a valid quantization type: " + std::to_string(onnx_type));
}

bool isQuantized(DataType t) {
  return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kINT16 || t == DataType::kUINT16;
}

//! Checks the scale (input 1) and zero point (input 2) against x (input 0) for the
//! granularities in the file comment.
void checkGranularity(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  const Shape& scale = ctx.inputShape(1);
  if (!isFloatingPoint(ctx.inputType(1)))
    ctx.fail("the scale must be floating-point, got " + std::string(toString(ctx.inputType(1))));
  if (ctx.hasInput(2) && ctx.inputShape(2) != scale)
    ctx.fail("the zero point's shape " + toString(ctx.inputShape(2)) + " differs from the scale's " + toString(scale));
  const int64_t block = ctx.attrs().i("block_size", 0);
  if (block < 0) ctx.fail("block_size must be >= 0, got " + std::to_string(block));
  if (block > 0 && ctx.opset() < 21) ctx.fail("block_size needs opset 21");
  const bool per_tensor = scale.empty() || (scale.size() == 1 && scale[0] == 1 && block == 0);
  if (per_tensor) return;
  if (ctx.opset() < 13) ctx.fail("opset " + std::to_string(ctx.opset()) + " takes only a per-tensor scale");
  const int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", 1), static_cast<int64_t>(x.size()));
  if (block == 0) {
    if (scale.size() != 1) ctx.fail("a per-axis scale must be 1-D, got " + toString(scale));
    if (isKnown(scale[0]) && isKnown(x[axis]) && scale[0] != x[axis])
      ctx.fail("the scale has " + std::to_string(scale[0]) + " values for axis " + std::to_string(axis) + " of " +
               std::to_string(x[axis]));
    return;
  }
  if (scale.size() != x.size())
    ctx.fail("a blocked scale must have x's rank " + std::to_string(x.size()) + ", got " + toString(scale));
  for (size_t d = 0; d < x.size(); ++d) {
    if (!isKnown(scale[d]) || !isKnown(x[d])) continue;
    const int64_t want = static_cast<int64_t>(d) == axis ? (x[d] + block - 1) / block : x[d];
    if (scale[d] != want)
      ctx.fail("blocked scale " + toString(scale) + " does not fit x " + toString(x) + " with block_size " +
               std::to_string(block));
  }
}

void inferQuantizeLinear(InferContext& ctx) {
  const DataType x = ctx.inputType(0);
  if (!isFloatingPoint(x) && x != DataType::kINT32)
    ctx.fail("x must be floating-point or int32, got " + std::string(toString(x)));
  checkGranularity(ctx);
  const int64_t dtype = ctx.attrs().i("output_dtype", 0);
  DataType y = DataType::kUINT8;
  if (dtype != 0) y = attributeType(ctx, "output_dtype", dtype);
  if (ctx.hasInput(2)) {
    if (dtype != 0 && ctx.inputType(2) != y)
      ctx.fail("output_dtype " + std::string(toString(y)) + " differs from the zero point's type " +
               std::string(toString(ctx.inputType(2))));
    y = ctx.inputType(2);
  }
  if (!isQuantized(y)) ctx.fail("cannot quantize to " + std::string(toString(y)));
  const int64_t precision = ctx.attrs().i("precision", 0);
  if (precision != 0 && !isFloatingPoint(attributeType(ctx, "precision", precision)))
    ctx.fail("precision must be a floating-point type");
  ctx.setOutput(0, y, ctx.inputShape(0));
}

void inferDequantizeLinear(InferContext& ctx) {
  const DataType x = ctx.inputType(0);
  if (!isQuantized(x) && x != DataType::kINT32) ctx.fail("cannot dequantize " + std::string(toString(x)));
  if (ctx.hasInput(2) && ctx.inputType(2) != x)
    ctx.fail("the zero point's type " + std::string(toString(ctx.inputType(2))) + " differs from x's " +
             std::string(toString(x)));
  checkGranularity(ctx);
  const int64_t dtype = ctx.attrs().i("output_dtype", 0);
  const DataType y = dtype != 0 ? attributeType(ctx, "output_dtype", dtype) : ctx.inputType(1);
  if (!isFloatingPoint(y)) ctx.fail("output_dtype must be floating-point, got " + std::string(toString(y)));
  ctx.setOutput(0, y, ctx.inputShape(0));
}

//! y = uint8 x quantized with a scale and zero point chosen from x's range (extended to 0).
void inferDynamicQuantizeLinear(InferContext& ctx) {
  if (ctx.inputType(0) != DataType::kFLOAT)
    ctx.fail("x must be float32, got " + std::string(toString(ctx.inputType(0))));
  ctx.setOutput(0, DataType::kUINT8, ctx.inputShape(0));
  ctx.setOutput(1, DataType::kFLOAT, {});
  ctx.setOutput(2, DataType::kUINT8, {});
}

KILN_REGISTER_OP(
    {.name = "QuantizeLinear", .min_inputs = 2, .max_inputs = 3, .since_opset = 10, .infer = inferQuantizeLinear});
KILN_REGISTER_OP(
    {.name = "DequantizeLinear", .min_inputs = 2, .max_inputs = 3, .since_opset = 10, .infer = inferDequantizeLinear});
KILN_REGISTER_OP({.name = "DynamicQuantizeLinear",
                  .min_outputs = 3,
                  .max_outputs = 3,
                  .since_opset = 11,
                  .infer = inferDynamicQuantizeLinear});
}  // namespace
}  // namespace kiln::ir
