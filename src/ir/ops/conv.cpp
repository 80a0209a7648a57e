// Shape rules of the convolution operators: Conv and ConvTranspose (1D, 2D, 3D, any rank).
#include "ir/op_schema.h"
#include "ir/ops/window.h"

namespace kiln::ir {
namespace {

//! The checks both convolutions share: float types, X and W of equal rank >= 3, group >= 1.
void checkConvInputs(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  if (ctx.inputType(1) != type) ctx.fail("X and W have different types");
  if (ctx.hasInput(2) && ctx.inputType(2) != type) ctx.fail("X and B have different types");
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  if (x.size() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + toString(x));
  if (w.size() != x.size()) ctx.fail("W has rank " + std::to_string(w.size()) + " but X has rank " + std::to_string(x.size()));
  if (ctx.attrs().i("group", 1) < 1) ctx.fail("group must be >= 1");
  if (ctx.hasInput(2) && ctx.inputRank(2) != 1) ctx.fail("B must be 1-D");
}

//! Kernel extent: W's spatial dims, checked against the optional kernel_shape attribute.
std::vector<int64_t> kernelShape(InferContext& ctx) {
  const Shape& w = ctx.inputShape(1);
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.attrs().has("kernel_shape")) {
    std::vector<int64_t> ks = ctx.attrs().ints("kernel_shape");
    if (ks.size() != kernel.size()) ctx.fail("kernel_shape has " + std::to_string(ks.size()) + " values for a " +
                                             std::to_string(kernel.size()) + "-D convolution");
    for (size_t i = 0; i < ks.size(); ++i) {
      if (isKnown(kernel[i]) && kernel[i] != ks[i])
        ctx.fail("kernel_shape " + toString(ks) + " does not match W of shape " + toString(w));
      kernel[i] = ks[i];
    }
  }
  return kernel;
}

void inferConv(InferContext& ctx) {
  checkConvInputs(ctx);
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  const int64_t group = ctx.attrs().i("group", 1);
  if (isKnown(w[0]) && w[0] % group != 0)
    ctx.fail("W has " + std::to_string(w[0]) + " output channels, not a multiple of group " + std::to_string(group));
  if (isKnown(x[1]) && isKnown(w[1]) && x[1] != w[1] * group)
    ctx.fail("X has " + std::to_string(x[1]) + " channels but W expects " + std::to_string(w[1]) + " x group " +
             std::to_string(group));
  if (ctx.hasInput(2)) {
    const int64_t b = ctx.inputShape(2)[0];
    if (isKnown(b) && isKnown(w[0]) && b != w[0])
      ctx.fail("B has " + std::to_string(b) + " values for " + std::to_string(w[0]) + " output channels");
  }
  Window win = resolveWindow(ctx.attrs(), Shape(x.begin() + 2, x.end()), kernelShape(ctx), false);
  Shape out{x[0], ctx.hasInput(2) ? mergeDims(w[0], ctx.inputShape(2)[0]) : w[0]};
  out.insert(out.end(), win.out.begin(), win.out.end());
  ctx.setOutput(0, ctx.inputType(0), out);
}

void inferConvTranspose(InferContext& ctx) {
  checkConvInputs(ctx);
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  const int64_t group = ctx.attrs().i("group", 1);
  if (isKnown(x[1]) && isKnown(w[0]) && x[1] != w[0])
    ctx.fail("X has " + std::to_string(x[1]) + " channels but W has " + std::to_string(w[0]));
  if (isKnown(w[0]) && w[0] % group != 0)
    ctx.fail("W has " + std::to_string(w[0]) + " input channels, not a multiple of group " + std::to_string(group));
  const int64_t channels = isKnown(w[1]) ? w[1] * group : kUnknownDim;
  if (ctx.hasInput(2)) {
    const int64_t b = ctx.inputShape(2)[0];
    if (isKnown(b) && isKnown(channels) && b != channels)
      ctx.fail("B has " + std::to_string(b) + " values for " + std::to_string(channels) + " output channels");
  }
  TransposedWindow t = resolveTransposedWindow(ctx.attrs(), Shape(x.begin() + 2, x.end()), kernelShape(ctx));
  Shape out{x[0], ctx.hasInput(2) ? mergeDims(channels, ctx.inputShape(2)[0]) : channels};
  out.insert(out.end(), t.window.out.begin(), t.window.out.end());
  ctx.setOutput(0, ctx.inputType(0), out);
}

KILN_REGISTER_OP({.name = "Conv", .min_inputs = 2, .max_inputs = 3, .infer = inferConv});
KILN_REGISTER_OP({.name = "ConvTranspose", .min_inputs = 2, .max_inputs = 3, .infer = inferConvTranspose});

}  // namespace
}  // namespace kiln::ir
