// Reference kernel of the ONNX Attention operator (see src/ir/ops/attention.cpp), in double.
// Per batch b, query head h (key/value head h / (Hq / Hkv)), query i and key j of the
// P + Skv keys (past first):
//   s[i, j] = scale * q_i . k_j                 scale defaults to 1 / sqrt(head size)
//   s = softcap * tanh(s / softcap)             when softcap > 0
//   s += bias[i, j]                             attn_mask, causal and nonpad masks, -inf masked
//   y_i = softmax_j(s[i, :]) . V               a row with every key masked gives zeros
// Causal: key j takes part iff j <= i + offset, offset = P with a past, nonpad_kv_seqlen[b] - Sq
// with nonpad_kv_seqlen, else 0. The Attention-25 window bounds j to
// [i + offset - left_window_size, i + offset + right_window_size] (-1: that side unbounded).
// A row is fully masked, and gives zeros, when its bias is -inf at every key.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

constexpr double kMasked = -std::numeric_limits<double>::infinity();

//! A [B, H, S, D] view of Q, K, V (4-D) or of [B, S, H * D] (3-D) as doubles.
struct HeadView {
  std::vector<double> values;
  int64_t batch = 0, heads = 0, seq = 0, dim = 0;
  bool seq_first = false;  // the 3-D layout
  double at(int64_t b, int64_t h, int64_t s, int64_t d) const {
    return values[seq_first ? ((b * seq + s) * heads + h) * dim + d : ((b * heads + h) * seq + s) * dim + d];
  }
};

HeadView headView(const ir::Tensor& t, int64_t heads) {
  const ir::Shape& s = t.shape();
  if (s.size() == 4) return {t.toDouble(), s[0], s[1], s[2], s[3], false};
  return {t.toDouble(), s[0], heads, s[1], s[2] / heads, true};
}

void writeValues(ir::Tensor& out, const std::vector<double>& values) {
  ir::dispatchFloat(out.type(), [&]<typename T>() {
    T* dst = out.values<T>().data();
    for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<T>(values[i]);
  });
}

//! The attention mask broadcast to [B, H, Sq, columns]: value at (b, h, i, j), kMasked past its columns.
struct MaskView {
  std::vector<double> values;  // bool masks become 0 / kMasked
  std::vector<int64_t> strides = std::vector<int64_t>(4, 0);
  int64_t columns = 0;
  double at(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (j >= columns) return kMasked;
    return values[b * strides[0] + h * strides[1] + i * strides[2] + j * strides[3]];
  }
};

MaskView maskView(const ir::Tensor& m) {
  MaskView v;
  const ir::Shape& s = m.shape();
  if (m.type() == DataType::kBOOL) {
    const std::vector<int64_t> flags = m.toInt64();
    v.values.reserve(flags.size());
    for (int64_t f : flags) v.values.push_back(f != 0 ? 0.0 : kMasked);
  } else {
    v.values = m.toDouble();
  }
  v.columns = s.back();
  int64_t stride = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t d = s.size() - 1 - i, logical = 3 - i;  // right-aligned to [B, H, Sq, columns]
    v.strides[logical] = s[d] == 1 ? 0 : stride;
    stride *= s[d];
  }
  return v;
}

KILN_REFERENCE_KERNEL(Attention, [](KernelContext& ctx) {
  const ir::Attributes& attrs = ctx.attrs();
  const HeadView q = headView(ctx.in(0), attrs.i("q_num_heads", 0));
  const HeadView k = headView(ctx.in(1), attrs.i("kv_num_heads", 0));
  const HeadView v = headView(ctx.in(2), attrs.i("kv_num_heads", 0));
  const int64_t batch = q.batch, q_heads = q.heads, kv_heads = k.heads, q_len = q.seq, kv_len = k.seq;
  const int64_t dim = q.dim, v_dim = v.dim, group = q_heads / kv_heads;
  const bool has_past = ctx.has(4);
  const HeadView past_k = has_past ? headView(ctx.in(4), 0) : HeadView{};
  const HeadView past_v = has_past ? headView(ctx.in(5), 0) : HeadView{};
  const int64_t past = has_past ? past_k.seq : 0, total = past + kv_len;
  const double scale = attrs.has("scale") ? attrs.f("scale") : 1.0 / std::sqrt(static_cast<double>(dim));
  const double softcap = attrs.f("softcap", 0.0f);
  const bool causal = attrs.i("is_causal", 0) != 0;
  const int64_t mode = attrs.i("qk_matmul_output_mode", 0);
  const int64_t left = attrs.i("left_window_size", -1), right = attrs.i("right_window_size", -1);
  const MaskView mask = ctx.has(3) ? maskView(ctx.in(3)) : MaskView{};
  const std::vector<int64_t> nonpad = ctx.has(6) ? ctx.in(6).toInt64() : std::vector<int64_t>{};

  // present_key / present_value: [B, Hkv, total, D], past first.
  std::vector<double> keys(batch * kv_heads * total * dim), values(batch * kv_heads * total * v_dim);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < kv_heads; ++h)
      for (int64_t j = 0; j < total; ++j) {
        const int64_t row = (b * kv_heads + h) * total + j;
        for (int64_t d = 0; d < dim; ++d)
          keys[row * dim + d] = j < past ? past_k.at(b, h, j, d) : k.at(b, h, j - past, d);
        for (int64_t d = 0; d < v_dim; ++d)
          values[row * v_dim + d] = j < past ? past_v.at(b, h, j, d) : v.at(b, h, j - past, d);
      }

  std::vector<double> y(batch * q_heads * q_len * v_dim, 0.0), qk(batch * q_heads * q_len * total);
  std::vector<double> scores(total), probs(total);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t offset = has_past ? past : !nonpad.empty() ? nonpad[b] - q_len : 0;
    for (int64_t h = 0; h < q_heads; ++h) {
      const int64_t kvh = h / group;
      for (int64_t i = 0; i < q_len; ++i) {
        double* qk_row = qk.data() + ((b * q_heads + h) * q_len + i) * total;
        double top = kMasked;
        bool row_masked = true;
        for (int64_t j = 0; j < total; ++j) {
          const double* key = keys.data() + ((b * kv_heads + kvh) * total + j) * dim;
          double s = 0.0;
          for (int64_t d = 0; d < dim; ++d) s += q.at(b, h, i, d) * key[d];
          s *= scale;
          if (softcap > 0.0) s = softcap * std::tanh(s / softcap);
          double bias = ctx.has(3) ? mask.at(b, h, i, j) : 0.0;
          if (causal && j > i + offset) bias = kMasked;
          if (!nonpad.empty() && j >= nonpad[b]) bias = kMasked;
          const int64_t behind = i + offset - j;  // how far key j lies before the query's position
          if ((left >= 0 && behind > left) || (right >= 0 && -behind > right)) bias = kMasked;
          row_masked = row_masked && bias == kMasked;
          qk_row[j] = mode == 2 ? s + bias : s;
          scores[j] = s + bias;
          top = std::max(top, scores[j]);
        }
        // Every key masked: no probability anywhere (zeros, not NaN).
        double sum = 0.0;
        for (int64_t j = 0; j < total; ++j) {
          probs[j] = row_masked || top == kMasked ? 0.0 : std::exp(scores[j] - top);
          sum += probs[j];
        }
        for (int64_t j = 0; j < total; ++j) {
          if (sum > 0.0) probs[j] /= sum;
          if (mode == 3) qk_row[j] = probs[j];
        }
        double* out = y.data() + ((b * q_heads + h) * q_len + i) * v_dim;
        for (int64_t j = 0; j < total; ++j) {
          if (probs[j] == 0.0) continue;
          const double* value = values.data() + ((b * kv_heads + kvh) * total + j) * v_dim;
          for (int64_t d = 0; d < v_dim; ++d) out[d] += probs[j] * value[d];
        }
      }
    }
  }
  if (ctx.in(0).rank() == 3) {  // [B, Hq, Sq, Dv] -> [B, Sq, Hq * Dv]
    std::vector<double> t(y.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < q_heads; ++h)
        for (int64_t i = 0; i < q_len; ++i)
          for (int64_t d = 0; d < v_dim; ++d)
            t[((b * q_len + i) * q_heads + h) * v_dim + d] = y[((b * q_heads + h) * q_len + i) * v_dim + d];
    y.swap(t);
  }
  writeValues(ctx.out(0), y);
  if (ctx.wants(1)) writeValues(ctx.out(1), keys);
  if (ctx.wants(2)) writeValues(ctx.out(2), values);
  if (ctx.wants(3)) writeValues(ctx.out(3), qk);
});

}  // namespace
}  // namespace kiln::cpu
