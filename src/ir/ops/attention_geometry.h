// The geometry of a FusedAttention layer (see fused_attention.cpp) at concrete shapes: batch,
// heads, sequence lengths and head sizes, and each tensor's element strides per logical
// dimension [b, h, s, d]. Shared by the CPU reference kernel and the GPU tactics, so that
// "bhsd" / "bshd" and mask broadcasting are decoded in one place.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace kiln::ir {

//! Element strides of one tensor along the logical dims [b, h, s, d] (for the mask: [b, h, i, j],
//! 0 along a broadcast dim).
using AttentionStrides = std::array<int64_t, 4>;

struct AttentionGeometry {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  AttentionStrides q{}, k{}, v{}, out{}, mask{};
  bool has_mask = false;
};

//! True for "bshd" ([B,S,H,D]), false for "bhsd" ([B,H,S,D]); anything else is an error.
inline bool attentionLayoutIsBshd(const Attributes& attrs, const char* name) {
  const std::string layout = attrs.s(name, "bhsd");
  if (layout == "bshd") return true;
  if (layout != "bhsd")
    throw Error(ErrorCode::kInvalidModel,
                attrs.owner + ": " + name + " must be \"bhsd\" or \"bshd\", not \"" + layout + "\"");
  return false;
}

//! [b, h, s, d] strides of a contiguous rank-4 tensor stored in the given layout.
inline AttentionStrides attentionStrides(const Shape& s, bool bshd) {
  const int64_t d = 1, inner = s[3], outer = s[2] * s[3];
  // bhsd: [B,H,S,D]; bshd: [B,S,H,D].
  return bshd ? AttentionStrides{s[1] * outer, inner, outer, d} : AttentionStrides{s[1] * outer, outer, inner, d};
}

//! Logical [b, h, s, d] extents of a rank-4 tensor stored in the given layout.
inline std::array<int64_t, 4> attentionDims(const Shape& s, bool bshd) {
  return bshd ? std::array<int64_t, 4>{s[0], s[2], s[1], s[3]} : std::array<int64_t, 4>{s[0], s[1], s[2], s[3]};
}

//! The geometry at concrete shapes (all dims known): q, k, v and out shapes, and the mask's
//! shape when `mask` is non-null (right-aligned against [B, H, Sq, Skv]; size-1 dims broadcast).
inline AttentionGeometry attentionGeometry(const Attributes& attrs, const Shape& q, const Shape& k, const Shape& v,
                                           const Shape& out, const Shape* mask) {
  const bool q_bshd = attentionLayoutIsBshd(attrs, "q_layout"), k_bshd = attentionLayoutIsBshd(attrs, "k_layout");
  const bool v_bshd = attentionLayoutIsBshd(attrs, "v_layout"), o_bshd = attentionLayoutIsBshd(attrs, "out_layout");
  AttentionGeometry g;
  const auto qd = attentionDims(q, q_bshd), kd = attentionDims(k, k_bshd), vd = attentionDims(v, v_bshd);
  g.batch = qd[0], g.heads = qd[1], g.q_len = qd[2], g.head_dim = qd[3];
  g.kv_len = kd[2], g.value_dim = vd[3];
  g.q = attentionStrides(q, q_bshd), g.k = attentionStrides(k, k_bshd), g.v = attentionStrides(v, v_bshd);
  g.out = attentionStrides(out, o_bshd);
  if (mask) {
    g.has_mask = true;
    const int64_t full[4] = {g.batch, g.heads, g.q_len, g.kv_len};
    const int64_t rank = static_cast<int64_t>(mask->size());
    int64_t stride = 1;
    for (int64_t d = 3; d >= 0; --d) {
      const int64_t m = d - (4 - rank);  // the mask's own dim, or < 0 when the mask has none here
      const int64_t extent = m >= 0 ? (*mask)[m] : 1;
      g.mask[d] = extent == 1 && full[d] != 1 ? 0 : stride;
      stride *= extent;
    }
  }
  return g;
}

}  // namespace kiln::ir
