// The ONNX Attention operator as its reference computes it (backends/cpu/kernels/attention.cpp
// is the specification), one thread per query row: the scores are recomputed in each of three
// passes (maximum, sum of exponentials, weighted sum) instead of being stored, so no workspace
// is needed. This is the coverage path for every variant; the fused FusedAttention kernels
// (attention.cu) stay the fast path for the patterns they take.
#include <cmath>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/onnx_attention.h"

namespace kiln::cuda {
namespace {

__device__ __forceinline__ double maskAt(const void* m, DataType t, int64_t i) {
  switch (t) {
    case DataType::kBOOL: return static_cast<const bool*>(m)[i] ? 0.0 : -INFINITY;
    case DataType::kHALF: return __half2float(static_cast<const __half*>(m)[i]);
    case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(m)[i]);
    case DataType::kDOUBLE: return static_cast<const double*>(m)[i];
    default: return static_cast<const float*>(m)[i];
  }
}

//! Element (b, h, s, d) of Q, K or V: [B, H, S, D], or [B, S, H * D] when seq_first.
__device__ __forceinline__ int64_t headIndex(bool seq_first, int64_t heads, int64_t seq, int64_t dim, int64_t b,
                                             int64_t h, int64_t s, int64_t d) {
  return seq_first ? ((b * seq + s) * heads + h) * dim + d : ((b * heads + h) * seq + s) * dim + d;
}

template <typename T>
struct Row {
  const OnnxAttentionProblem& p;
  const OnnxAttentionArgs& a;
  int64_t b, h, kvh, i, offset, total;

  __device__ double key(int64_t j, int64_t d) const {
    const T* k = static_cast<const T*>(a.k);
    if (j < p.past)
      return loadDouble(static_cast<const T*>(a.past_k), ((b * p.kv_heads + kvh) * p.past + j) * p.dim + d);
    return loadDouble(k, headIndex(p.seq_first, p.kv_heads, p.kv_len, p.dim, b, kvh, j - p.past, d));
  }
  __device__ double value(int64_t j, int64_t d) const {
    if (j < p.past)
      return loadDouble(static_cast<const T*>(a.past_v), ((b * p.kv_heads + kvh) * p.past + j) * p.v_dim + d);
    return loadDouble(static_cast<const T*>(a.v),
                      headIndex(p.seq_first, p.kv_heads, p.kv_len, p.v_dim, b, kvh, j - p.past, d));
  }
  //! The scaled (and soft-capped) score of key j, and its bias (-inf when masked).
  __device__ void score(int64_t j, double& s, double& bias) const {
    const T* q = static_cast<const T*>(a.q);
    s = 0.0;
    for (int64_t d = 0; d < p.dim; ++d)
      s += loadDouble(q, headIndex(p.seq_first, p.q_heads, p.q_len, p.dim, b, h, i, d)) * key(j, d);
    s *= p.scale;
    if (p.softcap > 0.0) s = p.softcap * tanh(s / p.softcap);
    bias = 0.0;
    if (p.has_mask)
      bias =
          j >= p.mask_columns
              ? -INFINITY
              : maskAt(a.mask, p.mask_type,
                       b * p.mask_strides[0] + h * p.mask_strides[1] + i * p.mask_strides[2] + j * p.mask_strides[3]);
    if (p.causal && j > i + offset) bias = -INFINITY;
    if (p.has_nonpad && j >= a.nonpad[b]) bias = -INFINITY;
    const int64_t behind = i + offset - j;
    if ((p.left_window >= 0 && behind > p.left_window) || (p.right_window >= 0 && -behind > p.right_window))
      bias = -INFINITY;
  }
};

template <typename T>
__global__ void onnxAttentionKernel(const OnnxAttentionProblem p, const OnnxAttentionArgs a) {
  const int64_t rows = p.batch * p.q_heads * p.q_len;
  const int64_t total = p.past + p.kv_len;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    const int64_t i = r % p.q_len, h = (r / p.q_len) % p.q_heads, b = r / (p.q_len * p.q_heads);
    const int64_t offset = p.past > 0 ? p.past : p.has_nonpad ? a.nonpad[b] - p.q_len : 0;
    const Row<T> row{p, a, b, h, h / (p.q_heads / p.kv_heads), i, offset, total};
    T* qk = static_cast<T*>(a.qk);
    // Pass 1: the maximum, whether every key is masked, and the qk output of modes 0 to 2.
    double top = -INFINITY;
    bool row_masked = true;
    for (int64_t j = 0; j < total; ++j) {
      double s, bias;
      row.score(j, s, bias);
      row_masked = row_masked && bias == -INFINITY;
      if (qk && p.mode != 3) storeDouble(qk, r * total + j, p.mode == 2 ? s + bias : s);
      top = fmax(top, s + bias);
    }
    const bool empty = row_masked || top == -INFINITY;
    // Pass 2: the sum of exponentials.
    double sum = 0.0;
    if (!empty)
      for (int64_t j = 0; j < total; ++j) {
        double s, bias;
        row.score(j, s, bias);
        sum += exp(s + bias - top);
      }
    // Pass 3: probabilities (the qk output of mode 3) and the weighted sum of V.
    for (int64_t d = 0; d < p.v_dim; ++d) {
      double acc = 0.0;
      for (int64_t j = 0; j < total; ++j) {
        double prob = 0.0;
        if (!empty) {
          double s, bias;
          row.score(j, s, bias);
          prob = exp(s + bias - top);
          if (sum > 0.0) prob /= sum;
        }
        if (d == 0 && qk && p.mode == 3) storeDouble(qk, r * total + j, prob);
        if (prob != 0.0) acc += prob * row.value(j, d);
      }
      storeDouble(static_cast<T*>(a.y), headIndex(p.seq_first, p.q_heads, p.q_len, p.v_dim, b, h, i, d), acc);
    }
    if (p.v_dim == 0 && qk && p.mode == 3)
      for (int64_t j = 0; j < total; ++j) storeDouble(qk, r * total + j, 0.0);
  }
}

//! present_key / present_value: [B, Hkv, P + Skv, D], past first.
template <typename T>
__global__ void presentKernel(const OnnxAttentionProblem p, const OnnxAttentionArgs a, bool keys) {
  const int64_t total = p.past + p.kv_len, dim = keys ? p.dim : p.v_dim;
  const int64_t n = p.batch * p.kv_heads * total * dim;
  const T* past = static_cast<const T*>(keys ? a.past_k : a.past_v);
  const T* cur = static_cast<const T*>(keys ? a.k : a.v);
  T* out = static_cast<T*>(keys ? a.present_k : a.present_v);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n; t += stride) {
    const int64_t d = t % dim, j = (t / dim) % total, bh = t / (dim * total);
    const int64_t b = bh / p.kv_heads, h = bh - b * p.kv_heads;
    out[t] = j < p.past ? past[(bh * p.past + j) * dim + d]
                        : cur[headIndex(p.seq_first, p.kv_heads, p.kv_len, dim, b, h, j - p.past, d)];
  }
}

}  // namespace

void launchOnnxAttention(const OnnxAttentionProblem& p, const OnnxAttentionArgs& a, cudaStream_t stream) {
  dispatchFloatingType(p.type, "cuda.onnx_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t rows = p.batch * p.q_heads * p.q_len;
    if (rows > 0) onnxAttentionKernel<T><<<gridFor(rows, 128), 128, 0, stream>>>(p, a);
    const int64_t total = p.past + p.kv_len;
    if (a.present_k && p.batch * p.kv_heads * total * p.dim > 0)
      presentKernel<T><<<gridFor(p.batch * p.kv_heads * total * p.dim), kThreads, 0, stream>>>(p, a, true);
    if (a.present_v && p.batch * p.kv_heads * total * p.v_dim > 0)
      presentKernel<T><<<gridFor(p.batch * p.kv_heads * total * p.v_dim), kThreads, 0, stream>>>(p, a, false);
  });
}

}  // namespace kiln::cuda
