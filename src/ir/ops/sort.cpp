// Shape rules of the sorting operators: TopK (TopK-1's k attribute becomes input 1).
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

// TopK (opset 11 form): inputs X and K (1-D int64 of one element); outputs Values, Indices;
// attributes axis (-1), largest (1), sorted (1).
void inferTopK(InferContext& ctx) {
  DataType type = ctx.inputType(0);
  if (type == DataType::kBOOL) ctx.unsupported("data type bool is not supported");
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("K must be int64");
  const Shape& k_shape = ctx.inputShape(1);
  if (k_shape.size() > 1 || (k_shape.size() == 1 && isKnown(k_shape[0]) && k_shape[0] != 1))
    ctx.fail("K must be a 1-D tensor of one element");
  const Shape& in = ctx.inputShape(0);
  if (in.empty()) ctx.fail("input must have rank >= 1");
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", -1), static_cast<int64_t>(in.size()));
  Shape out = in;
  if (const Tensor* k = ctx.inputValue(1)) {
    int64_t kv = k->intAt(0);
    if (kv < 0) ctx.fail("K must be non-negative, got " + std::to_string(kv));
    if (isKnown(in[axis]) && kv > in[axis])
      ctx.fail("K = " + std::to_string(kv) + " exceeds the axis size " + std::to_string(in[axis]));
    out[axis] = kv;
  } else {
    out[axis] = kUnknownDim;
  }
  ctx.setOutput(0, type, out);
  ctx.setOutput(1, DataType::kINT64, out);
}

// TopK-1 (before opset 10) held k as an attribute.
void normalizeTopK(Graph& graph, Node& node, int opset) {
  if (opset >= 10 || !node.attrs.has("k")) return;
  const int64_t k = node.attrs.i("k");
  node.attrs.erase("k");
  node.inputs.resize(1);
  node.inputs.push_back(graph.addConstant(node.name + "_k", Tensor::fromInt64({1}, {&k, 1})));
}

KILN_REGISTER_OP({.name = "TopK",
                  .min_inputs = 2,
                  .max_inputs = 2,
                  .min_outputs = 2,
                  .max_outputs = 2,
                  .infer = inferTopK,
                  .normalize = normalizeTopK});

}  // namespace
}  // namespace kiln::ir
