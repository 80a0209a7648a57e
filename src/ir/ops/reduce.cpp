// Shape rules of the reductions (Reduce*, ArgMax, ArgMin) and the scans CumSum and CumProd
// (one rule: same types, a scalar axis).
//
// Canonical Reduce* form (opset 18; ReduceSum since 13): inputs (data, optional axes),
// attributes keepdims and noop_with_empty_axes. Older models' `axes` attribute becomes a
// constant axes input.
#include <algorithm>

#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

bool isReduceType(DataType t, bool allow_bool) {
  return t != DataType::kBOOL || allow_bool;
}

NormalizeFn axesAttributeToInput(int input_since) {
  return [input_since](Graph& graph, Node& node, int opset) {
    if (opset >= input_since) return;
    if (!node.attrs.has("axes")) return;  // reduce over all axes: no axes input
    std::vector<int64_t> axes = node.attrs.ints("axes");
    node.attrs.erase("axes");
    int id = graph.addConstant(node.name + "_axes", Tensor::fromInt64({static_cast<int64_t>(axes.size())}, axes));
    node.inputs.resize(1);
    node.inputs.push_back(id);
  };
}

void inferReduce(InferContext& ctx, bool allow_bool) {
  DataType type = ctx.inputType(0);
  if (!isReduceType(type, allow_bool))
    ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  const Shape& in = ctx.inputShape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  const bool keepdims = ctx.attrs().i("keepdims", 1) != 0;
  const bool noop = ctx.attrs().i("noop_with_empty_axes", 0) != 0;
  if (ctx.hasInput(1)) {
    DataType at = ctx.inputType(1);
    if (at != DataType::kINT64) ctx.fail("axes must be int64");
    if (ctx.inputRank(1) != 1) ctx.fail("axes must be 1-D");
  }
  const Tensor* axes_value = ctx.hasInput(1) ? ctx.inputValue(1) : nullptr;
  if (ctx.hasInput(1) && !axes_value) {
    // Axes known only at run time: the rank is known from the number of axes.
    int64_t count = ctx.inputShape(1)[0];
    if (count == 0) {
      ctx.setOutput(0, type, noop ? in : (keepdims ? Shape(rank, 1) : Shape{}));
      return;
    }
    if (!isKnown(count) || (!keepdims && count > rank)) ctx.requireValue(1, "axes");
    ctx.setOutput(0, type, Shape(keepdims ? rank : rank - count, kUnknownDim));
    return;
  }
  std::vector<bool> reduced(rank, false);
  std::vector<int64_t> axes = axes_value ? axes_value->toInt64() : std::vector<int64_t>{};
  if (axes.empty()) {
    if (noop) {
      ctx.setOutput(0, type, in);
      return;
    }
    std::fill(reduced.begin(), reduced.end(), true);
  }
  for (int64_t a : axes) {
    int64_t axis = ctx.normalizeAxis(a, rank, "axes entry");
    if (reduced[axis]) ctx.fail("axis " + std::to_string(a) + " is repeated in axes");
    reduced[axis] = true;
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d]) out.push_back(in[d]);
    else if (keepdims) out.push_back(1);
  }
  ctx.setOutput(0, type, out);
}

void inferArg(InferContext& ctx) {
  if (ctx.inputType(0) == DataType::kBOOL) ctx.unsupported("data type bool is not supported");
  const Shape& in = ctx.inputShape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  if (rank == 0) ctx.fail("input must have rank >= 1");
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", 0), rank);
  const bool keepdims = ctx.attrs().i("keepdims", 1) != 0;
  if (isKnown(in[axis]) && in[axis] == 0) ctx.fail("cannot take the arg-extremum over an empty axis");
  Shape out = in;
  if (keepdims) out[axis] = 1;
  else out.erase(out.begin() + axis);
  ctx.setOutput(0, DataType::kINT64, out);
}

void inferCumSum(InferContext& ctx) {
  DataType type = ctx.inputType(0);
  if (type == DataType::kBOOL || type == DataType::kINT8 || type == DataType::kUINT8 || type == DataType::kINT16 ||
      type == DataType::kUINT16)
    ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  DataType at = ctx.inputType(1);
  if (at != DataType::kINT32 && at != DataType::kINT64) ctx.fail("axis must be int32 or int64");
  const Shape& axis_shape = ctx.inputShape(1);
  if (axis_shape.size() > 1 || (axis_shape.size() == 1 && isKnown(axis_shape[0]) && axis_shape[0] != 1))
    ctx.fail("axis must be a scalar");
  const Shape& in = ctx.inputShape(0);
  if (in.empty()) ctx.fail("input must have rank >= 1");
  if (const Tensor* axis = ctx.inputValue(1)) ctx.normalizeAxis(axis->intAt(0), static_cast<int64_t>(in.size()));
  ctx.setOutput(0, type, in);
}

#define KILN_REDUCE_OP(op_name, input_since, allow_bool)                                              \
  KILN_REGISTER_OP({.name = op_name,                                                                  \
                    .min_inputs = 1,                                                                  \
                    .max_inputs = 2,                                                                  \
                    .infer = [](InferContext& ctx) { inferReduce(ctx, allow_bool); },                 \
                    .normalize = axesAttributeToInput(input_since)})

KILN_REDUCE_OP("ReduceSum", 13, false);
KILN_REDUCE_OP("ReduceMean", 18, false);
KILN_REDUCE_OP("ReduceMax", 18, true);
KILN_REDUCE_OP("ReduceMin", 18, true);
KILN_REDUCE_OP("ReduceProd", 18, false);
KILN_REDUCE_OP("ReduceL1", 18, false);
KILN_REDUCE_OP("ReduceL2", 18, false);
KILN_REDUCE_OP("ReduceLogSum", 18, false);
KILN_REDUCE_OP("ReduceLogSumExp", 18, false);
KILN_REDUCE_OP("ReduceSumSquare", 18, false);

KILN_REGISTER_OP({.name = "ArgMax", .infer = inferArg});
KILN_REGISTER_OP({.name = "ArgMin", .infer = inferArg});
KILN_REGISTER_OP({.name = "CumSum", .min_inputs = 2, .max_inputs = 2, .since_opset = 11, .infer = inferCumSum});
KILN_REGISTER_OP({.name = "CumProd", .min_inputs = 2, .max_inputs = 2, .since_opset = 26, .infer = inferCumSum});

}  // namespace
}  // namespace kiln::ir
