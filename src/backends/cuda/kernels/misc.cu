// Miscellaneous kernels of "cuda.misc" (the provider is cuda_misc.cpp). Arithmetic follows
// the reference: unary math in double, CumSum accumulating in double / int64, TopK comparing
// as double with NaN greatest and ties broken by the lower index. TopK ranks every element
// of a lane against the others (O(extent^2) per lane: meant for the small rows of
// detection heads and samplers, not for sorting long vectors).
#include <cmath>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/misc.h"

namespace kiln::cuda {
namespace {

#define KILN_GRID_LOOP(i, n)                                                                             \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <typename T>
__device__ __forceinline__ double toDouble(T v) {
  return static_cast<double>(toCompute(v));
}

template <typename T>
__global__ void miscUnaryKernel(MiscUnary op, const T* __restrict__ in, T* __restrict__ out, int64_t n, double alpha) {
  KILN_GRID_LOOP(i, n) {
    if constexpr (std::is_integral_v<T>) {  // only Sign reaches integers
      const T x = in[i];
      if constexpr (std::is_unsigned_v<T>) out[i] = x > 0 ? T{1} : T{0};
      else out[i] = static_cast<T>((x > 0) - (x < 0));
    } else {
      const double x = toDouble(in[i]);
      double y = x;
      switch (op) {
        case MiscUnary::kSign: y = x > 0 ? 1.0 : x < 0 ? -1.0 : x; break;
        case MiscUnary::kRound: y = rint(x); break;
        case MiscUnary::kSoftsign: y = x / (1.0 + fabs(x)); break;
        case MiscUnary::kThresholdedRelu: y = x > alpha ? x : 0.0; break;
        case MiscUnary::kCelu: y = fmax(0.0, x) + fmin(0.0, alpha * expm1(x / alpha)); break;
        case MiscUnary::kAcos: y = acos(x); break;
        case MiscUnary::kAcosh: y = acosh(x); break;
        case MiscUnary::kAsin: y = asin(x); break;
        case MiscUnary::kAsinh: y = asinh(x); break;
        case MiscUnary::kAtan: y = atan(x); break;
        case MiscUnary::kAtanh: y = atanh(x); break;
        case MiscUnary::kCosh: y = cosh(x); break;
        case MiscUnary::kSinh: y = sinh(x); break;
        case MiscUnary::kTan: y = tan(x); break;
        default: break;
      }
      if constexpr (std::is_same_v<T, double>) out[i] = y;
      else out[i] = convertTo<T>(static_cast<float>(y));
    }
  }
}

template <typename T>
__global__ void predicateKernel(bool is_nan, const T* __restrict__ in, bool* __restrict__ out, int64_t n, bool neg,
                                bool pos) {
  KILN_GRID_LOOP(i, n) {
    const double x = toDouble(in[i]);
    out[i] = is_nan ? isnan(x) : (isinf(x) && (x > 0 ? pos : neg));
  }
}

template <typename U>
__global__ void triluKernel(const U* __restrict__ in, U* __restrict__ out, int64_t n, int64_t rows, int64_t cols,
                            int64_t k, bool upper) {
  KILN_GRID_LOOP(e, n) {
    const int64_t j = e % cols, i = (e / cols) % rows;
    const bool keep = upper ? j >= i + k : j <= i + k;
    out[e] = keep ? in[e] : U{};
  }
}

template <typename T>
__global__ void cumSumKernel(const T* __restrict__ in, T* __restrict__ out, int64_t outer, int64_t extent,
                             int64_t inner, bool exclusive, bool reverse) {
  using Acc = std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;
  KILN_GRID_LOOP(lane, outer * inner) {
    const int64_t o = lane / inner, j = lane - o * inner;
    Acc acc = 0;
    for (int64_t step = 0; step < extent; ++step) {
      const int64_t kk = reverse ? extent - 1 - step : step;
      const int64_t off = (o * extent + kk) * inner + j;
      Acc x;
      if constexpr (std::is_integral_v<T>) x = static_cast<Acc>(in[off]);
      else x = toDouble(in[off]);
      if (exclusive) {
        out[off] = convertTo<T>(static_cast<std::conditional_t<std::is_integral_v<T>, Acc, float>>(acc));
        acc += x;
      } else {
        acc += x;
        out[off] = convertTo<T>(static_cast<std::conditional_t<std::is_integral_v<T>, Acc, float>>(acc));
      }
    }
  }
}

//! a > b with NaN greater than every number.
template <typename V>
__device__ __forceinline__ bool greaterNanLast(V a, V b) {
  if constexpr (std::is_floating_point_v<V>) {
    if (isnan(a)) return !isnan(b);
    if (isnan(b)) return false;
  }
  return a > b;
}

template <typename T>
__global__ void topKKernel(const T* __restrict__ in, T* __restrict__ values, int64_t* __restrict__ indices,
                           int64_t outer, int64_t extent, int64_t inner, int64_t k, bool largest) {
  using V = std::conditional_t<std::is_integral_v<T>, T, double>;
  KILN_GRID_LOOP(e, outer * extent * inner) {
    const int64_t j = e % inner, pos = (e / inner) % extent, o = e / (inner * extent);
    const int64_t base = o * extent * inner + j;
    auto load = [&](int64_t p) -> V {
      if constexpr (std::is_integral_v<T>) return in[base + p * inner];
      else return toDouble(in[base + p * inner]);
    };
    const V x = load(pos);
    int64_t rank = 0;
    for (int64_t f = 0; f < extent && rank < k; ++f) {
      if (f == pos) continue;
      const V y = load(f);
      const bool y_first = largest ? greaterNanLast(y, x) : greaterNanLast(x, y);
      const bool x_first = largest ? greaterNanLast(x, y) : greaterNanLast(y, x);
      rank += y_first || (!x_first && f < pos);
    }
    if (rank < k) {
      const int64_t out = o * k * inner + rank * inner + j;
      if (values) values[out] = in[base + pos * inner];
      if (indices) indices[out] = pos;
    }
  }
}

template <typename I, typename U>
__global__ void oneHotKernel(const I* __restrict__ idx, const U* __restrict__ vals, U* __restrict__ out, int64_t outer,
                             int64_t depth, int64_t inner) {
  KILN_GRID_LOOP(e, outer * depth * inner) {
    const int64_t i = e % inner, d = (e / inner) % depth, o = e / (inner * depth);
    int64_t v;
    if constexpr (std::is_integral_v<I>) v = static_cast<int64_t>(idx[o * inner + i]);
    else v = static_cast<int64_t>(toDouble(idx[o * inner + i]));
    if (v < 0) v += depth;
    out[e] = vals[v == d ? 1 : 0];
  }
}

template <typename T>
__global__ void rangeKernel(T* __restrict__ out, int64_t n, double start, double delta, int64_t si, int64_t di) {
  KILN_GRID_LOOP(i, n) {
    if constexpr (std::is_integral_v<T>) out[i] = static_cast<T>(si + i * di);
    else out[i] = convertTo<T>(static_cast<float>(start + static_cast<double>(i) * delta));
  }
}

template <typename U>
__global__ void fillKernel(U* __restrict__ out, int64_t n, U value) {
  KILN_GRID_LOOP(i, n) out[i] = value;
}

template <typename F>
void dispatchFloat(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: f(TypeTag<float>{}); return;
    case DataType::kHALF: f(TypeTag<__half>{}); return;
    case DataType::kBF16: f(TypeTag<__nv_bfloat16>{}); return;
    default: throw Error(ErrorCode::kUnsupported, "cuda.misc: not a floating-point type");
  }
}

}  // namespace

void launchMiscUnary(MiscUnary op, DataType type, const void* in, void* out, int64_t n, double alpha,
                     bool detect_negative, bool detect_positive, cudaStream_t stream) {
  if (n == 0) return;
  if (op == MiscUnary::kIsNaN || op == MiscUnary::kIsInf) {
    dispatchFloat(type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      predicateKernel<T><<<gridFor(n), kThreads, 0, stream>>>(op == MiscUnary::kIsNaN, static_cast<const T*>(in),
                                                                static_cast<bool*>(out), n, detect_negative, detect_positive);
    });
    return;
  }
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>)
      miscUnaryKernel<T><<<gridFor(n), kThreads, 0, stream>>>(op, static_cast<const T*>(in), static_cast<T*>(out), n, alpha);
  });
}

void launchTrilu(size_t element_size, const void* in, void* out, int64_t matrices, int64_t rows, int64_t cols,
                 int64_t k, bool upper, cudaStream_t stream) {
  const int64_t n = matrices * rows * cols;
  if (n == 0) return;
  dispatchUnit(element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    triluKernel<U><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<U*>(out), n, rows, cols,
                                                        k, upper);
  });
}

void launchCumSum(DataType type, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                  bool exclusive, bool reverse, cudaStream_t stream) {
  if (outer * extent * inner == 0) return;
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>)
      cumSumKernel<T><<<gridFor(outer * inner), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out),
                                                                       outer, extent, inner, exclusive, reverse);
  });
}

void launchTopK(DataType type, const void* in, void* values, int64_t* indices, int64_t outer, int64_t extent,
                int64_t inner, int64_t k, bool largest, cudaStream_t stream) {
  const int64_t n = outer * extent * inner;
  if (n == 0 || k == 0) return;
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>)
      topKKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(values), indices,
                                                         outer, extent, inner, k, largest);
  });
}

void launchOneHot(DataType index_type, const void* indices, const void* values, size_t element_size, void* out,
                  int64_t outer, int64_t depth, int64_t inner, cudaStream_t stream) {
  const int64_t n = outer * depth * inner;
  if (n == 0) return;
  dispatchDeviceType(index_type, [&](auto itag) {
    using I = typename decltype(itag)::type;
    dispatchUnit(element_size, [&](auto unit) {
      using U = typename decltype(unit)::type;
      oneHotKernel<I, U><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const I*>(indices), static_cast<const U*>(values),
                                                              static_cast<U*>(out), outer, depth, inner);
    });
  });
}

void launchRange(DataType type, void* out, int64_t n, double start, double delta, int64_t start_int, int64_t delta_int,
                 cudaStream_t stream) {
  if (n == 0) return;
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>)
      rangeKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<T*>(out), n, start, delta, start_int, delta_int);
  });
}

void launchFill(void* out, int64_t n, size_t element_size, uint64_t value, cudaStream_t stream) {
  if (n == 0) return;
  dispatchUnit(element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    if constexpr (sizeof(U) <= 8) {
      U v;
      memcpy(&v, &value, sizeof(U));
      fillKernel<U><<<gridFor(n), kThreads, 0, stream>>>(static_cast<U*>(out), n, v);
    }
  });
}

}  // namespace kiln::cuda
