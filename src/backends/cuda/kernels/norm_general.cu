// General normalization kernels: BatchNormalization with run-time or batch statistics (one
// block per channel; statistics in double with two passes, as the reference) and
// LpNormalization (one thread per normalized vector).
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/norm_general.h"

namespace kiln::cuda {
namespace {

constexpr int kNormThreads = 256;

//! The block's sum of `v` (every thread gets it); `scratch` holds one double per warp.
__device__ double blockSum(double v, double* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < (blockDim.x >> 5); ++w) total += scratch[w];  // fixed order: deterministic
  return total;
}

template <typename T, typename P>
__global__ void batchNormKernel(const T* __restrict__ x, const P* __restrict__ scale, const P* __restrict__ bias,
                                const P* __restrict__ mean, const P* __restrict__ var, T* __restrict__ y,
                                P* __restrict__ running_mean, P* __restrict__ running_var, BatchNormArgs a) {
  __shared__ double scratch[kNormThreads / 32];
  const int64_t c = blockIdx.x;
  const int64_t count = a.batch * a.pixels;
  auto at = [&](int64_t k) {  // the k-th element of channel c
    const int64_t n = k / a.pixels, i = k - n * a.pixels;
    return (n * a.channels + c) * a.pixels + i;
  };
  double m = loadDouble(mean, c), v = loadDouble(var, c);
  if (a.training) {
    double sum = 0.0;
    for (int64_t k = threadIdx.x; k < count; k += blockDim.x) sum += loadDouble(x, at(k));
    const double batch_mean = count > 0 ? blockSum(sum, scratch) / static_cast<double>(count) : 0.0;
    double sq = 0.0;
    for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
      const double d = loadDouble(x, at(k)) - batch_mean;
      sq += d * d;
    }
    const double batch_var = count > 0 ? blockSum(sq, scratch) / static_cast<double>(count) : 0.0;
    if (threadIdx.x == 0) {
      if (running_mean) storeDouble(running_mean, c, m * a.momentum + batch_mean * (1 - a.momentum));
      if (running_var) storeDouble(running_var, c, v * a.momentum + batch_var * (1 - a.momentum));
    }
    m = batch_mean;
    v = batch_var;
  }
  const double scale_c = loadDouble(scale, c) / sqrt(v + a.epsilon);
  const double shift_c = loadDouble(bias, c) - m * scale_c;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t i = at(k);
    storeDouble(y, i, loadDouble(x, i) * scale_c + shift_c);
  }
}

template <typename T>
__global__ void lpNormKernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t extent, int64_t inner,
                             int p) {
  const int64_t vectors = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < vectors; t += stride) {
    const int64_t o = t / inner, i = t - o * inner;
    const int64_t base = o * extent * inner + i;
    double norm = 0.0;
    for (int64_t k = 0; k < extent; ++k) {
      const double v = loadDouble(x, base + k * inner);
      norm += p == 1 ? fabs(v) : v * v;
    }
    if (p == 2) norm = sqrt(norm);
    for (int64_t k = 0; k < extent; ++k)
      storeDouble(y, base + k * inner, norm > 0.0 ? loadDouble(x, base + k * inner) / norm : 0.0);
  }
}

//! f(TypeTag<T>) for the floating-point types.
}  // namespace

void launchBatchNormGeneral(DataType x_type, DataType param_type, const BatchNormArgs& args, cudaStream_t stream) {
  if (args.channels == 0) return;
  dispatchFloatingType(x_type, "cuda.norm_general", [&](auto xt) {
    using T = typename decltype(xt)::type;
    dispatchFloatingType(param_type, "cuda.norm_general", [&](auto pt) {
      using P = typename decltype(pt)::type;
      batchNormKernel<T, P><<<static_cast<unsigned>(args.channels), kNormThreads, 0, stream>>>(
          static_cast<const T*>(args.x), static_cast<const P*>(args.scale), static_cast<const P*>(args.bias),
          static_cast<const P*>(args.mean), static_cast<const P*>(args.var), static_cast<T*>(args.y),
          static_cast<P*>(args.running_mean), static_cast<P*>(args.running_var), args);
    });
  });
}

void launchLpNormalization(DataType type, const void* x, void* y, int64_t outer, int64_t extent, int64_t inner, int p,
                           cudaStream_t stream) {
  if (outer * inner == 0) return;
  dispatchFloatingType(type, "cuda.norm_general", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lpNormKernel<T><<<gridFor(outer * inner), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                     outer, extent, inner, p);
  });
}

}  // namespace kiln::cuda
