// Shape rule of RotaryEmbedding (opset 23): rotates pairs of each head's first
// rotary_embedding_dim features (all of them when 0) by angles given as cos/sin caches.
//
// X is [batch, heads, seq, head_size] or, with num_heads, [batch, seq, heads * head_size].
// With position_ids ([batch, seq], int64) the caches are tables [max_position + 1, >= dim / 2]
// indexed by position; without, they are [batch, seq, >= dim / 2]. Pairs are (i, i + dim / 2)
// or, with interleaved = 1, (2i, 2i + 1). The output has X's shape.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void inferRotaryEmbedding(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported("data type " + std::string(toString(type)) + " is not supported");
  const Shape& x = ctx.inputShape(0);
  if (x.size() != 3 && x.size() != 4) ctx.fail("X must be 3-D or 4-D, got " + toString(x));
  const int64_t num_heads = ctx.attrs().i("num_heads", 0);
  int64_t head_size = kUnknownDim;
  if (x.size() == 3) {
    if (num_heads < 1) ctx.fail("a 3-D X needs num_heads >= 1");
    if (isKnown(x[2]) && x[2] % num_heads != 0)
      ctx.fail("hidden size " + std::to_string(x[2]) + " does not divide into " + std::to_string(num_heads) + " heads");
    if (isKnown(x[2])) head_size = x[2] / num_heads;
  } else {
    head_size = x[3];
  }
  const int64_t dim = ctx.attrs().i("rotary_embedding_dim", 0);
  if (dim < 0 || dim % 2 != 0) ctx.fail("rotary_embedding_dim must be even and >= 0, got " + std::to_string(dim));
  if (dim > 0 && isKnown(head_size) && dim > head_size)
    ctx.fail("rotary_embedding_dim " + std::to_string(dim) + " exceeds the head size " + std::to_string(head_size));
  const int64_t rotated = dim > 0 ? dim : head_size;
  const bool by_position = ctx.hasInput(3);
  for (int i = 1; i <= 2; ++i) {
    const char* name = i == 1 ? "cos_cache" : "sin_cache";
    if (ctx.inputType(i) != type) ctx.fail(std::string(name) + " must have the type of X");
    const Shape& c = ctx.inputShape(i);
    if (c.size() != (by_position ? 2u : 3u))
      ctx.fail(std::string(name) + " must be " + (by_position ? "2-D with position_ids" : "3-D without position_ids") +
               ", got " + toString(c));
    if (isKnown(c.back()) && isKnown(rotated) && c.back() * 2 < rotated)
      ctx.fail(std::string(name) + " of shape " + toString(c) + " has fewer than " + std::to_string(rotated / 2) +
               " values per position");
  }
  if (by_position) {
    if (ctx.inputType(3) != DataType::kINT64) ctx.fail("position_ids must be int64");
    if (ctx.inputRank(3) != 2) ctx.fail("position_ids must be 2-D [batch, seq], got " + toString(ctx.inputShape(3)));
  }
  ctx.setOutput(0, type, x);
}

KILN_REGISTER_OP(
    {.name = "RotaryEmbedding", .min_inputs = 3, .max_inputs = 4, .since_opset = 23, .infer = inferRotaryEmbedding});

}  // namespace
}  // namespace kiln::ir
