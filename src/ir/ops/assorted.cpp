// Shape rules of operators that stand alone: Shrink, SwiGLU (opset 28), LpNormalization,
// EyeLike, ReverseSequence, Det, CausalConvWithState and LinearAttention (opset 27),
// TensorScatter (opset 24), RoiAlign, Col2Im (opset 18) and TfIdfVectorizer. Their reference
// kernels are in
// backends/cpu/kernels/assorted.cpp.
#include <algorithm>

#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

void requireFloat(InferContext& ctx, int input, const char* what) {
  if (!isFloatingPoint(ctx.inputType(input)))
    ctx.fail(std::string(what) + " must be floating-point, got " + std::string(toString(ctx.inputType(input))));
}

// Shrink-9: y = x + bias below -lambd, x - bias above lambd, 0 between; any numeric type.
void inferShrink(InferContext& ctx) {
  if (ctx.inputType(0) == DataType::kBOOL) ctx.fail("expects a numeric input, got bool");
  if (ctx.attrs().f("lambd", 0.5f) < 0) ctx.fail("lambd must be >= 0");
  inferSameAsInput0(ctx);
}

// SwiGLU-28: Y = Swish(A, alpha) * B = A * sigmoid(alpha * A) * B, A and B broadcasting.
void inferSwiGlu(InferContext& ctx) {
  requireFloat(ctx, 0, "A");
  if (ctx.inputType(1) != ctx.inputType(0)) ctx.fail("B must have the type of A");
  ctx.setOutput(0, ctx.inputType(0), broadcastShapes(ctx, ctx.inputShape(0), ctx.inputShape(1)));
}

// LpNormalization-1/22: X / ||X||_p along `axis` (p 1 or 2).
void inferLpNormalization(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const int64_t p = ctx.attrs().i("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p));
  ctx.normalizeAxis(ctx.attrs().i("axis", -1), ctx.inputRank(0));
  inferSameAsInput0(ctx);
}

// EyeLike-9/22: a 2-D tensor of the input's shape with ones on diagonal k, of type `dtype` (the
// input's type when absent).
void inferEyeLike(InferContext& ctx) {
  if (ctx.inputRank(0) != 2) ctx.fail("input must be 2-D, got " + toString(ctx.inputShape(0)));
  const DataType type =
      ctx.attrs().has("dtype") ? typeAttribute(ctx, "dtype", ctx.attrs().i("dtype")) : ctx.inputType(0);
  ctx.setOutput(0, type, ctx.inputShape(0));
}

// ReverseSequence-10: reverses the first sequence_lens[b] entries along time_axis of each batch
// entry b along batch_axis (the axes 0 and 1, one of each).
void inferReverseSequence(InferContext& ctx) {
  const int64_t batch_axis = ctx.attrs().i("batch_axis", 1), time_axis = ctx.attrs().i("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    ctx.fail("batch_axis and time_axis must be 0 and 1 (one each)");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("input must have rank >= 2, got " + toString(x));
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("sequence_lens must be int64");
  const Shape& lens = ctx.inputShape(1);
  if (lens.size() != 1 || (isKnown(lens[0]) && isKnown(x[batch_axis]) && lens[0] != x[batch_axis]))
    ctx.fail("sequence_lens of shape " + toString(lens) + " does not have one entry per batch entry of " + toString(x));
  inferSameAsInput0(ctx);
}

// Det-11/22: the determinant of each square matrix of the last two dims: [*, M, M] -> [*].
void inferDet(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.inputShape(0);
  if (x.size() < 2) ctx.fail("input must have rank >= 2, got " + toString(x));
  const int64_t m = x[x.size() - 2], n = x.back();
  if (isKnown(m) && isKnown(n) && m != n) ctx.fail("matrices must be square, got " + toString(x));
  ctx.setOutput(0, ctx.inputType(0), Shape(x.begin(), x.end() - 2));
}

// CausalConvWithState-27: a causal depthwise 1-D convolution that carries state. input
// [B, C, L], weight [C, 1, K], optional bias [C] and past_state [B, C, K - 1] (zeros when
// absent) -> output [B, C, L] and present_state [B, C, K - 1], the last K - 1 positions of
// past_state followed by input.
void inferCausalConvWithState(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.inputShape(0);
  const Shape& w = ctx.inputShape(1);
  if (x.size() != 3) ctx.fail("input must be [batch, channels, length], got " + toString(x));
  if (w.size() != 3 || (isKnown(w[1]) && w[1] != 1) || (isKnown(w[0]) && isKnown(x[1]) && w[0] != x[1]))
    ctx.fail("weight must be [channels, 1, k] for input " + toString(x) + ", got " + toString(w));
  for (int i = 1; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i) && ctx.inputType(i) != ctx.inputType(0)) ctx.fail("inputs must all have the type of input");
  const int64_t state = isKnown(w[2]) ? w[2] - 1 : kUnknownDim;
  if (isKnown(w[2]) && w[2] < 1) ctx.fail("the kernel size must be >= 1, got " + toString(w));
  if (ctx.hasInput(2) && (ctx.inputRank(2) != 1)) ctx.fail("bias must be [channels]");
  if (ctx.hasInput(3)) {
    const Shape& past = ctx.inputShape(3);
    if (past.size() != 3 || (isKnown(past[2]) && isKnown(state) && past[2] != state))
      ctx.fail("past_state must be [batch, channels, k - 1], got " + toString(past));
  }
  const std::string act = ctx.attrs().s("activation", "none");
  if (act != "none" && act != "silu" && act != "swish")
    ctx.fail("activation must be \"none\", \"silu\" or \"swish\", got \"" + act + "\"");
  ctx.setOutput(0, ctx.inputType(0), x);
  if (ctx.hasOutput(1)) ctx.setOutput(1, ctx.inputType(0), {x[0], x[1], state});
}

// LinearAttention-27: query [B, T, Hq * dk], key [B, T, Hkv * dk], value [B, T, Hkv * dv],
// optional past_state [B, Hkv, dk, dv], decay [B, T, Hkv * dk] or [B, T, Hkv] (gated rules),
// beta [B, T, Hkv] or [B, T, 1] (delta rules) -> output [B, T, Hq * dv] and present_state
// [B, Hkv, dk, dv].
void inferLinearAttention(InferContext& ctx) {
  requireFloat(ctx, 0, "query");
  const int64_t hq = ctx.attrs().i("q_num_heads", 0), hkv = ctx.attrs().i("kv_num_heads", 0);
  if (hq < 1 || hkv < 1 || hq % hkv != 0)
    ctx.fail("q_num_heads must be a positive multiple of kv_num_heads, got " + std::to_string(hq) + " and " +
             std::to_string(hkv));
  const std::string rule = ctx.attrs().s("update_rule", "gated_delta");
  const bool gated = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta";
  if (!gated && !delta && rule != "linear")
    ctx.fail("update_rule must be linear, gated, delta or gated_delta, got \"" + rule + "\"");
  const Shape& q = ctx.inputShape(0);
  const Shape& k = ctx.inputShape(1);
  const Shape& v = ctx.inputShape(2);
  for (const Shape* s : {&q, &k, &v})
    if (s->size() != 3) ctx.fail("query, key and value must be [batch, time, heads * size]");
  for (int i = 1; i < 3; ++i)
    if (ctx.inputType(i) != ctx.inputType(0)) ctx.fail("key and value must have the type of query");
  if ((gated && !ctx.hasInput(4)) || (delta && !ctx.hasInput(5)))
    ctx.fail("update_rule " + rule + " needs " + (gated && !ctx.hasInput(4) ? "decay" : "beta"));
  if (!isKnown(q[2]) || !isKnown(k[2]) || !isKnown(v[2]))
    ctx.unsupported("the head sizes must be known (" + toString(q) + ", " + toString(k) + ", " + toString(v) + ")");
  if (q[2] % hq != 0 || k[2] % hkv != 0 || v[2] % hkv != 0 || q[2] / hq != k[2] / hkv)
    ctx.fail("query " + toString(q) + ", key " + toString(k) + " and value " + toString(v) + " do not split into " +
             std::to_string(hq) + " and " + std::to_string(hkv) + " heads of one key size");
  const int64_t dk = k[2] / hkv, dv = v[2] / hkv;
  if (ctx.hasInput(4)) {
    const Shape& d = ctx.inputShape(4);
    if (d.size() != 3 || (isKnown(d[2]) && d[2] != hkv * dk && d[2] != hkv))
      ctx.fail("decay must be [batch, time, kv_num_heads * key size] or [batch, time, kv_num_heads], got " +
               toString(d));
  }
  if (ctx.hasInput(5)) {
    const Shape& b = ctx.inputShape(5);
    if (b.size() != 3 || (isKnown(b[2]) && b[2] != hkv && b[2] != 1))
      ctx.fail("beta must be [batch, time, kv_num_heads] or [batch, time, 1], got " + toString(b));
  }
  const DataType state_type = ctx.hasInput(3) ? ctx.inputType(3) : ctx.inputType(0);
  if (ctx.hasInput(3)) {
    const Shape& p = ctx.inputShape(3);
    if (p.size() != 4 || (isKnown(p[1]) && p[1] != hkv) || (isKnown(p[2]) && p[2] != dk) ||
        (isKnown(p[3]) && p[3] != dv))
      ctx.fail("past_state must be [batch, kv_num_heads, key size, value size], got " + toString(p));
  }
  ctx.setOutput(0, ctx.inputType(0), {q[0], q[1], hq * dv});
  if (ctx.hasOutput(1)) ctx.setOutput(1, state_type, {q[0], hkv, dk, dv});
}

// TensorScatter-24: present_cache = past_cache with `update` written along `axis` (default -2)
// from write_indices[b] (0 when absent) on, wrapping around in mode "circular".
void inferTensorScatter(InferContext& ctx) {
  const Shape& past = ctx.inputShape(0);
  const Shape& update = ctx.inputShape(1);
  const int64_t rank = static_cast<int64_t>(past.size());
  const int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", -2), rank);
  if (axis == 0) ctx.fail("axis must not be the batch axis");
  if (ctx.inputType(1) != ctx.inputType(0)) ctx.fail("update must have the type of past_cache");
  bool fits = update.size() == past.size();
  for (int64_t d = 0; fits && d < rank; ++d)
    if (isKnown(update[d]) && isKnown(past[d])) fits = d == axis ? update[d] <= past[d] : update[d] == past[d];
  if (!fits)
    ctx.fail("update " + toString(update) + " does not fit past_cache " + toString(past) + " along axis " +
             std::to_string(axis));
  if (ctx.hasInput(2) && (ctx.inputType(2) != DataType::kINT64 || ctx.inputRank(2) != 1))
    ctx.fail("write_indices must be int64 [batch]");
  const std::string mode = ctx.attrs().s("mode", "linear");
  if (mode != "linear" && mode != "circular") ctx.fail("mode must be linear or circular, got \"" + mode + "\"");
  inferSameAsInput0(ctx);
}

// RoiAlign-16: X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2), batch_indices [R] ->
// [R, C, output_height, output_width].
void inferRoiAlign(InferContext& ctx) {
  requireFloat(ctx, 0, "X");
  const Shape& x = ctx.inputShape(0);
  if (x.size() != 4) ctx.fail("X must be [N, C, H, W], got " + toString(x));
  const Shape& rois = ctx.inputShape(1);
  if (rois.size() != 2 || (isKnown(rois[1]) && rois[1] != 4)) ctx.fail("rois must be [num_rois, 4]");
  if (ctx.inputType(1) != ctx.inputType(0)) ctx.fail("rois must have the type of X");
  if (ctx.inputRank(2) != 1 || (ctx.inputType(2) != DataType::kINT64 && ctx.inputType(2) != DataType::kINT32))
    ctx.fail("batch_indices must be int64 or int32 [num_rois]");
  const std::string mode = ctx.attrs().s("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail("mode must be avg or max");
  const std::string ct = ctx.attrs().s("coordinate_transformation_mode", "half_pixel");
  if (ct != "half_pixel" && ct != "output_half_pixel")
    ctx.fail("coordinate_transformation_mode must be half_pixel or output_half_pixel");
  const int64_t oh = ctx.attrs().i("output_height", 1), ow = ctx.attrs().i("output_width", 1);
  if (oh < 1 || ow < 1) ctx.fail("output_height and output_width must be >= 1");
  ctx.setOutput(0, ctx.inputType(0), {rois[0], x[1], oh, ow});
}

// Col2Im-18: input [N, C * prod(block_shape), L] with image_shape and block_shape (int64, one
// per spatial dim; shape inputs when not constant) -> [N, C, image_shape...].
void inferCol2Im(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.inputShape(0);
  if (x.size() != 3) ctx.fail("input must be [N, C * prod(block_shape), L], got " + toString(x));
  for (int i = 1; i <= 2; ++i)
    if (ctx.inputType(i) != DataType::kINT64 || ctx.inputRank(i) != 1)
      ctx.fail("image_shape and block_shape must be 1-D int64");
  const int64_t dims = ctx.inputShape(1)[0];
  if (!isKnown(dims) || dims < 1) ctx.unsupported("the number of spatial dims must be known");
  const Tensor* image = ctx.inputValue(1);
  const Tensor* block = ctx.inputValue(2);
  Shape y{x[0], kUnknownDim};
  if (block && isKnown(x[1])) {
    int64_t volume = 1;
    for (int64_t b : block->toInt64()) {
      if (b < 1) ctx.fail("block_shape values must be >= 1");
      volume *= b;
    }
    if (x[1] % volume != 0) ctx.fail("input's dim 1 is not a multiple of prod(block_shape) " + std::to_string(volume));
    y[1] = x[1] / volume;
  }
  for (int64_t d = 0; d < dims; ++d) y.push_back(image ? image->toInt64()[d] : kUnknownDim);
  ctx.setOutput(0, ctx.inputType(0), y);
}

// TfIdfVectorizer-9: int32 / int64 token ids X [C] or [N, C] -> float [max(ngram_indexes) + 1]
// or [N, ...] (string pools are not supported: kiln stores no strings).
void inferTfIdfVectorizer(InferContext& ctx) {
  const DataType t = ctx.inputType(0);
  if (t != DataType::kINT32 && t != DataType::kINT64)
    ctx.unsupported("only int32 and int64 token ids are supported, got " + std::string(toString(t)));
  if (ctx.attrs().has("pool_strings")) ctx.unsupported("pool_strings is not supported");
  const Shape& x = ctx.inputShape(0);
  if (x.size() != 1 && x.size() != 2) ctx.fail("X must be [C] or [N, C], got " + toString(x));
  const std::string mode = ctx.attrs().s("mode", "TF");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF") ctx.fail("mode must be TF, IDF or TFIDF");
  const int64_t min_gram = ctx.attrs().i("min_gram_length", 1), max_gram = ctx.attrs().i("max_gram_length", 1);
  if (min_gram < 1 || max_gram < min_gram)
    ctx.fail("gram lengths must satisfy 1 <= min_gram_length <= max_gram_length");
  if (ctx.attrs().i("max_skip_count", 0) < 0) ctx.fail("max_skip_count must be >= 0");
  const std::vector<int64_t> indexes = ctx.attrs().ints("ngram_indexes", {});
  const std::vector<int64_t> counts = ctx.attrs().ints("ngram_counts", {});
  const std::vector<int64_t> pool = ctx.attrs().ints("pool_int64s", {});
  if (counts.empty() || static_cast<int64_t>(counts.size()) < max_gram)
    ctx.fail("ngram_counts needs one start per gram length");
  // The pool holds, per length n, (end - start) / n n-grams; ngram_indexes names each one's column.
  int64_t grams = 0;
  for (size_t n = 0; n < counts.size(); ++n) {
    const int64_t end = n + 1 < counts.size() ? counts[n + 1] : static_cast<int64_t>(pool.size());
    if (counts[n] < 0 || end < counts[n] || (end - counts[n]) % static_cast<int64_t>(n + 1) != 0)
      ctx.fail("ngram_counts does not split pool_int64s into whole n-grams");
    grams += (end - counts[n]) / static_cast<int64_t>(n + 1);
  }
  if (static_cast<int64_t>(indexes.size()) != grams)
    ctx.fail("ngram_indexes has " + std::to_string(indexes.size()) + " entries for " + std::to_string(grams) +
             " n-grams");
  int64_t width = 0;
  for (int64_t i : indexes) {
    if (i < 0) ctx.fail("ngram_indexes must be >= 0");
    width = std::max(width, i + 1);
  }
  const std::vector<float> weights = ctx.attrs().floats("weights", {});
  if (!weights.empty() && static_cast<int64_t>(weights.size()) != grams) ctx.fail("weights needs one value per n-gram");
  ctx.setOutput(0, DataType::kFLOAT, x.size() == 1 ? Shape{width} : Shape{x[0], width});
}

KILN_REGISTER_OP({.name = "Shrink", .infer = inferShrink});
KILN_REGISTER_OP({.name = "TfIdfVectorizer", .since_opset = 9, .infer = inferTfIdfVectorizer});
KILN_REGISTER_OP({.name = "Col2Im", .min_inputs = 3, .max_inputs = 3, .since_opset = 18, .infer = inferCol2Im});
KILN_REGISTER_OP(
    {.name = "TensorScatter", .min_inputs = 2, .max_inputs = 3, .since_opset = 24, .infer = inferTensorScatter});
KILN_REGISTER_OP({.name = "RoiAlign", .min_inputs = 3, .max_inputs = 3, .since_opset = 16, .infer = inferRoiAlign});
KILN_REGISTER_OP({.name = "LinearAttention",
                  .min_inputs = 3,
                  .max_inputs = 6,
                  .max_outputs = 2,
                  .since_opset = 27,
                  .infer = inferLinearAttention});
KILN_REGISTER_OP({.name = "CausalConvWithState",
                  .min_inputs = 2,
                  .max_inputs = 4,
                  .max_outputs = 2,
                  .since_opset = 27,
                  .infer = inferCausalConvWithState});
KILN_REGISTER_OP({.name = "SwiGLU", .min_inputs = 2, .max_inputs = 2, .since_opset = 28, .infer = inferSwiGlu});
KILN_REGISTER_OP({.name = "LpNormalization", .infer = inferLpNormalization});
KILN_REGISTER_OP({.name = "EyeLike", .infer = inferEyeLike});
KILN_REGISTER_OP(
    {.name = "ReverseSequence", .min_inputs = 2, .max_inputs = 2, .since_opset = 10, .infer = inferReverseSequence});
KILN_REGISTER_OP({.name = "Det", .since_opset = 11, .infer = inferDet});

}  // namespace
}  // namespace kiln::ir
