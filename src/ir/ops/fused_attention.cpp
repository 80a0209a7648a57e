// Shape rule of FusedAttention (domain "kiln"): scaled-dot-product attention as one layer,
// written by the fuse_attention pass (src/passes/fuse_attention.cpp), never by an importer.
//
// Inputs: Q, K, V and an optional mask. Per batch b and head h:
//   scores = scale * Q[b,h] . K[b,h]^T                      [Sq, Skv]
//   scores += mask (float) | scores = -inf where !mask (bool)   mask broadcasts to [B,H,Sq,Skv]
//   scores[i, j] = -inf where causal and j > i + (Skv - Sq)
//   out[b,h] = softmax(scores, over Skv) . V[b,h]            [Sq, Dv]
// Attributes: q_layout, k_layout, v_layout, out_layout: "bhsd" ([B,H,S,D], default) or "bshd"
// ([B,S,H,D]), so that the head transposes exporters write are folded into addressing;
// scale (float, default 1); causal (int, 0); zero_masked_rows (int, 0): a query row whose keys
// are all masked gives zeros when 1 (the IsNaN/Where guard exporters put after Softmax) and
// NaN when 0 (what the plain Softmax gives).
#include "ir/op_schema.h"
#include "ir/ops/attention_geometry.h"

namespace kiln::ir {
namespace {

//! Fails naming the node when two dims are known (or symbolic) and provably different.
void requireSame(const InferContext& ctx, int64_t a, int64_t b, const std::string& what) {
  const bool comparable = (isKnown(a) && isKnown(b)) || (a <= kFirstSymbol && b <= kFirstSymbol);
  if (comparable && a != b) ctx.fail(what + " differ (" + std::to_string(a) + " vs " + std::to_string(b) + ")");
}

void inferFusedAttention(InferContext& ctx) {
  const DataType type = ctx.inputType(0);
  if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16 && type != DataType::kDOUBLE)
    ctx.unsupported("data type " + std::string(toString(type)) + " is not supported");
  const char* names[3] = {"Q", "K", "V"};
  const char* layouts[3] = {"q_layout", "k_layout", "v_layout"};
  std::array<int64_t, 4> dims[3];
  for (int i = 0; i < 3; ++i) {
    if (ctx.inputType(i) != type)
      ctx.fail(std::string(names[i]) + " has type " + std::string(toString(ctx.inputType(i))) + ", Q has " +
               std::string(toString(type)));
    if (ctx.inputRank(i) != 4)
      ctx.fail(std::string(names[i]) + " must have rank 4, not " + std::to_string(ctx.inputRank(i)));
    dims[i] = attentionDims(ctx.inputShape(i), attentionLayoutIsBshd(ctx.attrs(), layouts[i]));
  }
  for (int i = 1; i < 3; ++i) {
    requireSame(ctx, dims[0][0], dims[i][0], std::string("the batch sizes of Q and ") + names[i]);
    requireSame(ctx, dims[0][1], dims[i][1], std::string("the head counts of Q and ") + names[i]);
  }
  requireSame(ctx, dims[0][3], dims[1][3], "the head sizes of Q and K");
  requireSame(ctx, dims[1][2], dims[2][2], "the sequence lengths of K and V");
  const int64_t batch = mergeDims(mergeDims(dims[0][0], dims[1][0]), dims[2][0]);
  const int64_t heads = mergeDims(mergeDims(dims[0][1], dims[1][1]), dims[2][1]);
  const int64_t q_len = dims[0][2], kv_len = mergeDims(dims[1][2], dims[2][2]), value_dim = dims[2][3];

  if (ctx.hasInput(3)) {
    const DataType mask_type = ctx.inputType(3);
    if (mask_type != DataType::kBOOL && mask_type != type && mask_type != DataType::kFLOAT)
      ctx.fail("the mask must be bool, float32 or Q's type, not " + std::string(toString(mask_type)));
    const Shape& mask = ctx.inputShape(3);
    if (mask.size() > 4) ctx.fail("the mask must have rank <= 4, not " + std::to_string(mask.size()));
    const int64_t full[4] = {batch, heads, q_len, kv_len};
    const char* dim_names[4] = {"batch", "heads", "query length", "key length"};
    for (size_t m = 0; m < mask.size(); ++m) {
      const size_t d = m + 4 - mask.size();
      if (mask[m] != 1)
        requireSame(ctx, mask[m], full[d], std::string("the mask's ") + dim_names[d] + " (not 1) and the scores'");
    }
  }
  const Shape out = attentionLayoutIsBshd(ctx.attrs(), "out_layout") ? Shape{batch, q_len, heads, value_dim}
                                                                     : Shape{batch, heads, q_len, value_dim};
  ctx.setOutput(0, type, out);
}

KILN_REGISTER_OP({.name = "FusedAttention", .min_inputs = 3, .max_inputs = 4, .infer = inferFusedAttention});

}  // namespace
}  // namespace kiln::ir
