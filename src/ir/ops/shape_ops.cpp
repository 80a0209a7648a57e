// Shape rules of the shape-changing operators: Reshape, Flatten, Squeeze, Unsqueeze, Expand,
// Shape, Size, ConstantOfShape, Range and Constant.
#include <algorithm>
#include <cmath>
#include <set>

#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

//! Length of a 1-D shape-like input (its only dim); fails unless it is a known 1-D length.
int64_t vectorLength(InferContext& ctx, int i, const char* what) {
  const Shape& s = ctx.inputShape(i);
  if (s.size() > 1) ctx.fail(std::string(what) + " must be 1-D, got rank " + std::to_string(s.size()));
  if (s.empty()) return 1;
  if (!isKnown(s[0])) ctx.unsupported(std::string(what) + " has an unknown length, so the output rank is unknown");
  return s[0];
}

void requireIntegerInput(InferContext& ctx, int i, const char* what) {
  DataType t = ctx.inputType(i);
  if (t != DataType::kINT64 && t != DataType::kINT32) ctx.fail(std::string(what) + " must be int64");
}

//! Moves an int-list attribute into a new constant int64 input at slot `slot` (opset change).
void attributeToInput(Graph& graph, Node& node, const char* attr, size_t slot) {
  if (!node.attrs.has(attr)) return;
  std::vector<int64_t> v = node.attrs.ints(attr);
  node.attrs.erase(attr);
  while (node.inputs.size() < slot) node.inputs.push_back(kAbsent);
  int id = graph.addConstant(node.name + "_" + attr, Tensor::fromInt64({static_cast<int64_t>(v.size())}, v));
  if (node.inputs.size() == slot) node.inputs.push_back(id);
  else node.inputs[slot] = id;
}

// ---- Reshape ---------------------------------------------------------------------------------

//! The -1 entry of a Reshape target, when the other dims determine it even with symbols:
//! input [batch, 3, 4] to [batch, -1] gives 12; [batch, 12] to [-1, 3, 4] gives batch.
int64_t inferMinusOne(const Shape& in, const Shape& out_without_minus_one, bool& indivisible) {
  int64_t known_in = 1, known_out = 1;
  // Dims come from files: a product past int64 is an error, not an overflow.
  auto times = [](int64_t& product, int64_t d, const Shape& shape) {
    if (__builtin_mul_overflow(product, d, &product))
      throw Error(ErrorCode::kInvalidArgument, "shape " + toString(shape) + " has more than 2^63 - 1 elements");
  };
  std::multiset<int64_t> symbols;
  for (int64_t d : in) {
    if (isKnown(d)) times(known_in, d, in);
    else if (d == kUnknownDim) return kUnknownDim;
    else symbols.insert(d);
  }
  for (int64_t d : out_without_minus_one) {
    if (isKnown(d)) {
      times(known_out, d, out_without_minus_one);
    } else {
      auto it = symbols.find(d);
      if (d == kUnknownDim || it == symbols.end()) return kUnknownDim;
      symbols.erase(it);
    }
  }
  if (symbols.empty() && known_out != 0 && known_in % known_out) indivisible = true;
  if (symbols.empty()) return known_out == 0 || indivisible ? kUnknownDim : known_in / known_out;
  if (symbols.size() == 1 && known_in == known_out && known_out != 0) return *symbols.begin();
  return kUnknownDim;
}

void inferReshape(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  requireIntegerInput(ctx, 1, "shape");
  bool allowzero = ctx.attrs().i("allowzero", 0) != 0;
  // A target computed from shapes may still be known symbolically ([batch, sequence, 12, 64]).
  const Tensor* target = ctx.inputValue(1);
  const std::optional<Shape> symbolic = target ? std::nullopt : ctx.inputShapeValue(1);
  if (!target && !symbolic) {
    ctx.setOutput(0, ctx.inputType(0), Shape(static_cast<size_t>(vectorLength(ctx, 1, "shape")), kUnknownDim));
    return;
  }
  std::vector<int64_t> spec = target ? target->toInt64() : *symbolic;
  Shape out(spec.size());
  int minus_one = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t v = spec[i];
    if (v == -1) {
      if (minus_one >= 0) ctx.fail("shape has more than one -1");
      minus_one = static_cast<int>(i);
      continue;
    }
    if (v <= kFirstSymbol && !target) {
      out[i] = v;  // a symbolic dim: the same symbol as where it came from
      continue;
    }
    if (v < -1) ctx.fail("shape entry " + std::to_string(v) + " is invalid");
    if (v == 0 && !allowzero) {
      if (i >= in.size())
        ctx.fail("shape entry " + std::to_string(i) + " is 0 (copy) but the input has rank " +
                 std::to_string(in.size()));
      out[i] = in[i];
    } else {
      out[i] = v;
    }
  }
  if (minus_one >= 0) {
    if (allowzero && std::count(spec.begin(), spec.end(), 0) > 0) ctx.fail("shape has both 0 and -1 with allowzero=1");
    Shape rest = out;
    rest.erase(rest.begin() + minus_one);
    bool indivisible = false;
    int64_t d = inferMinusOne(in, rest, indivisible);
    if (indivisible) ctx.fail("cannot reshape " + toString(in) + " to " + toString(spec) + ": sizes do not divide");
    out[minus_one] = d;
  }
  if (allKnown(in) && allKnown(out) && volume(in) != volume(out))
    ctx.fail("cannot reshape " + toString(in) + " (" + std::to_string(volume(in)) + " elements) to " + toString(out));
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

// ---- Flatten ---------------------------------------------------------------------------------

int64_t product(const Shape& s, size_t begin, size_t end) {
  if (end - begin == 1) return s[begin];  // keeps a symbol
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) {
    if (!isKnown(s[i])) return kUnknownDim;
    p *= s[i];
  }
  return p;
}

void inferFlatten(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.attrs().i("axis", 1);
  if (axis < -rank || axis > rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  ctx.setOutput(0, ctx.inputType(0), {product(in, 0, axis), product(in, axis, in.size())});
}

// ---- Squeeze / Unsqueeze ---------------------------------------------------------------------

std::vector<int64_t> uniqueAxes(InferContext& ctx, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) out.push_back(ctx.normalizeAxis(a, rank));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) ctx.fail("axes contain a duplicate");
  return out;
}

void inferSqueeze(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  Shape out;
  if (!ctx.hasInput(1)) {
    for (int64_t d : in)
      if (d != 1) out.push_back(d);  // an unknown dim is assumed not to be 1
  } else if (const Tensor* axes_value = ctx.inputValue(1)) {
    std::vector<int64_t> axes = uniqueAxes(ctx, axes_value->toInt64(), rank);
    for (int64_t i = 0; i < rank; ++i) {
      bool squeezed = std::binary_search(axes.begin(), axes.end(), i);
      if (squeezed && isKnown(in[i]) && in[i] != 1)
        ctx.fail("cannot squeeze axis " + std::to_string(i) + " of size " + std::to_string(in[i]));
      if (!squeezed) out.push_back(in[i]);
    }
  } else {
    out.assign(static_cast<size_t>(rank - vectorLength(ctx, 1, "axes")), kUnknownDim);
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

void inferUnsqueeze(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  const Tensor* axes_value = ctx.inputValue(1);
  if (!axes_value) {
    ctx.setOutput(0, ctx.inputType(0),
                  Shape(in.size() + static_cast<size_t>(vectorLength(ctx, 1, "axes")), kUnknownDim));
    return;
  }
  std::vector<int64_t> raw = axes_value->toInt64();
  int64_t out_rank = static_cast<int64_t>(in.size() + raw.size());
  std::vector<int64_t> axes = uniqueAxes(ctx, raw, out_rank);
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i)
    out.push_back(std::binary_search(axes.begin(), axes.end(), i) ? 1 : in[next++]);
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

void normalizeAxesToInput(Graph& graph, Node& node, int opset) {
  if (opset < 13) attributeToInput(graph, node, "axes", 1);
}

// ---- Expand ----------------------------------------------------------------------------------

void inferExpand(InferContext& ctx) {
  requireIntegerInput(ctx, 1, "shape");
  const Tensor* shape = ctx.inputValue(1);
  const std::optional<Shape> symbolic = shape ? std::nullopt : ctx.inputShapeValue(1);
  Shape target = shape      ? shape->toInt64()
                 : symbolic ? *symbolic
                            : Shape(static_cast<size_t>(vectorLength(ctx, 1, "shape")), kUnknownDim);
  for (int64_t d : target)
    if (shape && d < 0) ctx.fail("shape entry " + std::to_string(d) + " is negative");
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), target));
}

// ---- Shape / Size ----------------------------------------------------------------------------

void inferShape(InferContext& ctx) {
  int64_t rank = ctx.inputRank(0);
  int64_t start = ctx.attrs().i("start", 0), end = ctx.attrs().i("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  ctx.setOutput(0, DataType::kINT64, {std::max<int64_t>(0, end - start)});
}

void inferSize(InferContext& ctx) {
  ctx.inputShape(0);  // its rank must be known
  ctx.setOutput(0, DataType::kINT64, {});
}

// ---- ConstantOfShape / Range / Constant -----------------------------------------------------

void inferConstantOfShape(InferContext& ctx) {
  requireIntegerInput(ctx, 0, "shape");
  DataType type = DataType::kFLOAT;
  if (ctx.attrs().has("value")) {
    const Tensor& v = ctx.attrs().t("value");
    if (v.numel() != 1) ctx.fail("value must hold exactly one element");
    type = v.type();
  }
  const Tensor* shape = ctx.inputValue(0);
  if (!shape) {
    ctx.setOutput(0, type, Shape(static_cast<size_t>(vectorLength(ctx, 0, "shape")), kUnknownDim));
    return;
  }
  Shape out = shape->toInt64();
  for (int64_t d : out)
    if (d < 0) ctx.fail("shape entry " + std::to_string(d) + " is negative");
  ctx.setOutput(0, type, std::move(out));
}

// Range-27 adds float16 / bfloat16 with stash_type, the precision the range is computed in
// (float32 by default; the reference computes in double, which rounds to the same 16-bit
// values), and every type computes as in Range-11.
void inferRange(InferContext& ctx) {
  DataType type = ctx.inputType(0);
  if (ctx.inputType(1) != type || ctx.inputType(2) != type) ctx.fail("start, limit and delta must have one type");
  switch (type) {
    case DataType::kFLOAT:
    case DataType::kDOUBLE:
    case DataType::kINT16:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kHALF:
    case DataType::kBF16: break;
    default: ctx.unsupported("Range of " + std::string(toString(type)));
  }
  for (int i = 0; i < 3; ++i)
    if (ctx.inputRank(i) != 0 && !(ctx.inputRank(i) == 1 && ctx.inputShape(i)[0] == 1))
      ctx.fail("start, limit and delta must be scalars");
  const Tensor *start = ctx.inputValue(0), *limit = ctx.inputValue(1), *delta = ctx.inputValue(2);
  if (!start || !limit || !delta) {
    ctx.setOutput(0, type, {kUnknownDim});
    return;
  }
  double s = start->at(0), l = limit->at(0), d = delta->at(0);
  if (d == 0) ctx.fail("delta is 0");
  int64_t n = 0;
  if (isFloatingPoint(type)) {
    n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
  } else {
    int64_t si = start->intAt(0), li = limit->intAt(0), di = delta->intAt(0);
    int64_t span = li - si;
    if ((span > 0 && di > 0) || (span < 0 && di < 0)) n = (span + di + (di > 0 ? -1 : 1)) / di;
  }
  ctx.setOutput(0, type, {n});
}

void inferConstant(InferContext& ctx) {
  const Attributes& a = ctx.attrs();
  if (a.has("sparse_value")) ctx.unsupported("sparse_value constants are not supported");
  if (a.has("value_string") || a.has("value_strings")) ctx.unsupported("string constants are not supported");
  if (a.has("value")) ctx.setOutput(0, a.t("value").type(), a.t("value").shape());
  else if (a.has("value_float")) ctx.setOutput(0, DataType::kFLOAT, {});
  else if (a.has("value_int")) ctx.setOutput(0, DataType::kINT64, {});
  else if (a.has("value_floats"))
    ctx.setOutput(0, DataType::kFLOAT, {static_cast<int64_t>(a.floats("value_floats").size())});
  else if (a.has("value_ints")) ctx.setOutput(0, DataType::kINT64, {static_cast<int64_t>(a.ints("value_ints").size())});
  else ctx.fail("has no value attribute");
}

KILN_REGISTER_OP({.name = "Reshape", .min_inputs = 2, .max_inputs = 2, .infer = inferReshape});
KILN_REGISTER_OP({.name = "Flatten", .infer = inferFlatten});
KILN_REGISTER_OP({.name = "Squeeze", .max_inputs = 2, .infer = inferSqueeze, .normalize = normalizeAxesToInput});
KILN_REGISTER_OP({.name = "Unsqueeze",
                  .min_inputs = 2,
                  .max_inputs = 2,
                  .infer = inferUnsqueeze,
                  .normalize = normalizeAxesToInput});
KILN_REGISTER_OP({.name = "Expand", .min_inputs = 2, .max_inputs = 2, .infer = inferExpand});
KILN_REGISTER_OP({.name = "Shape", .infer = inferShape});
KILN_REGISTER_OP({.name = "Size", .infer = inferSize});
KILN_REGISTER_OP({.name = "ConstantOfShape", .infer = inferConstantOfShape});
KILN_REGISTER_OP({.name = "Range", .min_inputs = 3, .max_inputs = 3, .infer = inferRange});
KILN_REGISTER_OP({.name = "Constant", .min_inputs = 0, .max_inputs = 0, .infer = inferConstant});

}  // namespace
}  // namespace kiln::ir
