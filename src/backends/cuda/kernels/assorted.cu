// AffineGrid (in double, as the reference) and CenterCropPad (a strided copy of element
// bits), one thread per output element.
#include "backends/cuda/kernels/assorted.h"
#include "backends/cuda/kernels/common.cuh"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void affineGridKernel(const T* __restrict__ theta, T* __restrict__ grid, const AffineGridProblem p) {
  int64_t points = 1;
  for (int d = 0; d < p.r; ++d) points *= p.sizes[d];
  const int64_t total = p.batch * points * p.r;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t row = t % p.r, pt = (t / p.r) % points, n = t / (p.r * points);
    double base[4] = {1.0, 1.0, 1.0, 1.0};  // (x, y[, z], 1)
    int64_t rest = pt;
    for (int d = p.r - 1; d >= 0; --d) {
      const int64_t length = p.sizes[d], i = rest % length;
      rest /= length;
      const auto fi = static_cast<double>(i), fl = static_cast<double>(length);
      base[p.r - 1 - d] = p.align_corners ? (length > 1 ? -1 + 2 * fi / (fl - 1) : -1.0)
                                          : -1 + (2 * fi + 1) / fl;  // axis d: coord r-1-d
    }
    const T* m = theta + n * p.r * (p.r + 1) + row * (p.r + 1);
    double sum = 0;
    for (int k = 0; k <= p.r; ++k) sum += static_cast<double>(toCompute(m[k])) * base[k];
    if constexpr (kIsFloat16<T>) grid[t] = convertTo<T>(static_cast<float>(sum));
    else grid[t] = static_cast<T>(sum);
  }
}

template <typename U>
__global__ void cropPadKernel(const U* __restrict__ in, U* __restrict__ out, const CropPadProblem p, int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    int64_t rest = t, offset = 0, in_stride = 1;
    bool inside = true;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t o = rest % p.out[d];
      rest /= p.out[d];
      const int64_t i = o + p.offset[d];
      inside = inside && i >= 0 && i < p.in[d];
      offset += i * in_stride;
      in_stride *= p.in[d];
    }
    out[t] = inside ? in[offset] : U{};
  }
}

}  // namespace

void launchAffineGrid(DataType type, const AffineGridProblem& p, const void* theta, void* grid, cudaStream_t stream) {
  int64_t total = p.batch * p.r;
  for (int d = 0; d < p.r; ++d) total *= p.sizes[d];
  if (total == 0) return;
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloating<T>)
      affineGridKernel<T>
          <<<gridFor(total), kThreads, 0, stream>>>(static_cast<const T*>(theta), static_cast<T*>(grid), p);
    else throw Error(ErrorCode::kInternal, "AffineGrid of " + std::string(toString(type)));
  });
}

void launchCenterCropPad(size_t element_size, const CropPadProblem& p, const void* in, void* out, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < p.rank; ++d) total *= p.out[d];
  if (total == 0) return;
  dispatchUnit(element_size, [&](auto tag) {
    using U = typename decltype(tag)::type;
    cropPadKernel<U>
        <<<gridFor(total), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<U*>(out), p, total);
  });
}

}  // namespace kiln::cuda
