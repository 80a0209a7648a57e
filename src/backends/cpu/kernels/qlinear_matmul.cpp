// Reference kernel of QLinearMatMul (see src/ir/ops/qlinear_matmul.cpp for the shapes):
// y = saturate(round_half_even(sum_k (a - za) (b - zb) * (sa * sb / sy)) + zy). The sum is
// exact in int64; the multiplier is computed in the scales' type (float16 and bfloat16 round
// after each step), and the product with the sum in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

//! Strides of each dim of a row-major `shape`.
std::vector<int64_t> stridesOf(const ir::Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

//! Index of the scale / zero point element for each line of `operand` (its rank >= 2, 1-D
//! operands promoted) along the summed axis `sum_axis`: the lines are numbered row-major over
//! the other dims. `param` is one value, 1-D over the other matrix dim, or of the operand's
//! rank with 1 along sum_axis (and 1 or the operand's size elsewhere).
std::vector<int64_t> paramIndex(const ir::Shape& operand, size_t sum_axis, const ir::Shape& param) {
  ir::Shape lines_shape = operand;
  lines_shape.erase(lines_shape.begin() + static_cast<ptrdiff_t>(sum_axis));
  const int64_t lines = volume(lines_shape);
  std::vector<int64_t> index(static_cast<size_t>(lines), 0);
  if (volume(param) == 1) return index;
  const size_t other = sum_axis == operand.size() - 1 ? operand.size() - 2 : operand.size() - 1;
  const std::vector<int64_t> pstrides = stridesOf(param);
  for (int64_t l = 0; l < lines; ++l) {
    int64_t rest = l, offset = 0;
    for (size_t d = operand.size(); d-- > 0;) {
      if (d == sum_axis) continue;
      const int64_t c = rest % operand[d];
      rest /= operand[d];
      if (param.size() == 1) {
        if (d == other) offset = c;
      } else if (param[d] != 1) {
        offset += c * pstrides[d];
      }
    }
    index[static_cast<size_t>(l)] = offset;
  }
  return index;
}

template <typename P>
double multiplier(double sa, double sb, double sy) {
  if constexpr (std::is_same_v<P, double>) return sa * sb / sy;
  else {
    const P product = P(static_cast<float>(P(static_cast<float>(sa))) * static_cast<float>(P(static_cast<float>(sb))));
    return static_cast<double>(
        static_cast<float>(P(static_cast<float>(product) / static_cast<float>(P(static_cast<float>(sy))))));
  }
}

KILN_REFERENCE_KERNEL(QLinearMatMul, [](KernelContext& ctx) {
  ir::Shape as = ctx.in(0).shape(), bs = ctx.in(3).shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const size_t ra = as.size(), rb = bs.size();
  const int64_t m = as[ra - 2], k = as[ra - 1], n = bs[rb - 1];
  const std::vector<int64_t> a = ctx.in(0).toInt64(), b = ctx.in(3).toInt64();
  const std::vector<int64_t> za = ctx.in(2).toInt64(), zb = ctx.in(5).toInt64();
  const std::vector<double> sa = ctx.in(1).toDouble(), sb = ctx.in(4).toDouble();
  const double sy = ctx.in(6).toDouble()[0];
  const int64_t zy = ctx.in(7).toInt64()[0];
  const std::vector<int64_t> a_param = paramIndex(as, ra - 1, ctx.in(1).shape());  // per (batch, m)
  const std::vector<int64_t> b_param = paramIndex(bs, rb - 2, ctx.in(4).shape());  // per (batch, n)

  // Batch dims, right-aligned and broadcast.
  const ir::Shape batch_a(as.begin(), as.end() - 2), batch_b(bs.begin(), bs.end() - 2);
  const size_t rank = std::max(batch_a.size(), batch_b.size());
  ir::Shape batch(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t da = d + batch_a.size() >= rank ? batch_a[d + batch_a.size() - rank] : 1;
    const int64_t db = d + batch_b.size() >= rank ? batch_b[d + batch_b.size() - rank] : 1;
    batch[d] = std::max(da, db);
  }
  const int64_t batches = volume(batch);
  const std::vector<int64_t> stride_a = stridesOf(batch_a), stride_b = stridesOf(batch_b);

  ir::Tensor& y = ctx.out(0);
  std::vector<double> out(static_cast<size_t>(batches * m * n));
  ir::dispatchFloat(ctx.in(1).type(), [&]<typename P>() {
    for (int64_t e = 0; e < batches; ++e) {
      int64_t rest = e, ia = 0, ib = 0;
      for (size_t d = rank; d-- > 0;) {
        const int64_t c = rest % batch[d];
        rest /= batch[d];
        if (d + batch_a.size() >= rank && batch_a[d + batch_a.size() - rank] != 1)
          ia += c * stride_a[d + batch_a.size() - rank];
        if (d + batch_b.size() >= rank && batch_b[d + batch_b.size() - rank] != 1)
          ib += c * stride_b[d + batch_b.size() - rank];
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t pa = a_param[ia * m + i];
        const int64_t* row = a.data() + (ia * m + i) * k;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t pb = b_param[ib * n + j];
          const int64_t* col = b.data() + ib * k * n + j;
          int64_t sum = 0;
          for (int64_t s = 0; s < k; ++s) sum += (row[s] - za[pa]) * (col[s * n] - zb[pb]);
          out[(e * m + i) * n + j] =
              std::nearbyint(static_cast<double>(sum) * multiplier<P>(sa[pa], sb[pb], sy)) + static_cast<double>(zy);
        }
      }
    }
  });
  ir::dispatchType(y.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
      constexpr double lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
      T* dst = y.values<T>().data();
      for (size_t i = 0; i < out.size(); ++i)
        dst[i] = static_cast<T>(std::isnan(out[i]) ? 0.0 : std::clamp(out[i], lo, hi));
    } else {
      ctx.unsupported("y must be int8 or uint8, got " + std::string(toString(y.type())));
    }
  });
});

}  // namespace
}  // namespace kiln::cpu
