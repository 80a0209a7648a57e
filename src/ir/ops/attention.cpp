// Shape rule of the ONNX Attention operator (opset 23; 24 adds the input nonpad_kv_seqlen).
//
// Q, K, V are 4-D [B, H, S, D] or, with q_num_heads and kv_num_heads, 3-D [B, S, H * D].
// Inputs: Q, K, V, attn_mask (bool: true takes part; float: added to the scores; its last dim
// may be shorter than the keys, the rest being masked), past_key / past_value ([B, Hkv, P, D],
// prepended to K / V), nonpad_kv_seqlen ([B] int64: keys at or past it are masked).
// Outputs: Y ([B, Hq, Sq, Dv] or [B, Sq, Hq * Dv]), present_key / present_value
// ([B, Hkv, P + Skv, D]) and qk_matmul_output ([B, Hq, Sq, P + Skv]; which stage it shows is
// qk_matmul_output_mode). Query heads share key/value heads in groups (Hq % Hkv == 0).
// Attention-25 adds left_window_size / right_window_size: a query at position p = i + offset
// (the causal offset) sees keys p - left <= j <= p + right, -1 leaving a side unbounded.
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

//! dims[0..3] = batch, heads, sequence, head size of Q, K or V as 4-D (3-D split by `heads`).
Shape asHeads(InferContext& ctx, int i, int64_t heads, const char* name) {
  const Shape& s = ctx.inputShape(i);
  if (s.size() == 4) return s;
  if (isKnown(s[2]) && s[2] % heads != 0)
    ctx.fail(std::string(name) + " hidden size " + std::to_string(s[2]) + " does not divide into " +
             std::to_string(heads) + " heads");
  return {s[0], heads, s[1], isKnown(s[2]) ? s[2] / heads : kUnknownDim};
}

//! Fails when both dims are known and differ.
void requireSame(const InferContext& ctx, int64_t a, int64_t b, const std::string& what) {
  if (isKnown(a) && isKnown(b) && a != b)
    ctx.fail(what + " differ (" + std::to_string(a) + " vs " + std::to_string(b) + ")");
}

int64_t sum(int64_t a, int64_t b) { return isKnown(a) && isKnown(b) ? a + b : kUnknownDim; }

void inferAttention(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type)) ctx.unsupported("data type " + std::string(toString(type)) + " is not supported");
  const int64_t rank = ctx.inputRank(0);
  if (rank != 3 && rank != 4) ctx.fail("Q must be 3-D or 4-D, got " + toString(ctx.inputShape(0)));
  for (int i = 1; i <= 2; ++i) {
    if (ctx.inputRank(i) != rank) ctx.fail("Q, K and V must have the same rank");
    if (ctx.inputType(i) != type) ctx.fail("Q, K and V must have the same type");
  }
  for (const char* window : {"left_window_size", "right_window_size"})
    if (ctx.attrs().i(window, -1) < -1) ctx.fail(std::string(window) + " must be -1 (no bound) or >= 0");
  int64_t q_heads = ctx.attrs().i("q_num_heads", 0), kv_heads = ctx.attrs().i("kv_num_heads", 0);
  if (rank == 3 && (q_heads < 1 || kv_heads < 1)) ctx.fail("3-D Q, K, V need q_num_heads and kv_num_heads >= 1");
  const Shape q = asHeads(ctx, 0, q_heads, "Q"), k = asHeads(ctx, 1, kv_heads, "K"), v = asHeads(ctx, 2, kv_heads, "V");
  q_heads = q[1];
  kv_heads = k[1];
  requireSame(ctx, q[0], k[0], "the batch sizes of Q and K");
  requireSame(ctx, k[0], v[0], "the batch sizes of K and V");
  requireSame(ctx, q[3], k[3], "the head sizes of Q and K");
  requireSame(ctx, k[1], v[1], "the head counts of K and V");
  requireSame(ctx, k[2], v[2], "the sequence lengths of K and V");
  if (isKnown(q_heads) && isKnown(kv_heads) && (kv_heads < 1 || q_heads % kv_heads != 0))
    ctx.fail(std::to_string(q_heads) + " query heads do not group over " + std::to_string(kv_heads) +
             " key/value heads");
  const int64_t mode = ctx.attrs().i("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) ctx.fail("qk_matmul_output_mode must be 0 to 3, got " + std::to_string(mode));

  int64_t past = 0;
  if (ctx.hasInput(4) != ctx.hasInput(5)) ctx.fail("past_key and past_value come together");
  if (ctx.hasInput(4)) {
    const Shape& pk = ctx.inputShape(4);
    const Shape& pv = ctx.inputShape(5);
    if (pk.size() != 4 || pv.size() != 4) ctx.fail("past_key and past_value must be 4-D [B, Hkv, P, D]");
    if (ctx.inputType(4) != type || ctx.inputType(5) != type) ctx.fail("past_key and past_value must have Q's type");
    requireSame(ctx, pk[1], kv_heads, "the head counts of past_key and K");
    requireSame(ctx, pk[3], k[3], "the head sizes of past_key and K");
    requireSame(ctx, pv[3], v[3], "the head sizes of past_value and V");
    requireSame(ctx, pk[2], pv[2], "the sequence lengths of past_key and past_value");
    past = pk[2];
  }
  const int64_t total = sum(past, k[2]);
  if (ctx.hasInput(3)) {
    const Shape& m = ctx.inputShape(3);
    if (ctx.inputType(3) != DataType::kBOOL && ctx.inputType(3) != type)
      ctx.fail("attn_mask must be bool or have Q's type");
    if (m.empty() || m.size() > 4) ctx.fail("attn_mask must have rank 1 to 4, got " + toString(m));
    if (isKnown(m.back()) && isKnown(total) && m.back() > total)
      ctx.fail("attn_mask has " + std::to_string(m.back()) + " key columns for " + std::to_string(total) + " keys");
  }
  if (ctx.hasInput(6)) {
    if (ctx.inputType(6) != DataType::kINT64 || ctx.inputRank(6) != 1)
      ctx.fail("nonpad_kv_seqlen must be 1-D int64 [B]");
    if (ctx.hasInput(4)) ctx.fail("nonpad_kv_seqlen cannot be used with past_key and past_value");
  }
  if (rank == 4) ctx.setOutput(0, type, {q[0], q[1], q[2], v[3]});
  else ctx.setOutput(0, type, {q[0], q[2], isKnown(q_heads) && isKnown(v[3]) ? q_heads * v[3] : kUnknownDim});
  if (ctx.hasOutput(1)) ctx.setOutput(1, type, {k[0], k[1], total, k[3]});
  if (ctx.hasOutput(2)) ctx.setOutput(2, type, {v[0], v[1], total, v[3]});
  if (ctx.hasOutput(3)) ctx.setOutput(3, type, {q[0], q[1], q[2], total});
}

KILN_REGISTER_OP({.name = "Attention",
                  .min_inputs = 3,
                  .max_inputs = 7,
                  .max_outputs = 4,
                  .since_opset = 23,
                  .infer = inferAttention});

}  // namespace
}  // namespace kiln::ir
