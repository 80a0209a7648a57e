// Shape rules of the pooling operators: MaxPool, AveragePool, LpPool, their Global forms, MaxUnpool;
// and NhwcMaxPool (domain "kiln"): a 2-D MaxPool (no Indices output) over channels-last
// tensors, X [N, H, W, C] -> Y [N, H', W', C], with MaxPool's window attributes; made by the
// builder's channels-last step.
#include "ir/op_schema.h"
#include "ir/ops/window.h"

namespace kiln::ir {
namespace {

void checkPoolInput(InferContext& ctx, bool allow_8bit) {
  const DataType type = ctx.inputType(0);
  const bool ok = isFloatingPoint(type) || (allow_8bit && (type == DataType::kINT8 || type == DataType::kUINT8));
  if (!ok) ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  if (ctx.inputRank(0) < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + toString(ctx.inputShape(0)));
}

//! Output shape (N, C, window output dims) of a windowed pool.
Shape windowedPoolShape(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  std::vector<int64_t> kernel = ctx.attrs().ints("kernel_shape");
  if (kernel.size() + 2 != x.size())
    ctx.fail("kernel_shape has " + std::to_string(kernel.size()) + " values for an input of rank " +
             std::to_string(x.size()));
  for (int64_t k : kernel)
    if (k < 1) ctx.fail("kernel_shape " + toString(kernel) + " has a value < 1");
  Window win = resolveWindow(ctx.attrs(), Shape(x.begin() + 2, x.end()), kernel, true);
  Shape out{x[0], x[1]};
  out.insert(out.end(), win.out.begin(), win.out.end());
  return out;
}

void inferMaxPool(InferContext& ctx) {
  checkPoolInput(ctx, true);
  const int64_t order = ctx.attrs().i("storage_order", 0);
  if (order != 0 && order != 1) ctx.fail("storage_order must be 0 or 1, got " + std::to_string(order));
  Shape out = windowedPoolShape(ctx);
  ctx.setOutput(0, ctx.inputType(0), out);
  ctx.setOutput(1, DataType::kINT64, out);
}

void inferNhwcMaxPool(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  const Shape& x = ctx.inputShape(0);
  if (x.size() != 4) ctx.fail("X must be 4-D [N, H, W, C], got " + toString(x));
  const std::vector<int64_t> kernel = ctx.attrs().ints("kernel_shape");
  if (kernel.size() != 2) ctx.fail("kernel_shape must have 2 values, got " + toString(kernel));
  for (int64_t k : kernel)
    if (k < 1) ctx.fail("kernel_shape " + toString(kernel) + " has a value < 1");
  const Window win = resolveWindow(ctx.attrs(), Shape{x[1], x[2]}, kernel, true);
  ctx.setOutput(0, type, Shape{x[0], win.out[0], win.out[1], x[3]});
}

void inferAveragePool(InferContext& ctx) {
  checkPoolInput(ctx, false);
  ctx.setOutput(0, ctx.inputType(0), windowedPoolShape(ctx));
}

void inferLpPool(InferContext& ctx) {
  checkPoolInput(ctx, false);
  if (ctx.attrs().i("p", 2) < 1) ctx.unsupported("p must be >= 1");
  ctx.setOutput(0, ctx.inputType(0), windowedPoolShape(ctx));
}

void inferGlobalPool(InferContext& ctx) {
  checkPoolInput(ctx, false);
  if (ctx.node().op == "GlobalLpPool" && ctx.attrs().i("p", 2) < 1) ctx.unsupported("p must be >= 1");
  const Shape& x = ctx.inputShape(0);
  Shape out(x.size(), 1);
  out[0] = x[0];
  out[1] = x[1];
  ctx.setOutput(0, ctx.inputType(0), out);
}

//! MaxUnpool's output: the given output_shape, else (in - 1) * stride + kernel - pads per dim.
void inferMaxUnpool(InferContext& ctx) {
  checkPoolInput(ctx, false);
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("I must be int64");
  const Shape& x = ctx.inputShape(0);
  if (ctx.hasInput(2)) {
    if (const Tensor* v = ctx.inputValue(2)) {
      Shape out = v->toInt64();
      if (out.size() != x.size()) ctx.fail("output_shape " + toString(out) + " does not have the rank of X");
      ctx.setOutput(0, ctx.inputType(0), out);
    } else {
      // Known only at run time: N and C are X's, the spatial dims are data.
      const Shape& s = ctx.inputShape(2);
      if (s.size() != 1 || (isKnown(s[0]) && s[0] != static_cast<int64_t>(x.size())))
        ctx.fail("output_shape must be 1-D with one value per dim of X");
      Shape out(x.size(), kUnknownDim);
      out[0] = x[0];
      out[1] = x[1];
      ctx.setOutput(0, ctx.inputType(0), out);
    }
    return;
  }
  const std::vector<int64_t> kernel = ctx.attrs().ints("kernel_shape");
  const size_t n = kernel.size();
  if (n + 2 != x.size()) ctx.fail("kernel_shape has " + std::to_string(n) + " values for an input of rank " + std::to_string(x.size()));
  const std::vector<int64_t> strides = ctx.attrs().ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.attrs().ints("pads", std::vector<int64_t>(2 * n, 0));
  if (strides.size() != n || pads.size() != 2 * n) ctx.fail("strides or pads do not match kernel_shape");
  Shape out{x[0], x[1]};
  for (size_t i = 0; i < n; ++i)
    out.push_back(isKnown(x[i + 2]) ? (x[i + 2] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] : kUnknownDim);
  ctx.setOutput(0, ctx.inputType(0), out);
}

KILN_REGISTER_OP({.name = "MaxPool", .max_outputs = 2, .infer = inferMaxPool});
KILN_REGISTER_OP({.name = "AveragePool", .infer = inferAveragePool});
KILN_REGISTER_OP({.name = "NhwcMaxPool", .infer = inferNhwcMaxPool});
KILN_REGISTER_OP({.name = "MaxUnpool", .min_inputs = 2, .max_inputs = 3, .infer = inferMaxUnpool});
KILN_REGISTER_OP({.name = "LpPool", .infer = inferLpPool});
KILN_REGISTER_OP({.name = "GlobalAveragePool", .infer = inferGlobalPool});
KILN_REGISTER_OP({.name = "GlobalMaxPool", .infer = inferGlobalPool});
KILN_REGISTER_OP({.name = "GlobalLpPool", .infer = inferGlobalPool});

}  // namespace
}  // namespace kiln::ir
