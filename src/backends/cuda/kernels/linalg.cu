// Det and ReverseSequence kernels of "cuda.linalg" (the provider is cuda_linalg.cpp): coverage
// kernels, one thread per matrix (Det, in a local copy of at most 16 x 16 doubles) or per
// element (ReverseSequence, a pure gather).
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/linalg.h"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void detKernel(const T* __restrict__ x, T* __restrict__ y, int64_t count, int64_t n) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (m >= count) return;
  double a[kDetMaxOrder * kDetMaxOrder];
  for (int64_t i = 0; i < n * n; ++i) a[i] = static_cast<double>(toCompute(x[m * n * n + i]));
  double det = 1.0;
  for (int64_t c = 0; c < n && det != 0.0; ++c) {
    int64_t pivot = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (fabs(a[r * n + c]) > fabs(a[pivot * n + c])) pivot = r;
    if (a[pivot * n + c] == 0.0) {
      det = 0.0;
      break;
    }
    if (pivot != c) {
      for (int64_t j = 0; j < n; ++j) {
        const double t = a[c * n + j];
        a[c * n + j] = a[pivot * n + j];
        a[pivot * n + j] = t;
      }
      det = -det;
    }
    det *= a[c * n + c];
    for (int64_t r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (int64_t j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
    }
  }
  if constexpr (std::is_same_v<T, double>) y[m] = det;
  else if constexpr (std::is_same_v<T, float>) y[m] = static_cast<float>(det);
  else y[m] = convertTo<T>(static_cast<float>(det));
}

template <typename U>
__global__ void reverseSequenceKernel(const U* __restrict__ x, const int64_t* __restrict__ lens, U* __restrict__ y,
                                      int64_t steps, int64_t batch, int64_t inner, bool time_major) {
  const int64_t total = steps * batch * inner;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, r = e / inner;
    const int64_t t = time_major ? r / batch : r % steps, b = time_major ? r % batch : r / steps;
    int64_t len = lens[b];
    len = len < 0 ? 0 : len > steps ? steps : len;
    const int64_t from = t < len ? len - 1 - t : t;
    y[e] = x[(time_major ? from * batch + b : b * steps + from) * inner + i];
  }
}

template <typename U>
__global__ void tensorScatterKernel(const U* __restrict__ past, const U* __restrict__ update,
                                    const int64_t* __restrict__ writes, U* __restrict__ y, int64_t outer,
                                    int64_t extent, int64_t update_extent, int64_t inner, int64_t per_batch,
                                    bool circular) {
  const int64_t total = outer * extent * inner;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, p = (e / inner) % extent, o = e / (inner * extent);
    const int64_t start = writes ? writes[o / per_batch] : 0;
    int64_t s = p - start;  // the update row landing here, if any
    if (circular) {
      s = ((s % extent) + extent) % extent;
      if (s < update_extent) s += (update_extent - 1 - s) / extent * extent;  // the last write wins
    }
    y[e] = s >= 0 && s < update_extent ? update[(o * update_extent + s) * inner + i] : past[e];
  }
}

}  // namespace

void launchTensorScatter(size_t element_size, const void* past, const void* update, const int64_t* write_indices,
                         void* y, int64_t outer, int64_t extent, int64_t update_extent, int64_t inner,
                         int64_t per_batch, bool circular, cudaStream_t stream) {
  const int64_t total = outer * extent * inner;
  if (total == 0) return;
  dispatchUnit(element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    tensorScatterKernel<U><<<gridFor(total), kThreads, 0, stream>>>(
        static_cast<const U*>(past), static_cast<const U*>(update), write_indices, static_cast<U*>(y), outer, extent,
        update_extent, inner, per_batch, circular);
  });
}

void launchDet(DataType type, const void* x, void* y, int64_t count, int64_t n, cudaStream_t stream) {
  if (count == 0) return;
  auto launch = [&](auto tag) {
    using T = typename decltype(tag)::type;
    detKernel<T><<<gridFor(count, 64), 64, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), count, n);
  };
  if (type == DataType::kDOUBLE) launch(TypeTag<double>{});
  else if (type == DataType::kFLOAT) launch(TypeTag<float>{});
  else if (type == DataType::kHALF) launch(TypeTag<__half>{});
  else launch(TypeTag<__nv_bfloat16>{});
}

void launchReverseSequence(size_t element_size, const void* x, const int64_t* lens, void* y, int64_t steps,
                           int64_t batch, int64_t inner, bool time_major, cudaStream_t stream) {
  const int64_t total = steps * batch * inner;
  if (total == 0) return;
  dispatchUnit(element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    reverseSequenceKernel<U><<<gridFor(total), kThreads, 0, stream>>>(
        static_cast<const U*>(x), lens, static_cast<U*>(y), steps, batch, inner, time_major);
  });
}

}  // namespace kiln::cuda
