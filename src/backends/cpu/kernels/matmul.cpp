// Reference kernels of the linear-algebra operators: MatMul, Gemm, Einsum.
//
// MatMul and Gemm share one blocked row kernel: rows of A are taken four at a time and
// accumulated (in double for floating-point inputs, in 64-bit integers for integers) against
// contiguous rows of B, the i-k-j order that streams B once per four rows of A. 16-bit float
// inputs are converted to float first. Fast enough to run BERT-base on one core in seconds.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/einsum.h"

namespace kiln::cpu {
namespace {

template <typename T>
constexpr bool kIs16BitFloat = std::is_same_v<T, ir::Half> || std::is_same_v<T, ir::BFloat16>;

//! The element type the row kernel reads: float for 16-bit floats, else T itself.
template <typename T>
using Compute = std::conditional_t<kIs16BitFloat<T>, float, T>;

//! Elements of `values` as Compute<T>: a view when no conversion is needed, else a copy.
template <typename T>
struct ComputeView {
  std::vector<Compute<T>> copy;
  const Compute<T>* data = nullptr;
  explicit ComputeView(std::span<const T> values) {
    if constexpr (kIs16BitFloat<T>) {
      copy.assign(values.begin(), values.end());
      data = copy.data();
    } else {
      data = values.data();
    }
  }
};

//! C[M,N] (as accumulator rows handed to `store`) = A[M,K] * B[K,N]; A and B row-major and
//! contiguous. `store(i, j0, count, acc)` receives acc[0..count) = C[i, j0..j0+count).
template <typename In, typename Acc, typename Store>
void gemmRows(int64_t m, int64_t n, int64_t k, const In* a, const In* b, Store&& store) {
  constexpr int64_t kRows = 4;
  const int64_t col_block = std::min<int64_t>(n, 512);
  std::vector<Acc> acc_buffer(static_cast<size_t>(kRows * std::max<int64_t>(col_block, 1)));
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t rows = std::min(kRows, m - i0);
    for (int64_t j0 = 0; j0 < n; j0 += col_block) {
      const int64_t cols = std::min(col_block, n - j0);
      std::fill(acc_buffer.begin(), acc_buffer.end(), Acc{});
      Acc* __restrict acc0 = acc_buffer.data();
      Acc* __restrict acc1 = acc0 + col_block;
      Acc* __restrict acc2 = acc1 + col_block;
      Acc* __restrict acc3 = acc2 + col_block;
      if (rows == kRows) {
        const In* a0 = a + i0 * k;
        const In* a1 = a0 + k;
        const In* a2 = a1 + k;
        const In* a3 = a2 + k;
        for (int64_t p = 0; p < k; ++p) {
          const In* __restrict brow = b + p * n + j0;
          const Acc v0 = static_cast<Acc>(a0[p]), v1 = static_cast<Acc>(a1[p]);
          const Acc v2 = static_cast<Acc>(a2[p]), v3 = static_cast<Acc>(a3[p]);
          for (int64_t j = 0; j < cols; ++j) {
            const Acc bv = static_cast<Acc>(brow[j]);
            acc0[j] += v0 * bv;
            acc1[j] += v1 * bv;
            acc2[j] += v2 * bv;
            acc3[j] += v3 * bv;
          }
        }
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          Acc* __restrict acc = acc0 + r * col_block;
          const In* arow = a + (i0 + r) * k;
          for (int64_t p = 0; p < k; ++p) {
            const In* __restrict brow = b + p * n + j0;
            const Acc v = static_cast<Acc>(arow[p]);
            for (int64_t j = 0; j < cols; ++j) acc[j] += v * static_cast<Acc>(brow[j]);
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) store(i0 + r, j0, cols, acc0 + r * col_block);
    }
  }
}

//! Row-major transpose of a [rows, cols] matrix.
template <typename T>
std::vector<T> transposed(const T* src, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;  // tiles keep both the reads and the strided writes in cache
  std::vector<T> dst(static_cast<size_t>(rows * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile)
      for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) dst[c * rows + r] = src[r * cols + c];
  return dst;
}

void matMul(KernelContext& ctx) {
  const ir::Tensor& ta = ctx.in(0);
  const ir::Tensor& tb = ctx.in(1);
  ir::Tensor& out = ctx.out(0);
  // Promote 1-D operands numpy-style: a [K] -> [1,K], b [K] -> [K,1].
  ir::Shape a_shape = ta.shape(), b_shape = tb.shape();
  if (a_shape.size() == 1) a_shape.insert(a_shape.begin(), 1);
  if (b_shape.size() == 1) b_shape.push_back(1);
  const int64_t m = a_shape[a_shape.size() - 2];
  const int64_t k = a_shape.back();
  const int64_t n = b_shape.back();
  ir::Shape batch_a(a_shape.begin(), a_shape.end() - 2);
  ir::Shape batch_b(b_shape.begin(), b_shape.end() - 2);
  size_t batch_rank = std::max(batch_a.size(), batch_b.size());
  ir::Shape batch_out(batch_rank);
  for (size_t d = 0; d < batch_rank; ++d) {
    int64_t da = d < batch_rank - batch_a.size() ? 1 : batch_a[d - (batch_rank - batch_a.size())];
    int64_t db = d < batch_rank - batch_b.size() ? 1 : batch_b[d - (batch_rank - batch_b.size())];
    batch_out[d] = da == 1 ? db : da;
  }
  int64_t batches = kiln::volume(batch_out);
  int64_t batch_b_volume = kiln::volume(batch_b);
  if (out.numel() == 0) return;

  ir::dispatchType(ta.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      ctx.unsupported("MatMul of bool is not supported");
    } else {
      using In = Compute<T>;
      using Acc = ir::Accumulator<In>;
      ComputeView<T> va(ta.values<T>());
      ComputeView<T> vb(tb.values<T>());
      T* y = out.values<T>().data();
      auto storeAt = [&](T* base) {
        return [base, n](int64_t i, int64_t j0, int64_t count, const Acc* acc) {
          T* row = base + i * n + j0;
          for (int64_t j = 0; j < count; ++j) row[j] = static_cast<T>(static_cast<In>(acc[j]));
        };
      };
      if (batch_b_volume == 1) {
        // B is shared by every batch: fold the batch into M (the common x * W case).
        gemmRows<In, Acc>(batches * m, n, k, va.data, vb.data, storeAt(y));
        return;
      }
      auto index_a = broadcastIndex(batch_a, batch_out);
      auto index_b = broadcastIndex(batch_b, batch_out);
      for (int64_t bi = 0; bi < batches; ++bi)
        gemmRows<In, Acc>(m, n, k, va.data + index_a[bi] * m * k, vb.data + index_b[bi] * k * n, storeAt(y + bi * m * n));
    }
  });
}

void gemm(KernelContext& ctx) {
  const ir::Tensor& ta = ctx.in(0);
  const ir::Tensor& tb = ctx.in(1);
  ir::Tensor& out = ctx.out(0);
  const bool trans_a = ctx.attrs().i("transA", 0) != 0;
  const bool trans_b = ctx.attrs().i("transB", 0) != 0;
  const double alpha = ctx.attrs().f("alpha", 1.0f);
  const double beta = ctx.attrs().f("beta", 1.0f);
  const int64_t m = out.shape()[0];
  const int64_t n = out.shape()[1];
  const int64_t k = trans_a ? ta.shape()[0] : ta.shape()[1];
  if (out.numel() == 0) return;
  // C broadcasts unidirectionally to [M, N]: strides 0 along its size-1 (or missing) dims.
  const ir::Tensor* tc = ctx.has(2) ? &ctx.in(2) : nullptr;
  int64_t c_row_stride = 0, c_col_stride = 0;
  if (tc) {
    const ir::Shape& cs = tc->shape();
    if (cs.size() >= 1 && cs.back() != 1) c_col_stride = 1;
    if (cs.size() == 2 && cs[0] != 1) c_row_stride = cs[1];
  }
  ir::dispatchType(ta.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      ctx.unsupported("Gemm of bool is not supported");
    } else {
      using In = Compute<T>;
      using Acc = ir::Accumulator<In>;
      ComputeView<T> va(ta.values<T>());
      ComputeView<T> vb(tb.values<T>());
      std::vector<In> a_t, b_t;
      const In* a = va.data;
      const In* b = vb.data;
      if (trans_a) {
        a_t = transposed(a, k, m);
        a = a_t.data();
      }
      if (trans_b) {
        b_t = transposed(b, n, k);
        b = b_t.data();
      }
      std::span<const T> c = tc ? tc->values<T>() : std::span<const T>{};
      T* y = out.values<T>().data();
      gemmRows<In, Acc>(m, n, k, a, b, [&](int64_t i, int64_t j0, int64_t count, const Acc* acc) {
        T* row = y + i * n + j0;
        for (int64_t j = 0; j < count; ++j) {
          double v = alpha * static_cast<double>(acc[j]);
          if (tc) v += beta * static_cast<double>(c[i * c_row_stride + (j0 + j) * c_col_stride]);
          if constexpr (std::is_integral_v<T>) row[j] = static_cast<T>(static_cast<int64_t>(std::llround(v)));
          else row[j] = static_cast<T>(static_cast<In>(v));
        }
      });
    }
  });
}

void einsum(KernelContext& ctx) {
  const int num_inputs = static_cast<int>(ctx.inputs.size());
  std::vector<int64_t> ranks;
  std::vector<ir::Shape> shapes;
  for (int i = 0; i < num_inputs; ++i) {
    shapes.push_back(ctx.in(i).shape());
    ranks.push_back(ctx.in(i).rank());
  }
  const std::string owner = ctx.node.describe();
  ir::EinsumEquation eq = ir::parseEinsum(ctx.attrs().s("equation"), ranks, owner);
  std::vector<int64_t> dims = ir::einsumLabelDims(eq, shapes, owner);

  // Loop labels: the output's first (in output order), then every other used label, summed.
  std::vector<int> loop = eq.output;
  std::vector<bool> used(eq.num_labels, false);
  for (int l : eq.output) used[l] = true;
  for (const auto& term : eq.inputs)
    for (int l : term)
      if (!used[l]) {
        used[l] = true;
        loop.push_back(l);
      }
  const size_t n_out = eq.output.size();
  const size_t n_loop = loop.size();
  // strides[i][x]: step of input i's offset per step of loop label x (repeated labels add up;
  // a broadcast size-1 dim steps 0).
  std::vector<std::vector<int64_t>> strides(num_inputs, std::vector<int64_t>(n_loop, 0));
  for (int i = 0; i < num_inputs; ++i) {
    auto cs = ir::contiguousStrides(shapes[i]);
    for (size_t d = 0; d < eq.inputs[i].size(); ++d) {
      if (shapes[i][d] == 1) continue;
      size_t x = std::find(loop.begin(), loop.end(), eq.inputs[i][d]) - loop.begin();
      strides[i][x] += cs[d];
    }
  }
  std::vector<int64_t> extent(n_loop);
  for (size_t x = 0; x < n_loop; ++x) extent[x] = dims[loop[x]];
  int64_t sum_volume = 1;
  for (size_t x = n_out; x < n_loop; ++x) sum_volume *= extent[x];

  ir::Tensor& out = ctx.out(0);
  ir::dispatchType(out.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      ctx.unsupported("Einsum of bool is not supported");
    } else {
      using Acc = ir::Accumulator<T>;
      std::vector<const T*> data(num_inputs);
      for (int i = 0; i < num_inputs; ++i) data[i] = ctx.in(i).values<T>().data();
      auto y = out.values<T>();
      std::vector<int64_t> out_offset(num_inputs, 0), offset(num_inputs);
      std::vector<int64_t> coord(n_loop, 0);
      for (size_t e = 0; e < y.size(); ++e) {
        Acc total{};
        if (sum_volume > 0 && n_loop == n_out + 1 && num_inputs <= 2) {
          // One summed label (the matmul-like forms): a plain strided dot product.
          const int64_t len = extent[n_out];
          const T* a = data[0] + out_offset[0];
          const int64_t sa = strides[0][n_out];
          if (num_inputs == 1) {
            for (int64_t s = 0; s < len; ++s) total += static_cast<Acc>(a[s * sa]);
          } else {
            const T* b = data[1] + out_offset[1];
            const int64_t sb = strides[1][n_out];
            for (int64_t s = 0; s < len; ++s) total += static_cast<Acc>(a[s * sa]) * static_cast<Acc>(b[s * sb]);
          }
        } else if (sum_volume > 0) {
          offset = out_offset;
          std::fill(coord.begin() + static_cast<ptrdiff_t>(n_out), coord.end(), 0);
          for (int64_t s = 0; s < sum_volume; ++s) {
            Acc product = static_cast<Acc>(data[0][offset[0]]);
            for (int i = 1; i < num_inputs; ++i) product *= static_cast<Acc>(data[i][offset[i]]);
            total += product;
            for (size_t x = n_loop; x-- > n_out;) {  // odometer over the summed labels
              for (int i = 0; i < num_inputs; ++i) offset[i] += strides[i][x];
              if (++coord[x] < extent[x]) break;
              for (int i = 0; i < num_inputs; ++i) offset[i] -= strides[i][x] * extent[x];
              coord[x] = 0;
            }
          }
        }
        y[e] = static_cast<T>(total);
        for (size_t x = n_out; x-- > 0;) {  // odometer over the output labels
          for (int i = 0; i < num_inputs; ++i) out_offset[i] += strides[i][x];
          if (++coord[x] < extent[x]) break;
          for (int i = 0; i < num_inputs; ++i) out_offset[i] -= strides[i][x] * extent[x];
          coord[x] = 0;
        }
      }
    }
  });
}

KILN_REFERENCE_KERNEL(MatMul, matMul);
KILN_REFERENCE_KERNEL(Gemm, gemm);
KILN_REFERENCE_KERNEL(Einsum, einsum);

}  // namespace
}  // namespace kiln::cpu
