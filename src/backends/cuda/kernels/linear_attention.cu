// LinearAttention (backends/cpu/kernels/assorted.cpp is the specification): every update of
// the state S [dk, dv] touches one value column at a time (decay scales rows, the delta rule
// reads S^T k column by column), so one thread owns one column of one head's state for the
// whole sequence, in double.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/linear_attention.h"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void linearAttentionKernel(const LinearAttentionProblem p, const T* __restrict__ q, const T* __restrict__ k,
                                      const T* __restrict__ v, const T* __restrict__ state_in,
                                      const T* __restrict__ decay, const T* __restrict__ beta, T* __restrict__ out,
                                      T* __restrict__ state_out, double* __restrict__ state) {
  const int64_t columns = p.batch * p.kv_heads * p.dv;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t group = p.q_heads / p.kv_heads;
  for (int64_t t0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t0 < columns; t0 += stride) {
    const int64_t j = t0 % p.dv, h = (t0 / p.dv) % p.kv_heads, b = t0 / (p.dv * p.kv_heads);
    double* s = state + (b * p.kv_heads + h) * p.dk * p.dv;  // s[i * dv + j] is ours
    for (int64_t i = 0; i < p.dk; ++i)
      s[i * p.dv + j] = state_in ? loadDouble(state_in, (b * p.kv_heads + h) * p.dk * p.dv + i * p.dv + j) : 0.0;
    for (int64_t t = 0; t < p.steps; ++t) {
      const int64_t bt = b * p.steps + t;
      const int64_t k_base = bt * p.kv_heads * p.dk + h * p.dk, v_at = bt * p.kv_heads * p.dv + h * p.dv + j;
      if (p.gated)
        for (int64_t i = 0; i < p.dk; ++i) {
          const double g = p.decay_width == p.kv_heads ? loadDouble(decay, bt * p.kv_heads + h)
                                                       : loadDouble(decay, bt * p.decay_width + h * p.dk + i);
          s[i * p.dv + j] *= exp(g);
        }
      if (p.delta) {
        const double bb = loadDouble(beta, bt * p.beta_width + (p.beta_width == 1 ? 0 : h));
        double sk = 0.0;
        for (int64_t i = 0; i < p.dk; ++i) sk += s[i * p.dv + j] * loadDouble(k, k_base + i);
        const double vj = loadDouble(v, v_at);
        for (int64_t i = 0; i < p.dk; ++i) s[i * p.dv + j] += bb * loadDouble(k, k_base + i) * (vj - sk);
      } else {
        const double vj = loadDouble(v, v_at);
        for (int64_t i = 0; i < p.dk; ++i) s[i * p.dv + j] += loadDouble(k, k_base + i) * vj;
      }
      for (int64_t g = 0; g < group; ++g) {
        const int64_t head = h * group + g;
        double acc = 0.0;
        for (int64_t i = 0; i < p.dk; ++i)
          acc += loadDouble(q, bt * p.q_heads * p.dk + head * p.dk + i) * s[i * p.dv + j];
        storeDouble(out, bt * p.q_heads * p.dv + head * p.dv + j, p.scale * acc);
      }
    }
    if (state_out)
      for (int64_t i = 0; i < p.dk; ++i)
        storeDouble(state_out, (b * p.kv_heads + h) * p.dk * p.dv + i * p.dv + j, s[i * p.dv + j]);
  }
}

}  // namespace

size_t linearAttentionWorkspace(const LinearAttentionProblem& p) {
  return static_cast<size_t>(p.batch * p.kv_heads * p.dk * p.dv) * sizeof(double);
}

void launchLinearAttention(const LinearAttentionProblem& p, const void* q, const void* k, const void* v,
                           const void* state_in, const void* decay, const void* beta, void* out, void* state_out,
                           void* workspace, cudaStream_t stream) {
  const int64_t columns = p.batch * p.kv_heads * p.dv;
  if (columns == 0) return;
  dispatchFloatingType(p.type, "cuda.linear_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    linearAttentionKernel<T><<<gridFor(columns, 64), 64, 0, stream>>>(
        p, static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
        static_cast<const T*>(state_in), static_cast<const T*>(decay), static_cast<const T*>(beta),
        static_cast<T*>(out), static_cast<T*>(state_out), static_cast<double*>(workspace));
  });
}

}  // namespace kiln::cuda
