// RMSNormalization (one block per row, the sum of squares in double with a fixed-order block
// reduction) and RotaryEmbedding (one thread per rotated pair or copied feature), in double as
// the reference (backends/cpu/kernels/normalization.cpp, rotary_embedding.cpp).
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/transformer_ops.h"

namespace kiln::cuda {
namespace {

constexpr int kRowThreads = 256;

__device__ int64_t scaleIndex(const RmsNormProblem& p, int64_t i) {
  int64_t index = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const int64_t c = i % p.dims[d];
    i /= p.dims[d];
    index += c * p.scale_strides[d];
  }
  return index;
}

template <typename T>
__global__ void rmsNormKernel(const T* __restrict__ x, const T* __restrict__ scale, T* __restrict__ y,
                              const RmsNormProblem p) {
  __shared__ double partial[kRowThreads];
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* src = x + r * p.inner;
    double sq = 0.0;
    for (int64_t i = threadIdx.x; i < p.inner; i += blockDim.x) {
      const double v = loadDouble(src, i);
      sq += v * v;
    }
    partial[threadIdx.x] = sq;
    __syncthreads();
    double total = 0.0;
    for (int k = 0; k < kRowThreads; ++k) total += partial[k];  // fixed order: deterministic
    __syncthreads();
    const double inv_rms = 1.0 / sqrt(total / static_cast<double>(p.inner) + p.epsilon);
    for (int64_t i = threadIdx.x; i < p.inner; i += blockDim.x)
      storeDouble(y, r * p.inner + i, loadDouble(src, i) * inv_rms * loadDouble(scale, scaleIndex(p, i)));
  }
}

template <typename T>
__global__ void rotaryKernel(const T* __restrict__ x, const T* __restrict__ cos_cache, const T* __restrict__ sin_cache,
                             const int64_t* __restrict__ positions, T* __restrict__ y, const RotaryProblem p) {
  const int64_t half = p.dim / 2, copied = p.head_size - p.dim;
  const int64_t per_head = half + copied;  // rotated pairs, then copied features
  const int64_t total = p.batch * p.seq * p.heads * per_head;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t e = t % per_head, h = (t / per_head) % p.heads, s = (t / (per_head * p.heads)) % p.seq;
    const int64_t b = t / (per_head * p.heads * p.seq);
    const int64_t off =
        p.heads_first ? ((b * p.heads + h) * p.seq + s) * p.head_size : ((b * p.seq + s) * p.heads + h) * p.head_size;
    if (e >= half) {
      const int64_t i = p.dim + (e - half);
      y[off + i] = x[off + i];
      continue;
    }
    int64_t cache_row = positions ? positions[b * p.seq + s] : b * p.seq + s;
    const bool valid = cache_row >= 0 && cache_row < p.table_rows;
    const int64_t a = p.interleaved ? 2 * e : e, q = p.interleaved ? 2 * e + 1 : e + half;
    if (!valid) {  // a position outside the caches (the reference refuses it): NaN, not a plausible value
      storeDouble(y, off + a, NAN);
      storeDouble(y, off + q, NAN);
      continue;
    }
    const double c = loadDouble(cos_cache, cache_row * p.row + e), sn = loadDouble(sin_cache, cache_row * p.row + e);
    const double xa = loadDouble(x, off + a), xb = loadDouble(x, off + q);
    storeDouble(y, off + a, c * xa - sn * xb);
    storeDouble(y, off + q, sn * xa + c * xb);
  }
}

}  // namespace

void launchRmsNorm(DataType type, const RmsNormProblem& p, const void* x, const void* scale, void* y,
                   cudaStream_t stream) {
  if (p.rows == 0 || p.inner == 0) return;
  dispatchFloatingType(type, "cuda.transformer_ops", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(p.rows, int64_t{1} << 20));
    rmsNormKernel<T><<<blocks, kRowThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(scale),
                                                         static_cast<T*>(y), p);
  });
}

void launchRotary(DataType type, const RotaryProblem& p, const void* x, const void* cos, const void* sin,
                  const int64_t* positions, void* y, cudaStream_t stream) {
  const int64_t total = p.batch * p.seq * p.heads * (p.dim / 2 + p.head_size - p.dim);
  if (total == 0) return;
  dispatchFloatingType(type, "cuda.transformer_ops", [&](auto tag) {
    using T = typename decltype(tag)::type;
    rotaryKernel<T><<<gridFor(total), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(cos),
                                                             static_cast<const T*>(sin), positions, static_cast<T*>(y),
                                                             p);
  });
}

}  // namespace kiln::cuda
