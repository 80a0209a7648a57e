// MatMul / Gemm problem geometry shared by the "cpu.gemm" and "openblas" tactics: numpy
// batch broadcasting of MatMul, Gemm's transposes and the broadcast of its C. Everything
// here works on fixed-size arrays so that Kernel::run can use it without allocating.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backends/backend.h"
#include "ir/half.h"
#include "kiln/errors.h"

namespace kiln::cpu::tactics {

//! Most batch dimensions a MatMul may have for these tactics (numpy allows any).
constexpr int kMaxBatchRank = 8;

//! One MatMul at concrete shapes: out batch dims, and per batch the matrix index of A and B
//! (0-stride where broadcast). 1-D operands are the usual [1,K] / [K,1] with the dim dropped.
struct MatMulShape {
  int64_t m = 0, n = 0, k = 0;
  int rank = 0;  //!< output batch rank
  int64_t batch = 1;
  int64_t dims[kMaxBatchRank] = {};
  int64_t a_stride[kMaxBatchRank] = {};  //!< in matrices
  int64_t b_stride[kMaxBatchRank] = {};
  int64_t a_matrices = 1, b_matrices = 1;

  //! B is one matrix shared by every batch: all of A's rows are one tall [batch*M, K] problem.
  bool foldsBatch() const { return b_matrices == 1; }
  void offsets(int64_t index, int64_t& a_index, int64_t& b_index) const {
    a_index = 0;
    b_index = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = index % dims[d];
      index /= dims[d];
      a_index += i * a_stride[d];
      b_index += i * b_stride[d];
    }
  }
};

//! False when the batch rank exceeds kMaxBatchRank or the shapes are not a valid MatMul.
inline bool describeMatMul(const ir::Shape& a, const ir::Shape& b, MatMulShape& s) {
  if (a.empty() || b.empty()) return false;
  const int ra = static_cast<int>(a.size()), rb = static_cast<int>(b.size());
  s.m = ra >= 2 ? a[ra - 2] : 1;
  s.k = a[ra - 1];
  s.n = rb >= 2 ? b[rb - 1] : 1;
  const int64_t kb = rb >= 2 ? b[rb - 2] : b[0];
  if (kb != s.k) return false;
  const int ba = std::max(ra - 2, 0), bb = std::max(rb - 2, 0);
  s.rank = std::max(ba, bb);
  if (s.rank > kMaxBatchRank) return false;
  int64_t sa = 1, sb = 1;
  s.batch = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int da = d - (s.rank - ba), db = d - (s.rank - bb);
    const int64_t xa = da >= 0 ? a[da] : 1, xb = db >= 0 ? b[db] : 1;
    if (xa != xb && xa != 1 && xb != 1) return false;
    s.dims[d] = std::max(xa, xb);
    if (xa == 0 || xb == 0) s.dims[d] = 0;
    s.a_stride[d] = xa == 1 ? 0 : sa;
    s.b_stride[d] = xb == 1 ? 0 : sb;
    sa *= xa;
    sb *= xb;
    s.batch *= s.dims[d];
  }
  s.a_matrices = sa;
  s.b_matrices = sb;
  return true;
}

//! Gemm: op(A) [M,K], op(B) [K,N], C broadcast to [M,N].
struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0;   //!< row strides of A and B as stored
  bool has_c = false;
  int64_t c_rs = 0, c_cs = 0;  //!< element (i, j) of broadcast C at i * c_rs + j * c_cs
};

inline GemmShape describeGemm(const backend::LayerView& layer) {
  GemmShape g;
  g.trans_a = layer.attrs().i("transA", 0) != 0;
  g.trans_b = layer.attrs().i("transB", 0) != 0;
  const ir::Shape& a = layer.inputs[0].shape;
  const ir::Shape& b = layer.inputs[1].shape;
  g.m = g.trans_a ? a[1] : a[0];
  g.k = g.trans_a ? a[0] : a[1];
  g.n = g.trans_b ? b[0] : b[1];
  g.lda = a[1];
  g.ldb = b[1];
  g.has_c = layer.inputs.size() > 2 && layer.inputs[2].present;
  if (g.has_c) {
    const ir::Shape& c = layer.inputs[2].shape;
    const int64_t c0 = c.size() == 2 ? c[0] : 1;
    const int64_t c1 = c.empty() ? 1 : c.back();
    g.c_rs = c0 == 1 ? 0 : c1;
    g.c_cs = c1 == 1 ? 0 : 1;
  }
  return g;
}

//! y[M,N] = beta * broadcast(C); T is float, ir::Half or ir::BFloat16.
template <typename T>
void fillFromC(const GemmShape& g, const T* c, float beta, float* y) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = y + i * g.n;
    const T* crow = c + i * g.c_rs;
    if (g.c_cs == 0) {
      std::fill(row, row + g.n, beta * static_cast<float>(crow[0]));
    } else {
      for (int64_t j = 0; j < g.n; ++j) row[j] = beta * static_cast<float>(crow[j]);
    }
  }
}

//! fillFromC on C of element type `type` (fp32, fp16 or bf16).
inline void fillFromC(const GemmShape& g, const void* c, DataType type, float beta, float* y) {
  switch (type) {
    case DataType::kHALF: return fillFromC(g, static_cast<const ir::Half*>(c), beta, y);
    case DataType::kBF16: return fillFromC(g, static_cast<const ir::BFloat16*>(c), beta, y);
    default: return fillFromC(g, static_cast<const float*>(c), beta, y);
  }
}

//! n elements of fp16/bf16 `type` to float and back (round to nearest even).
inline void widen(DataType type, const void* src, int64_t n, float* dst) {
  if (type == DataType::kHALF) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = ir::halfBitsToFloat(s[i]);
  } else {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = ir::bf16BitsToFloat(s[i]);
  }
}
inline void narrow(DataType type, const float* src, int64_t n, void* dst) {
  auto* d = static_cast<uint16_t*>(dst);
  if (type == DataType::kHALF) {
    for (int64_t i = 0; i < n; ++i) d[i] = ir::floatToHalfBits(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = ir::floatToBf16Bits(src[i]);
  }
}

//! True when every present input and output has the type `type`.
inline bool allOfType(const backend::LayerView& layer, DataType type) {
  for (const auto& t : layer.inputs)
    if (t.present && t.type != type) return false;
  for (const auto& t : layer.outputs)
    if (t.present && t.type != type) return false;
  return true;
}

//! True when every input and output that is present is fp32.
inline bool allFloat32(const backend::LayerView& layer) { return allOfType(layer, DataType::kFLOAT); }

//! True when every dim of `shape` is known (>= 0).
inline bool knownShape(const ir::Shape& shape) {
  return std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
}

//! Throws kRuntime when the run's workspace is smaller than `needed`.
inline void requireWorkspace(const backend::RunArgs& args, size_t needed) {
  if (needed > 0 && (args.workspace == nullptr || args.workspace_size < needed))
    throw Error(ErrorCode::kRuntime, args.layer->node->describe() + ": workspace of " +
                                         std::to_string(args.workspace_size) + " bytes, the kernel needs " +
                                         std::to_string(needed));
}

}  // namespace kiln::cpu::tactics
