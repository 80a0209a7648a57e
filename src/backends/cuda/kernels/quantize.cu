// Linear quantization kernels, one thread per element (the reference in
// backends/cpu/kernels/quantize.cpp is the specification: round half to even, saturation, NaN
// to 0, the division rounded in the precision type).
#include <limits>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/quantize.h"

namespace kiln::cuda {
namespace {

template <typename T>
constexpr DataType kTypeOf = std::is_same_v<T, int8_t>     ? DataType::kINT8
                             : std::is_same_v<T, uint8_t>  ? DataType::kUINT8
                             : std::is_same_v<T, int16_t>  ? DataType::kINT16
                             : std::is_same_v<T, uint16_t> ? DataType::kUINT16
                                                           : DataType::kINT32;

__device__ __forceinline__ int64_t scaleIndex(const ScaleMap& m, int64_t i) {
  if (m.dim == 0) return 0;
  const int64_t a = (i / m.inner) % m.dim;
  if (m.per_axis) return a;
  const int64_t outer = i / (m.inner * m.dim);
  return (outer * m.scale_dim + a / m.block) * m.inner + i % m.inner;
}

//! Element i of an integer tensor of `type`, as int64 (0 for a null pointer).
__device__ __forceinline__ int64_t intAt(const void* p, int64_t i, DataType type) {
  if (!p) return 0;
  switch (type) {
    case DataType::kINT8: return static_cast<const int8_t*>(p)[i];
    case DataType::kUINT8: return static_cast<const uint8_t*>(p)[i];
    case DataType::kINT16: return static_cast<const int16_t*>(p)[i];
    case DataType::kUINT16: return static_cast<const uint16_t*>(p)[i];
    case DataType::kINT32: return static_cast<const int32_t*>(p)[i];
    case DataType::kUINT32: return static_cast<const uint32_t*>(p)[i];
    case DataType::kUINT64: return static_cast<int64_t>(static_cast<const uint64_t*>(p)[i]);
    default: return static_cast<const int64_t*>(p)[i];
  }
}

//! x / s as the precision P computes it: half and bfloat16 round both operands to P and divide
//! in float.
template <typename P>
__device__ __forceinline__ double divideIn(double x, double s) {
  if constexpr (std::is_same_v<P, double>) {
    return x / s;
  } else if constexpr (std::is_same_v<P, float>) {
    return static_cast<double>(static_cast<float>(x) / static_cast<float>(s));
  } else {
    const float xp = toCompute(convertTo<P>(static_cast<float>(x)));
    const float sp = toCompute(convertTo<P>(static_cast<float>(s)));
    return static_cast<double>(xp / sp);
  }
}

template <typename P, typename Y>
__global__ void quantizeKernel(const void* __restrict__ x, DataType x_type, const void* __restrict__ scale,
                               DataType scale_type, const void* __restrict__ zero, Y* __restrict__ y, int64_t n,
                               ScaleMap m) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t s = scaleIndex(m, i);
    const double q = nearbyint(divideIn<P>(loadAsDouble(x, i, x_type), loadAsDouble(scale, s, scale_type))) +
                     static_cast<double>(intAt(zero, s, kTypeOf<Y>));
    const double lo = static_cast<double>(std::numeric_limits<Y>::min());
    const double hi = static_cast<double>(std::numeric_limits<Y>::max());
    y[i] = q != q ? Y(0) : static_cast<Y>(fmin(fmax(q, lo), hi));
  }
}

template <typename X, typename Y>
__global__ void dequantizeKernel(const X* __restrict__ x, const void* __restrict__ scale, DataType scale_type,
                                 const void* __restrict__ zero, Y* __restrict__ y, int64_t n, ScaleMap m) {
  using C = std::conditional_t<std::is_same_v<Y, double>, double, float>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t s = scaleIndex(m, i);
    const C v = static_cast<C>(static_cast<int64_t>(x[i]) - intAt(zero, s, kTypeOf<X>)) *
                static_cast<C>(loadAsDouble(scale, s, scale_type));
    y[i] = convertTo<Y>(v);
  }
}

//! One block: the range of x, then the scale and zero point (float32, as the definition).
__global__ void dynamicRangeKernel(const float* __restrict__ x, int64_t n, float* __restrict__ scale,
                                   uint8_t* __restrict__ zero) {
  __shared__ float lo_s[32], hi_s[32];
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    lo = fminf(lo, x[i]);
    hi = fmaxf(hi, x[i]);
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
    hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    lo_s[warp] = lo;
    hi_s[warp] = hi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (blockDim.x >> 5); ++w) {
      lo = fminf(lo, lo_s[w]);
      hi = fmaxf(hi, hi_s[w]);
    }
    const float s = (hi == lo ? 1.0f : hi - lo) / 255.0f;
    *scale = s;
    *zero = static_cast<uint8_t>(nearbyintf(fminf(fmaxf(0.0f - lo / s, 0.0f), 255.0f)));
  }
}

__global__ void dynamicQuantizeKernel(const float* __restrict__ x, uint8_t* __restrict__ y,
                                      const float* __restrict__ scale, const uint8_t* __restrict__ zero, int64_t n) {
  const float s = *scale, z = static_cast<float>(*zero);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float q = nearbyintf(x[i] / s) + z;
    y[i] = q != q ? 0 : static_cast<uint8_t>(fminf(fmaxf(q, 0.0f), 255.0f));
  }
}

template <typename F>
void dispatchQuantized(DataType type, F&& f) {
  switch (type) {
    case DataType::kINT8: return f(TypeTag<int8_t>{});
    case DataType::kUINT8: return f(TypeTag<uint8_t>{});
    case DataType::kINT16: return f(TypeTag<int16_t>{});
    case DataType::kUINT16: return f(TypeTag<uint16_t>{});
    case DataType::kINT32: return f(TypeTag<int32_t>{});
    default: throw Error(ErrorCode::kInternal, "no quantized kernel for " + std::string(toString(type)));
  }
}

}  // namespace

void launchQuantize(DataType x_type, DataType scale_type, DataType precision, DataType y_type, const void* x,
                    const void* scale, const void* zero, void* y, int64_t n, const ScaleMap& map, cudaStream_t stream) {
  if (n == 0) return;
  dispatchFloatingType(precision, "cuda.quantize", [&](auto pt) {
    using P = typename decltype(pt)::type;
    dispatchQuantized(y_type, [&](auto yt) {
      using Y = typename decltype(yt)::type;
      quantizeKernel<P, Y>
          <<<gridFor(n), kThreads, 0, stream>>>(x, x_type, scale, scale_type, zero, static_cast<Y*>(y), n, map);
    });
  });
}

void launchDequantize(DataType x_type, DataType scale_type, DataType y_type, const void* x, const void* scale,
                      const void* zero, void* y, int64_t n, const ScaleMap& map, cudaStream_t stream) {
  if (n == 0) return;
  dispatchQuantized(x_type, [&](auto xt) {
    using X = typename decltype(xt)::type;
    dispatchFloatingType(y_type, "cuda.quantize", [&](auto yt) {
      using Y = typename decltype(yt)::type;
      dequantizeKernel<X, Y><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const X*>(x), scale, scale_type, zero,
                                                                  static_cast<Y*>(y), n, map);
    });
  });
}

void launchDynamicQuantize(const float* x, uint8_t* y, float* scale, uint8_t* zero, int64_t n, cudaStream_t stream) {
  dynamicRangeKernel<<<1, 1024, 0, stream>>>(x, n, scale, zero);
  if (n > 0) dynamicQuantizeKernel<<<gridFor(n), kThreads, 0, stream>>>(x, y, scale, zero, n);
}

}  // namespace kiln::cuda
