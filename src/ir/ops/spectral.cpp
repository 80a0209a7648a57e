// Shape rules of DFT (opsets 17 to 19: axis an attribute; 20 on: an input) and STFT. Signals
// end in a dim of 1 (real) or 2 (complex: real, imaginary). The values that decide the output
// shape (dft_length, axis, STFT's frame_step and frame_length) leave it unknown until they are:
// constants, or shape inputs the builder gets per profile. Reference kernels: backends/cpu/kernels/spectral.cpp.
#include <optional>

#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void checkSignal(InferContext& ctx, const Shape& x, const char* what) {
  if (!isFloatingPoint(ctx.inputType(0)))
    ctx.fail(std::string(what) + " must be floating-point, got " + std::string(toString(ctx.inputType(0))));
  if (x.size() < 2 || (isKnown(x.back()) && x.back() != 1 && x.back() != 2))
    ctx.fail(std::string(what) + " must end in a dim of 1 (real) or 2 (complex), got " + toString(x));
}

//! The value of scalar input `input`, or nothing while it is not known (a shape input the
//! builder resolves per profile).
std::optional<int64_t> scalarValue(InferContext& ctx, int input, const char* what) {
  const Tensor* v = ctx.inputValue(input);
  if (!v) return std::nullopt;
  if (v->numel() != 1) ctx.fail(std::string(what) + " must be a scalar");
  return v->toInt64()[0];
}

void inferDft(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  checkSignal(ctx, x, "input");
  const int64_t rank = static_cast<int64_t>(x.size());
  const bool inverse = ctx.attrs().i("inverse", 0) != 0, onesided = ctx.attrs().i("onesided", 0) != 0;
  if (onesided && !inverse && isKnown(x.back()) && x.back() == 2) ctx.fail("onesided needs a real input");
  // The axis: the attribute (opset < 20, default 1) or input 2 (default -2), among the signal
  // dims (the last, complex dim excluded).
  std::optional<int64_t> axis = ctx.opset() < 20  ? ctx.attrs().i("axis", 1)
                                : ctx.hasInput(2) ? scalarValue(ctx, 2, "axis")
                                                  : std::optional<int64_t>(-2);
  Shape y = x;
  y.back() = inverse && onesided ? 1 : 2;
  const std::optional<int64_t> length = ctx.hasInput(1) ? scalarValue(ctx, 1, "dft_length") : std::nullopt;
  if (length.value_or(1) < 1) ctx.fail("dft_length must be >= 1");
  if (!axis || (ctx.hasInput(1) && !length)) {
    // Which dim changes, or to what, is known only with the values.
    for (int64_t d = 1; d < rank - 1; ++d) y[d] = kUnknownDim;
    ctx.setOutput(0, ctx.inputType(0), y);
    return;
  }
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  if (a < 0 || a >= rank - 1)
    ctx.fail("axis " + std::to_string(*axis) + " is not a signal axis of a rank-" + std::to_string(rank) + " input");
  int64_t n = length ? *length : x[a];
  if (!length && inverse && onesided && isKnown(n)) n = 2 * (n - 1);  // the full length of a one-sided spectrum
  y[a] = !isKnown(n) ? kUnknownDim : onesided && !inverse ? n / 2 + 1 : n;
  ctx.setOutput(0, ctx.inputType(0), y);
}

// STFT-17: signal [batch, length, 1 or 2], frame_step, optional window [frame_length] and
// frame_length -> [batch, frames, bins, 2], frames = (length - frame_length) / frame_step + 1,
// bins = frame_length / 2 + 1 when onesided (the default), else frame_length.
void inferStft(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  checkSignal(ctx, x, "signal");
  if (x.size() != 3) ctx.fail("signal must be [batch, length, 1 or 2], got " + toString(x));
  const bool onesided = ctx.attrs().i("onesided", 1) != 0;
  if (onesided && isKnown(x[2]) && x[2] == 2) ctx.fail("onesided needs a real signal");
  const std::optional<int64_t> step = scalarValue(ctx, 1, "frame_step");
  if (step && *step < 1) ctx.fail("frame_step must be >= 1");
  int64_t length = kUnknownDim;
  if (ctx.hasInput(2)) {
    const Shape& w = ctx.inputShape(2);
    if (w.size() != 1) ctx.fail("window must be 1-D");
    length = w[0];
  }
  if (ctx.hasInput(3)) {
    const std::optional<int64_t> given = scalarValue(ctx, 3, "frame_length");
    if (given && isKnown(length) && *given != length) ctx.fail("frame_length differs from the window's length");
    if (given) length = *given;
  } else if (!ctx.hasInput(2)) {
    ctx.fail("one of window and frame_length must give the frame length");
  }
  if (isKnown(length) && isKnown(x[1]) && x[1] < length) ctx.fail("the signal is shorter than one frame");
  const int64_t frames = step && isKnown(length) && isKnown(x[1]) ? (x[1] - length) / *step + 1 : kUnknownDim;
  const int64_t bins = !isKnown(length) ? kUnknownDim : onesided ? length / 2 + 1 : length;
  ctx.setOutput(0, ctx.inputType(0), {x[0], frames, bins, 2});
}

KILN_REGISTER_OP({.name = "DFT", .min_inputs = 1, .max_inputs = 3, .since_opset = 17, .infer = inferDft});
KILN_REGISTER_OP({.name = "STFT", .min_inputs = 2, .max_inputs = 4, .since_opset = 17, .infer = inferStft});

}  // namespace
}  // namespace kiln::ir
