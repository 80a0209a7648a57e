// Reference kernels of Cast, CastLike, Identity and Dropout (inference form).
#include <algorithm>
#include <cstring>

#include "backends/cpu/reference.h"

namespace kiln::cpu {
namespace {

// The output was allocated with the target type; ir::Tensor::cast holds the ONNX conversion
// rules (float -> int truncates toward zero, x -> bool is x != 0).
void castToOutput(KernelContext& ctx) {
  ir::Tensor& out = ctx.out(0);
  const ir::Tensor& in = ctx.in(0);
  if (in.type() == out.type()) {
    std::memcpy(out.raw(), in.raw(), in.byteSize());
    return;
  }
  ir::Tensor converted = in.cast(out.type());
  std::memcpy(out.raw(), converted.raw(), converted.byteSize());
}

KILN_REFERENCE_KERNEL(Cast, castToOutput);
KILN_REFERENCE_KERNEL(CastLike, castToOutput);

KILN_REFERENCE_KERNEL(Identity,
                      [](KernelContext& ctx) { std::memcpy(ctx.out(0).raw(), ctx.in(0).raw(), ctx.in(0).byteSize()); });

// Dropout: inference, or training with ratio 0 (nothing dropped, scale 1); random dropout is
// not implemented.
KILN_REFERENCE_KERNEL(Dropout, [](KernelContext& ctx) {
  const bool training = ctx.has(2) && ctx.in(2).numel() == 1 && ctx.in(2).at(0) != 0.0;
  const double ratio = ctx.has(1) && ctx.in(1).numel() == 1 ? ctx.in(1).at(0) : 0.5;
  if (training && ratio != 0.0)
    ctx.unsupported("training_mode = true with a ratio above 0 (random dropout) is not supported");
  std::memcpy(ctx.out(0).raw(), ctx.in(0).raw(), ctx.in(0).byteSize());
  if (ctx.wants(1)) {
    auto mask = ctx.out(1).values<bool>();
    std::fill(mask.begin(), mask.end(), true);
  }
});

}  // namespace
}  // namespace kiln::cpu
