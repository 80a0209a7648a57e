// Reference kernel of RotaryEmbedding (see src/ir/ops/rotary_embedding.cpp for the layouts):
// per (batch, seq, head), out[a] = cos * x[a] - sin * x[b], out[b] = sin * x[a] + cos * x[b]
// for each rotated pair (a, b); the features past rotary_embedding_dim are copied.
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

KILN_REFERENCE_KERNEL(RotaryEmbedding, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ir::Shape& xs = x.shape();
  const bool heads_first = xs.size() == 4;  // [B, H, S, D]; else [B, S, H * D]
  const int64_t batch = xs[0], seq = heads_first ? xs[2] : xs[1];
  const int64_t heads = heads_first ? xs[1] : ctx.attrs().i("num_heads");
  const int64_t head_size = heads_first ? xs[3] : xs[2] / heads;
  const int64_t dim = ctx.attrs().i("rotary_embedding_dim", 0) > 0 ? ctx.attrs().i("rotary_embedding_dim") : head_size;
  const int64_t half = dim / 2;
  const bool interleaved = ctx.attrs().i("interleaved", 0) != 0;
  const std::vector<double> cos = ctx.in(1).toDouble(), sin = ctx.in(2).toDouble();
  const int64_t row = ctx.in(1).shape().back();  // cache values per position
  const std::vector<int64_t> positions = ctx.has(3) ? ctx.in(3).toInt64() : std::vector<int64_t>{};
  const int64_t table_rows = ctx.in(1).shape()[0];
  ir::dispatchFloat(x.type(), [&]<typename T>() {
    const T* src = x.values<T>().data();
    T* dst = ctx.out(0).values<T>().data();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s) {
        int64_t cache_row = b * seq + s;
        if (!positions.empty()) {
          cache_row = positions[b * seq + s];
          if (cache_row < 0 || cache_row >= table_rows)
            throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": position " + std::to_string(cache_row) +
                                                         " is outside the " + std::to_string(table_rows) +
                                                         " rows of the caches");
        }
        const double* c = cos.data() + cache_row * row;
        const double* sn = sin.data() + cache_row * row;
        for (int64_t h = 0; h < heads; ++h) {
          const int64_t off =
              heads_first ? ((b * heads + h) * seq + s) * head_size : ((b * seq + s) * heads + h) * head_size;
          for (int64_t i = 0; i < half; ++i) {
            const int64_t a = interleaved ? 2 * i : i, p = interleaved ? 2 * i + 1 : i + half;
            const double xa = static_cast<double>(src[off + a]), xb = static_cast<double>(src[off + p]);
            dst[off + a] = static_cast<T>(c[i] * xa - sn[i] * xb);
            dst[off + p] = static_cast<T>(sn[i] * xa + c[i] * xb);
          }
          for (int64_t i = dim; i < head_size; ++i) dst[off + i] = src[off + i];
        }
      }
  });
});

}  // namespace
}  // namespace kiln::cpu
