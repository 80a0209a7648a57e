// MatMul/Gemm -> one batched column-major GEMM. Runs on the enqueue path too (shapes may change
// per run), so it uses fixed-size arrays and never allocates.
#include "backends/cuda/cublas/gemm_problem.h"

#include <algorithm>
#include <limits>

namespace kiln::cuda::blas {
namespace {

constexpr int kMaxBatchDims = 16;
constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

bool present(const backend::LayerView& layer, size_t i) { return i < layer.inputs.size() && layer.inputs[i].present; }

//! Batch dims of A and B (right-aligned, broadcasting), size-1 dims dropped, merged where the
//! strides of both operands allow, the innermost becoming the strided batch.
bool describeBatches(const ir::Shape& as, const ir::Shape& bs, bool a_vec, bool b_vec, GemmProblem& p) {
  const size_t a_batch = a_vec ? 0 : as.size() - 2, b_batch = b_vec ? 0 : bs.size() - 2;
  const size_t dims = std::max(a_batch, b_batch);
  if (dims > static_cast<size_t>(kMaxBatchDims)) return false;
  int64_t size[kMaxBatchDims], sa[kMaxBatchDims], sb[kMaxBatchDims];  // innermost first
  int count = 0;
  int64_t a_stride = p.m * p.k, b_stride = p.k * p.n;
  for (size_t i = 0; i < dims; ++i) {
    const int64_t ad = i < a_batch ? as[a_batch - 1 - i] : 1, bd = i < b_batch ? bs[b_batch - 1 - i] : 1;
    if (ad != bd && ad != 1 && bd != 1) return false;
    const int64_t s = ad == 1 ? bd : ad;
    if (s != 1) {
      size[count] = s;
      sa[count] = ad == 1 ? 0 : a_stride;
      sb[count] = bd == 1 ? 0 : b_stride;
      ++count;
    }
    a_stride *= ad;
    b_stride *= bd;
  }
  // Merge outward from the innermost dim: dim `next` joins when it continues the strides of
  // the dims merged so far (a broadcast dim continues a broadcast: 0 == 0).
  p.batch = count ? size[0] : 1;
  p.a_stride = count ? sa[0] : 0;
  p.b_stride = count ? sb[0] : 0;
  int next = count ? 1 : 0;
  for (; next < count; ++next) {
    if (sa[next] != p.a_stride * p.batch || sb[next] != p.b_stride * p.batch) break;
    p.batch *= size[next];
  }
  const int outer = count - next;
  if (outer > kMaxOuterDims) return false;
  p.outer_dims = outer;
  for (int d = 0; d < outer; ++d) {  // stored outermost first
    const int src = count - 1 - d;
    p.outer_size[d] = size[src];
    p.outer_a[d] = sa[src];
    p.outer_b[d] = sb[src];
  }
  return p.batch <= kIntMax;
}

}  // namespace

bool describeGemm(const backend::LayerView& layer, GemmProblem& p) {
  p = GemmProblem{};
  if (layer.inputs.size() < 2 || !present(layer, 0) || !present(layer, 1) || layer.outputs.empty()) return false;
  const ir::Shape& as = layer.inputs[0].shape;
  const ir::Shape& bs = layer.inputs[1].shape;
  if (layer.node->op == "Gemm") {
    if (as.size() != 2 || bs.size() != 2) return false;
    const ir::Attributes& attrs = layer.attrs();
    p.trans_a = attrs.i("transA", 0) != 0;
    p.trans_b = attrs.i("transB", 0) != 0;
    p.m = p.trans_a ? as[1] : as[0];
    p.k = p.trans_a ? as[0] : as[1];
    p.n = p.trans_b ? bs[0] : bs[1];
    if ((p.trans_b ? bs[1] : bs[0]) != p.k) return false;
    p.lda = as[1];
    p.ldb = bs[1];
    p.alpha = attrs.f("alpha", 1.0f);
    p.beta = attrs.f("beta", 1.0f);
    p.bias = BiasForm::kNone;
    if (present(layer, 2) && p.beta != 0.0f) {
      const ir::Shape& cs = layer.inputs[2].shape;
      const int64_t rows = cs.size() >= 2 ? cs[cs.size() - 2] : 1, cols = cs.empty() ? 1 : cs.back();
      if (cs.size() > 2) return false;
      if (rows == p.m && cols == p.n) p.bias = BiasForm::kFull;
      else if (rows == 1 && cols == p.n) p.bias = BiasForm::kRow;
      else return false;  // column or scalar broadcasts: left to other tactics
    } else {
      p.beta = 0.0f;
    }
  } else {
    if (as.empty() || bs.empty()) return false;
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    p.m = a_vec ? 1 : as[as.size() - 2];
    p.k = as.back();
    p.n = b_vec ? 1 : bs.back();
    if ((b_vec ? bs[0] : bs[bs.size() - 2]) != p.k) return false;
    p.lda = p.k;
    p.ldb = p.n;
    p.alpha = 1.0f;
    p.beta = 0.0f;
    if (!describeBatches(as, bs, a_vec, b_vec, p)) return false;
    // B shared by every batch of a contiguous A: one GEMM with batch * M rows (Y is
    // contiguous [batch, M, N] = [batch * M, N]); avoids stride-0 batches as well.
    if (p.outer_dims == 0 && p.batch > 1 && p.b_stride == 0 && p.a_stride == p.m * p.k) {
      p.m *= p.batch;
      p.batch = 1;
      p.a_stride = 0;
    }
  }
  if (p.k <= 0 || p.m < 0 || p.n < 0) return false;
  return p.m <= kIntMax && p.n <= kIntMax && p.k <= kIntMax && p.lda <= kIntMax && p.ldb <= kIntMax;
}

}  // namespace kiln::cuda::blas
