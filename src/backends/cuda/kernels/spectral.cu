// DFT and STFT as direct sums in double (backends/cpu/kernels/spectral.cpp is the
// specification): one thread per output bin; k * n is taken modulo the length before the angle
// is formed, as the reference, so that large products stay exact.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/spectral.h"

namespace kiln::cuda {
namespace {

constexpr double kPi = 3.14159265358979323846;

template <typename T>
__global__ void dftKernel(const T* __restrict__ x, T* __restrict__ y, const DftProblem p) {
  const int64_t total = p.outer * p.out_len * p.inner;
  const double sign = p.inverse ? 1.0 : -1.0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t i = t % p.inner, k = (t / p.inner) % p.out_len, o = t / (p.inner * p.out_len);
    auto at = [&](int64_t len, int64_t m, int64_t c) { return ((o * len + m) * p.inner + i) * c; };
    double re = 0.0, im = 0.0;
    for (int64_t m = 0; m < p.n; ++m) {
      double zr = 0.0, zi = 0.0;
      if (p.onesided_inverse) {  // Z[n - m] = conj(Z[m])
        const int64_t src = m < p.in_len ? m : p.n - m;
        if (src < 0 || src >= p.in_len) continue;
        zr = loadDouble(x, at(p.in_len, src, p.in_c));
        zi = p.in_c == 2 ? loadDouble(x, at(p.in_len, src, p.in_c) + 1) : 0.0;
        if (m >= p.in_len) zi = -zi;
      } else {
        if (m >= p.in_len) continue;
        zr = loadDouble(x, at(p.in_len, m, p.in_c));
        zi = p.in_c == 2 ? loadDouble(x, at(p.in_len, m, p.in_c) + 1) : 0.0;
      }
      const double angle = sign * 2.0 * kPi * static_cast<double>((k * m) % p.n) / static_cast<double>(p.n);
      const double c = cos(angle), s = sin(angle);
      re += zr * c - zi * s;
      im += zr * s + zi * c;
    }
    if (p.inverse) {
      re /= static_cast<double>(p.n);
      im /= static_cast<double>(p.n);
    }
    storeDouble(y, at(p.out_len, k, p.out_c), re);
    if (p.out_c == 2) storeDouble(y, at(p.out_len, k, p.out_c) + 1, im);
  }
}

template <typename T>
__global__ void stftKernel(const T* __restrict__ x, const T* __restrict__ window, T* __restrict__ y,
                           const StftProblem p) {
  const int64_t total = p.batch * p.frames * p.bins;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t k = t % p.bins, f = (t / p.bins) % p.frames, b = t / (p.bins * p.frames);
    double re = 0.0, im = 0.0;
    for (int64_t s = 0; s < p.frame; ++s) {
      const int64_t at = (b * p.length + f * p.step + s) * p.in_c;
      const double w = window ? loadDouble(window, s) : 1.0;
      const double zr = w * loadDouble(x, at), zi = p.in_c == 2 ? w * loadDouble(x, at + 1) : 0.0;
      const double angle = -2.0 * kPi * static_cast<double>((k * s) % p.frame) / static_cast<double>(p.frame);
      const double c = cos(angle), sn = sin(angle);
      re += zr * c - zi * sn;
      im += zr * sn + zi * c;
    }
    storeDouble(y, 2 * t, re);
    storeDouble(y, 2 * t + 1, im);
  }
}

}  // namespace

void launchDft(DataType type, const DftProblem& p, const void* x, void* y, cudaStream_t stream) {
  const int64_t total = p.outer * p.out_len * p.inner;
  if (total == 0) return;
  dispatchFloatingType(type, "cuda.spectral", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dftKernel<T><<<gridFor(total), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), p);
  });
}

void launchStft(DataType type, const StftProblem& p, const void* x, const void* window, void* y, cudaStream_t stream) {
  const int64_t total = p.batch * p.frames * p.bins;
  if (total == 0) return;
  dispatchFloatingType(type, "cuda.spectral", [&](auto tag) {
    using T = typename decltype(tag)::type;
    stftKernel<T><<<gridFor(total), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(window),
                                                           static_cast<T*>(y), p);
  });
}

}  // namespace kiln::cuda
