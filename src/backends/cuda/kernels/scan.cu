// CumSum / CumProd (one thread per line along the axis, the axis read on the device when it is
// a run-time input), Trilu (one thread per element, k read on the device likewise) and
// EyeLike (one thread per element).
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/scan.h"

namespace kiln::cuda {
namespace {

//! The reference's accumulator: double for floating types, 64-bit integers for integers.
template <typename T>
using Accumulator =
    std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;

template <typename T>
__global__ void cumulativeKernel(const T* __restrict__ x, T* __restrict__ y, const ScanShape s,
                                 const void* __restrict__ axis_ptr, DataType axis_type, int64_t axis, bool product,
                                 bool exclusive, bool reverse, int64_t total) {
  using Acc = Accumulator<T>;
  if (axis_ptr)
    axis =
        axis_type == DataType::kINT32 ? *static_cast<const int32_t*>(axis_ptr) : *static_cast<const int64_t*>(axis_ptr);
  const bool valid = axis >= -s.rank && axis < s.rank;
  if (axis < 0) axis += s.rank;
  int64_t outer = 1, extent = 1, inner = 1;
  for (int d = 0; d < s.rank; ++d) (d < axis ? outer : d == axis ? extent : inner) *= s.dims[d];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  if (!valid) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) y[i] = T{};
    return;
  }
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < outer * inner;
       line += stride) {
    const int64_t o = line / inner, j = line - o * inner;
    Acc acc = product ? Acc(1) : Acc(0);
    for (int64_t step = 0; step < extent; ++step) {
      const int64_t k = reverse ? extent - 1 - step : step;
      const int64_t at = (o * extent + k) * inner + j;
      Acc v;
      if constexpr (std::is_integral_v<T>) v = static_cast<Acc>(x[at]);
      else v = static_cast<double>(toCompute(x[at]));
      if (exclusive) y[at] = convertTo<T>(static_cast<std::conditional_t<std::is_integral_v<T>, Acc, Compute<T>>>(acc));
      acc = product ? static_cast<Acc>(acc * v) : static_cast<Acc>(acc + v);
      if (!exclusive)
        y[at] = convertTo<T>(static_cast<std::conditional_t<std::is_integral_v<T>, Acc, Compute<T>>>(acc));
    }
  }
}

template <typename U>
__global__ void triluKernel(const U* __restrict__ x, U* __restrict__ y, const ScanShape s, const int64_t* k_ptr,
                            int64_t k, bool upper, int64_t total) {
  if (k_ptr) k = *k_ptr;
  const int64_t rows = s.dims[s.rank - 2], cols = s.dims[s.rank - 1];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t j = t % cols, i = (t / cols) % rows;
    const bool keep = upper ? j >= i + k : j <= i + k;
    y[t] = keep ? x[t] : U{};
  }
}

template <typename T>
__global__ void eyeLikeKernel(T* __restrict__ y, int64_t rows, int64_t cols, int64_t k) {
  const int64_t total = rows * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t c = t % cols, r = t / cols;
    y[t] = convertTo<T>(c - r == k ? 1 : 0);
  }
}

}  // namespace

void launchCumulative(DataType type, const ScanShape& shape, const void* axis_ptr, DataType axis_type, int64_t axis,
                      bool product, bool exclusive, bool reverse, const void* x, void* y, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < shape.rank; ++d) total *= shape.dims[d];
  if (total == 0) return;
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) throw Error(ErrorCode::kInternal, "CumSum / CumProd of bool");
    else
      cumulativeKernel<T><<<gridFor(total), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), shape,
                                                                   axis_ptr, axis_type, axis, product, exclusive,
                                                                   reverse, total);
  });
}

void launchTriluGeneral(size_t element_size, const ScanShape& shape, const int64_t* k_ptr, int64_t k, bool upper,
                        const void* x, void* y, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < shape.rank; ++d) total *= shape.dims[d];
  if (total == 0) return;
  dispatchUnit(element_size, [&](auto tag) {
    using U = typename decltype(tag)::type;
    triluKernel<U><<<gridFor(total), kThreads, 0, stream>>>(static_cast<const U*>(x), static_cast<U*>(y), shape, k_ptr,
                                                            k, upper, total);
  });
}

void launchEyeLike(DataType type, int64_t rows, int64_t cols, int64_t k, void* y, cudaStream_t stream) {
  if (rows * cols == 0) return;
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    eyeLikeKernel<T><<<gridFor(rows * cols), kThreads, 0, stream>>>(static_cast<T*>(y), rows, cols, k);
  });
}

}  // namespace kiln::cuda
