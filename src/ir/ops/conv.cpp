// Shape rules of the convolution operators: Conv and ConvTranspose (1D, 2D, 3D, any rank), and
// FusedConv (domain "kiln"), one Conv with its epilogue, made by the fuse_conv_epilogue pass
// from Conv + bias Add + residual Add + activation:
//
//   Y = act(conv(X, W) + B + R)
//
// FusedConv's X, W, B and window attributes are Conv's (one rule gives Y's shape); R (optional
// input 3) has exactly Y's shape and type; the epilogue attributes are read by convEpilogue()
// (conv_epilogue.h): activation ("none", "relu", "clip", "silu", "hardswish", "sigmoid") and,
// for clip, min / max (floats). With layout "NHWC" (2-D only) X, W, R and Y are channels
// last: X [N, H, W, C], W [K, R, S, C/g], Y and R [N, H', W', K]; the rule permutes them to
// NCHW, applies Conv's rule and permutes Y back.
#include "ir/op_schema.h"
#include "ir/ops/conv_epilogue.h"
#include "ir/ops/window.h"

namespace kiln::ir {
namespace {

//! The checks both convolutions share: float types, X and W of equal rank >= 3, group >= 1.
//! `x` and `w` are X's and W's shapes in NCHW order.
//! Which inputs a convolution-like op has beside X and W: a floating-point one (Conv,
//! DeformConv; ConvInteger checks its own int8 / uint8 types) and where its bias is (-1: none).
struct ConvForm {
  bool floating = true;
  int bias = 2;
};

void checkConvInputs(InferContext& ctx, const Shape& x, const Shape& w, ConvForm form) {
  const DataType type = ctx.inputType(0);
  if (form.floating) {
    if (!isFloatingPoint(type))
      ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
    if (ctx.inputType(1) != type) ctx.fail("X and W have different types");
  }
  if (form.bias >= 0 && ctx.hasInput(form.bias)) {
    if (ctx.inputType(form.bias) != type) ctx.fail("X and B have different types");
    if (ctx.inputRank(form.bias) != 1) ctx.fail("B must be 1-D");
  }
  if (x.size() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + toString(x));
  if (w.size() != x.size())
    ctx.fail("W has rank " + std::to_string(w.size()) + " but X has rank " + std::to_string(x.size()));
  if (ctx.attrs().i("group", 1) < 1) ctx.fail("group must be >= 1");
}

//! Kernel extent: W's spatial dims (`w` in NCHW order), checked against the optional
//! kernel_shape attribute.
std::vector<int64_t> kernelShape(InferContext& ctx, const Shape& w) {
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.attrs().has("kernel_shape")) {
    std::vector<int64_t> ks = ctx.attrs().ints("kernel_shape");
    if (ks.size() != kernel.size())
      ctx.fail("kernel_shape has " + std::to_string(ks.size()) + " values for a " + std::to_string(kernel.size()) +
               "-D convolution");
    for (size_t i = 0; i < ks.size(); ++i) {
      if (isKnown(kernel[i]) && kernel[i] != ks[i])
        ctx.fail("kernel_shape " + toString(ks) + " does not match W of shape " + toString(w));
      kernel[i] = ks[i];
    }
  }
  return kernel;
}

//! Conv's output shape (and every check of its inputs and attributes), all in NCHW order.
Shape convOutput(InferContext& ctx, const Shape& x, const Shape& w, ConvForm form = {}) {
  checkConvInputs(ctx, x, w, form);
  const bool bias = form.bias >= 0 && ctx.hasInput(form.bias);
  const int64_t group = ctx.attrs().i("group", 1);
  if (isKnown(w[0]) && w[0] % group != 0)
    ctx.fail("W has " + std::to_string(w[0]) + " output channels, not a multiple of group " + std::to_string(group));
  if (isKnown(x[1]) && isKnown(w[1]) && x[1] != w[1] * group)
    ctx.fail("X has " + std::to_string(x[1]) + " channels but W expects " + std::to_string(w[1]) + " x group " +
             std::to_string(group));
  if (bias) {
    const int64_t b = ctx.inputShape(form.bias)[0];
    if (isKnown(b) && isKnown(w[0]) && b != w[0])
      ctx.fail("B has " + std::to_string(b) + " values for " + std::to_string(w[0]) + " output channels");
  }
  Window win = resolveWindow(ctx.attrs(), Shape(x.begin() + 2, x.end()), kernelShape(ctx, w), false);
  Shape out{x[0], bias ? mergeDims(w[0], ctx.inputShape(form.bias)[0]) : w[0]};
  out.insert(out.end(), win.out.begin(), win.out.end());
  return out;
}

void inferConv(InferContext& ctx) {
  ctx.setOutput(0, ctx.inputType(0), convOutput(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

//! NHWC <-> NCHW for a 4-D shape (other ranks unchanged: the rule then refuses them).
Shape toNchw(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s; }
Shape toNhwc(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[2], s[3], s[1]} : s; }

void inferFusedConv(InferContext& ctx) {
  const bool nhwc = convChannelsLast(ctx.attrs());
  if (nhwc && (ctx.inputRank(0) != 4 || ctx.inputRank(1) != 4))
    ctx.fail("layout NHWC is for 2-D convolutions: X and W must be 4-D");
  Shape y = nhwc ? toNhwc(convOutput(ctx, toNchw(ctx.inputShape(0)), toNchw(ctx.inputShape(1))))
                 : convOutput(ctx, ctx.inputShape(0), ctx.inputShape(1));
  (void)convEpilogue(ctx.attrs());
  if (ctx.hasInput(3)) {
    if (ctx.inputType(3) != ctx.inputType(0))
      ctx.fail("R has type " + std::string(toString(ctx.inputType(3))) + ", X has " +
               std::string(toString(ctx.inputType(0))));
    const Shape& r = ctx.inputShape(3);
    if (r.size() != y.size()) ctx.fail("R " + toString(r) + " must have Y's shape " + toString(y));
    for (size_t d = 0; d < y.size(); ++d) {
      if (isKnown(r[d]) && isKnown(y[d]) && r[d] != y[d])
        ctx.fail("R " + toString(r) + " must have Y's shape " + toString(y));
      y[d] = mergeDims(y[d], r[d]);
    }
  }
  ctx.setOutput(0, ctx.inputType(0), y);
}

void inferConvTranspose(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  checkConvInputs(ctx, x, w, {});
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
  TransposedWindow t = resolveTransposedWindow(ctx.attrs(), Shape(x.begin() + 2, x.end()), kernelShape(ctx, w));
  Shape out{x[0], ctx.hasInput(2) ? mergeDims(channels, ctx.inputShape(2)[0]) : channels};
  out.insert(out.end(), t.window.out.begin(), t.window.out.end());
  ctx.setOutput(0, ctx.inputType(0), out);
}

// ConvInteger-10: Y (int32) = Conv(X - x_zero_point, W - w_zero_point), X and W int8 or uint8;
// x_zero_point a scalar, w_zero_point a scalar or one per output channel; pads count as zeros
// of the shifted X.
void inferConvInteger(InferContext& ctx) {
  for (int i = 0; i < 4; ++i) {
    if (!ctx.hasInput(i)) continue;
    const DataType t = ctx.inputType(i);
    if (t != DataType::kINT8 && t != DataType::kUINT8) ctx.fail("inputs must be int8 or uint8");
  }
  if (ctx.hasInput(2) && ctx.inputType(2) != ctx.inputType(0)) ctx.fail("x_zero_point must have X's type");
  if (ctx.hasInput(3) && ctx.inputType(3) != ctx.inputType(1)) ctx.fail("w_zero_point must have W's type");
  if (ctx.hasInput(2) && volume(ctx.inputShape(2)) != 1) ctx.fail("x_zero_point must be a scalar");
  if (ctx.hasInput(3)) {
    const Shape& z = ctx.inputShape(3);
    const Shape& w = ctx.inputShape(1);
    if (volume(z) != 1 && (z.size() != 1 || (isKnown(w[0]) && z[0] != w[0])))
      ctx.fail("w_zero_point must be a scalar or one per output channel");
  }
  ctx.setOutput(0, DataType::kINT32,
                convOutput(ctx, ctx.inputShape(0), ctx.inputShape(1), {.floating = false, .bias = -1}));
}

// DeformConv-19: a 2-D Conv whose taps sample X at offsets (bilinearly, zero outside):
// X [N, C, H, W], W [M, C / group, kH, kW], offset [N, offset_group * 2 * kH * kW, oH, oW],
// optional B [M] and mask [N, offset_group * kH * kW, oH, oW] -> Y [N, M, oH, oW].
void inferDeformConv(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  if (x.size() != 4) ctx.unsupported("only 2-D deformable convolutions are supported, X is " + toString(x));
  const Shape y = convOutput(ctx, x, w, {.bias = 3});
  const int64_t offset_group = ctx.attrs().i("offset_group", 1);
  if (offset_group < 1 || (isKnown(x[1]) && x[1] % offset_group != 0))
    ctx.fail("offset_group must divide the channels");
  const int64_t taps = isKnown(w[2]) && isKnown(w[3]) ? w[2] * w[3] : kUnknownDim;
  auto check = [&](int input, int64_t per_tap, const char* what) {
    const Shape& s = ctx.inputShape(input);
    if (ctx.inputType(input) != ctx.inputType(0)) ctx.fail(std::string(what) + " must have X's type");
    const bool ok = s.size() == 4 && (!isKnown(taps) || !isKnown(s[1]) || s[1] == offset_group * per_tap * taps) &&
                    (!isKnown(s[2]) || !isKnown(y[2]) || s[2] == y[2]) &&
                    (!isKnown(s[3]) || !isKnown(y[3]) || s[3] == y[3]);
    if (!ok) ctx.fail(std::string(what) + " of shape " + toString(s) + " does not match output " + toString(y));
  };
  check(2, 2, "offset");
  if (ctx.hasInput(4)) check(4, 1, "mask");
  ctx.setOutput(0, ctx.inputType(0), y);
}

KILN_REGISTER_OP({.name = "Conv", .min_inputs = 2, .max_inputs = 3, .infer = inferConv});
KILN_REGISTER_OP({.name = "DeformConv", .min_inputs = 3, .max_inputs = 5, .since_opset = 19, .infer = inferDeformConv});
KILN_REGISTER_OP(
    {.name = "ConvInteger", .min_inputs = 2, .max_inputs = 4, .since_opset = 10, .infer = inferConvInteger});
KILN_REGISTER_OP({.name = "ConvTranspose", .min_inputs = 2, .max_inputs = 3, .infer = inferConvTranspose});
KILN_REGISTER_OP({.name = "FusedConv", .min_inputs = 2, .max_inputs = 4, .infer = inferFusedConv});

}  // namespace

ConvEpilogue convEpilogue(const Attributes& attrs) {
  ConvEpilogue e;
  const std::string name = attrs.s("activation", "none");
  if (name == "none") e.activation = ConvActivation::kNone;
  else if (name == "relu") e.activation = ConvActivation::kRelu;
  else if (name == "clip") e.activation = ConvActivation::kClip;
  else if (name == "silu") e.activation = ConvActivation::kSilu;
  else if (name == "hardswish") e.activation = ConvActivation::kHardSwish;
  else if (name == "sigmoid") e.activation = ConvActivation::kSigmoid;
  else
    throw Error(ErrorCode::kInvalidModel, attrs.owner + ": unknown activation '" + name +
                                              "' (expected none, relu, clip, silu, hardswish or sigmoid)");
  if (e.activation == ConvActivation::kClip) {
    e.min = attrs.f("min", e.min);
    e.max = attrs.f("max", e.max);
  }
  return e;
}

bool convChannelsLast(const Attributes& attrs) {
  const std::string layout = attrs.s("layout", "NCHW");
  if (layout == "NCHW") return false;
  if (layout == "NHWC") return true;
  throw Error(ErrorCode::kInvalidModel, attrs.owner + ": unknown layout '" + layout + "' (expected NCHW or NHWC)");
}

const char* activationName(ConvActivation activation) {
  switch (activation) {
    case ConvActivation::kRelu: return "relu";
    case ConvActivation::kClip: return "clip";
    case ConvActivation::kSilu: return "silu";
    case ConvActivation::kHardSwish: return "hardswish";
    case ConvActivation::kSigmoid: return "sigmoid";
    case ConvActivation::kNone: break;
  }
  return "none";
}
}  // namespace kiln::ir
