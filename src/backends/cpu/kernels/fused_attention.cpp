// Reference kernel of FusedAttention (see src/ir/ops/fused_attention.cpp): per query row the
// scores, softmax and weighted sum of values in double, max subtracted first.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/attention_geometry.h"

namespace kiln::cpu {
namespace {

void fusedAttention(KernelContext& ctx) {
  const bool has_mask = ctx.has(3);
  const ir::Shape* mask_shape = has_mask ? &ctx.in(3).shape() : nullptr;
  const ir::AttentionGeometry g = ir::attentionGeometry(ctx.attrs(), ctx.in(0).shape(), ctx.in(1).shape(),
                                                        ctx.in(2).shape(), ctx.out(0).shape(), mask_shape);
  const double scale = ctx.attrs().f("scale", 1.0f);
  const bool causal = ctx.attrs().i("causal", 0) != 0;
  const bool zero_masked_rows = ctx.attrs().i("zero_masked_rows", 0) != 0;
  const bool bool_mask = has_mask && ctx.in(3).type() == DataType::kBOOL;
  const std::vector<double> mask = has_mask ? ctx.in(3).toDouble() : std::vector<double>{};
  constexpr double kInf = std::numeric_limits<double>::infinity();

  ir::dispatchFloat(ctx.in(0).type(), [&]<typename T>() {
    const T* q = ctx.in(0).values<T>().data();
    const T* k = ctx.in(1).values<T>().data();
    const T* v = ctx.in(2).values<T>().data();
    T* out = ctx.out(0).values<T>().data();
    std::vector<double> scores(static_cast<size_t>(g.kv_len));
    std::vector<double> acc(static_cast<size_t>(g.value_dim));
    for (int64_t b = 0; b < g.batch; ++b)
      for (int64_t h = 0; h < g.heads; ++h)
        for (int64_t i = 0; i < g.q_len; ++i) {
          const T* qi = q + b * g.q[0] + h * g.q[1] + i * g.q[2];
          double max = -kInf;
          for (int64_t j = 0; j < g.kv_len; ++j) {
            const T* kj = k + b * g.k[0] + h * g.k[1] + j * g.k[2];
            double dot = 0;
            for (int64_t d = 0; d < g.head_dim; ++d)
              dot += static_cast<double>(qi[d * g.q[3]]) * static_cast<double>(kj[d * g.k[3]]);
            double s = scale * dot;
            if (has_mask) {
              const double m = mask[b * g.mask[0] + h * g.mask[1] + i * g.mask[2] + j * g.mask[3]];
              s = bool_mask ? (m != 0 ? s : -kInf) : s + m;
            }
            if (causal && j > i + (g.kv_len - g.q_len)) s = -kInf;
            scores[j] = s;
            if (s > max) max = s;
          }
          T* oi = out + b * g.out[0] + h * g.out[1] + i * g.out[2];
          if (max == -kInf) {  // every key masked: softmax is 0/0
            const double fill = zero_masked_rows ? 0.0 : std::numeric_limits<double>::quiet_NaN();
            for (int64_t e = 0; e < g.value_dim; ++e) oi[e * g.out[3]] = static_cast<T>(fill);
            continue;
          }
          double sum = 0;
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t j = 0; j < g.kv_len; ++j) {
            const double p = std::exp(scores[j] - max);
            sum += p;
            const T* vj = v + b * g.v[0] + h * g.v[1] + j * g.v[2];
            for (int64_t e = 0; e < g.value_dim; ++e) acc[e] += p * static_cast<double>(vj[e * g.v[3]]);
          }
          for (int64_t e = 0; e < g.value_dim; ++e) oi[e * g.out[3]] = static_cast<T>(acc[e] / sum);
        }
  });
}

KILN_REFERENCE_KERNEL(FusedAttention, fusedAttention);

}  // namespace
}  // namespace kiln::cpu
