// Kernels of "cuda.extra" (the provider is cuda_extra.cpp). Arithmetic follows the CPU
// reference (src/backends/cpu/kernels/elementwise.cpp, logic.cpp): Mod in double for floats
// with the Python sign rule when fmod = 0, integer Mod by 0 or -1 gives 0, NaN propagating
// Min / Max, Sum / Mean accumulating in double / int64, BitShift by the width or more gives 0.
// ConvTranspose (direct gather) and Einsum (general loops) accumulate in double for fp32 and
// in float for fp16 / bf16, one thread per output element.
#include <cmath>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/extra.h"

namespace kiln::cuda {
namespace {

#define KILN_EXTRA_LOOP(i, n)                                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

//! Accumulator of the float kernels: double for fp32 (the reference sums in double, and the
//! fp32 tolerance is tight), float for fp16 / bf16.
template <typename T>
using FloatAcc = std::conditional_t<std::is_same_v<T, float> || std::is_same_v<T, double>, double, float>;

struct ExtraPointers {
  const void* p[kExtraMaxInputs];
};

template <typename T>
__device__ __forceinline__ T modValue(T a, T b, bool c_fmod) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>) {
      if (b == T{-1}) return T{0};
    }
    T r = static_cast<T>(a % b);
    if constexpr (std::is_signed_v<T>) {
      if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
    }
    return r;
  } else {
    const double x = static_cast<double>(toCompute(a)), y = static_cast<double>(toCompute(b));
    double r = fmod(x, y);
    if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    if constexpr (std::is_same_v<T, float>) return static_cast<float>(r);
    else return convertTo<T>(static_cast<float>(r));
  }
}

template <typename T>
__global__ void extraKernel(ExtraOp op, ExtraBroadcast map, ExtraPointers ptrs, T* __restrict__ out, int64_t n) {
  using Acc = std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;
  KILN_EXTRA_LOOP(e, n) {
    int64_t off[kExtraMaxInputs];
    for (int k = 0; k < map.inputs; ++k) off[k] = 0;
    int64_t rem = e;
    for (int d = map.rank - 1; d >= 0; --d) {
      const int64_t dim = map.dims[d];
      const int64_t q = rem / dim, r = rem - q * dim;
      for (int k = 0; k < map.inputs; ++k) off[k] += r * map.strides[k][d];
      rem = q;
    }
    auto in = [&](int k) -> T { return static_cast<const T*>(ptrs.p[k])[off[k]]; };
    switch (op) {
      case ExtraOp::kMod:
      case ExtraOp::kFmod:
        if constexpr (!std::is_same_v<T, bool>) out[e] = modValue<T>(in(0), in(1), op == ExtraOp::kFmod);
        break;
      case ExtraOp::kXor:
        if constexpr (std::is_same_v<T, bool>) out[e] = in(0) != in(1);
        break;
      case ExtraOp::kShiftLeft:
      case ExtraOp::kShiftRight:
        if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
          const T x = in(0), s = in(1);
          if (static_cast<uint64_t>(s) >= sizeof(T) * 8) out[e] = T{0};
          else out[e] = static_cast<T>(op == ExtraOp::kShiftLeft ? x << s : x >> s);
        }
        break;
      case ExtraOp::kSum:
      case ExtraOp::kMean:
        if constexpr (!std::is_same_v<T, bool>) {
          Acc acc = 0;
          for (int k = 0; k < map.inputs; ++k) {
            if constexpr (std::is_integral_v<T>) acc = static_cast<Acc>(acc + static_cast<Acc>(in(k)));
            else acc += static_cast<double>(toCompute(in(k)));
          }
          if (op == ExtraOp::kMean) acc = acc / static_cast<Acc>(map.inputs);
          if constexpr (std::is_integral_v<T>) out[e] = static_cast<T>(acc);
          else if constexpr (std::is_same_v<T, float>) out[e] = static_cast<float>(acc);
          else out[e] = convertTo<T>(static_cast<float>(acc));
        }
        break;
      case ExtraOp::kMin:
      case ExtraOp::kMax:
        if constexpr (!std::is_same_v<T, bool>) {
          using C = Compute<T>;
          T acc = in(0);
          for (int k = 1; k < map.inputs; ++k) {
            const T x = in(k);
            const C a = toCompute(acc), b = toCompute(x);
            if constexpr (!std::is_integral_v<C>) {
              if (a != a) continue;
              if (b != b) {
                acc = x;
                continue;
              }
            }
            if (op == ExtraOp::kMax) acc = a < b ? x : acc;
            else acc = b < a ? x : acc;
          }
          out[e] = acc;
        }
        break;
    }
  }
}

template <typename T>
__global__ void convTransposeKernel(ConvTransposeGeometry g, const T* __restrict__ x, const T* __restrict__ w,
                                    const T* __restrict__ bias, T* __restrict__ y, int64_t n) {
  using Acc = FloatAcc<T>;
  const int64_t cg = g.channels / g.group, ocg = g.out_channels / g.group;
  KILN_EXTRA_LOOP(e, n) {
    const int64_t ow = e % g.out_w;
    int64_t rest = e / g.out_w;
    const int64_t oh = rest % g.out_h;
    rest /= g.out_h;
    const int64_t oc = rest % g.out_channels, b = rest / g.out_channels;
    const int64_t grp = oc / ocg, r = oc - grp * ocg;
    Acc acc = 0;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t th = oh + g.pad_h - kh * g.dil_h;
      if (th < 0 || th % g.stride_h != 0) continue;
      const int64_t ih = th / g.stride_h;
      if (ih >= g.in_h) continue;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t tw = ow + g.pad_w - kw * g.dil_w;
        if (tw < 0 || tw % g.stride_w != 0) continue;
        const int64_t iw = tw / g.stride_w;
        if (iw >= g.in_w) continue;
        for (int64_t i = 0; i < cg; ++i) {
          const int64_t ic = grp * cg + i;
          const Acc xv = static_cast<Acc>(toCompute(x[((b * g.channels + ic) * g.in_h + ih) * g.in_w + iw]));
          const Acc wv = static_cast<Acc>(toCompute(w[((ic * ocg + r) * g.kernel_h + kh) * g.kernel_w + kw]));
          acc += xv * wv;
        }
      }
    }
    if (bias) acc += static_cast<Acc>(toCompute(bias[oc]));
    if constexpr (std::is_same_v<T, float>) y[e] = static_cast<float>(acc);
    else y[e] = convertTo<T>(static_cast<float>(acc));
  }
}

struct EinsumPointers {
  const void* p[kEinsumMaxInputs];
};

template <typename T>
__global__ void einsumKernel(EinsumLoops L, EinsumPointers ptrs, T* __restrict__ out, int64_t n) {
  using Acc = FloatAcc<T>;
  KILN_EXTRA_LOOP(e, n) {
    int64_t base[kEinsumMaxInputs] = {};
    int64_t rem = e;
    for (int x = L.out_labels - 1; x >= 0; --x) {
      const int64_t q = rem / L.extent[x], r = rem - q * L.extent[x];
      for (int i = 0; i < L.inputs; ++i) base[i] += r * L.strides[i][x];
      rem = q;
    }
    int64_t sum_volume = 1;
    for (int x = L.out_labels; x < L.labels; ++x) sum_volume *= L.extent[x];
    Acc total = 0;
    for (int64_t s = 0; s < sum_volume; ++s) {
      int64_t off[kEinsumMaxInputs];
      for (int i = 0; i < L.inputs; ++i) off[i] = base[i];
      int64_t r2 = s;
      for (int x = L.labels - 1; x >= L.out_labels; --x) {
        const int64_t q = r2 / L.extent[x], r = r2 - q * L.extent[x];
        for (int i = 0; i < L.inputs; ++i) off[i] += r * L.strides[i][x];
        r2 = q;
      }
      Acc product = static_cast<Acc>(toCompute(static_cast<const T*>(ptrs.p[0])[off[0]]));
      for (int i = 1; i < L.inputs; ++i) product *= static_cast<Acc>(toCompute(static_cast<const T*>(ptrs.p[i])[off[i]]));
      total += product;
    }
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) out[e] = static_cast<T>(total);
    else out[e] = convertTo<T>(static_cast<float>(total));
  }
}

template <typename T>
__device__ __forceinline__ double loadDouble(const T* p, int64_t i) {
  return static_cast<double>(toCompute(p[i]));
}

template <typename T>
__device__ __forceinline__ T storeDouble(double v) {
  if constexpr (std::is_same_v<T, float>) return static_cast<float>(v);
  else return convertTo<T>(static_cast<float>(v));
}

template <typename T>
__global__ void lrnKernel(const T* __restrict__ x, T* __restrict__ y, int64_t batch, int64_t channels, int64_t pixels,
                          int64_t size, double alpha, double beta, double bias) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  KILN_EXTRA_LOOP(e, batch * channels * pixels) {
    const int64_t i = e % pixels, c = (e / pixels) % channels, n = e / (pixels * channels);
    double sq = 0.0;
    const int64_t lo = c - before > 0 ? c - before : 0, hi = c + after < channels - 1 ? c + after : channels - 1;
    for (int64_t k = lo; k <= hi; ++k) {
      const double v = loadDouble(x, (n * channels + k) * pixels + i);
      sq += v * v;
    }
    y[e] = storeDouble<T>(loadDouble(x, e) / pow(bias + alpha / static_cast<double>(size) * sq, beta));
  }
}

template <typename T>
__global__ void hardmaxKernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t length, int64_t inner) {
  KILN_EXTRA_LOOP(lane, outer * inner) {
    const int64_t o = lane / inner, i = lane - o * inner, base = o * length * inner + i;
    double best = -INFINITY;
    int64_t arg = 0;
    for (int64_t k = 0; k < length; ++k) {
      const double v = loadDouble(x, base + k * inner);
      if (v > best) {
        best = v;
        arg = k;
      }
    }
    for (int64_t k = 0; k < length; ++k) y[base + k * inner] = storeDouble<T>(k == arg ? 1.0 : 0.0);
  }
}

__device__ __forceinline__ int64_t slotOffset(const SlotMap& m, int64_t s, int64_t j) {
  int64_t off = 0;
  for (int d = m.kept_rank - 1; d >= 0; --d) {
    const int64_t q = s / m.kept_dims[d];
    off += (s - q * m.kept_dims[d]) * m.kept_strides[d];
    s = q;
  }
  for (int d = m.reduced_rank - 1; d >= 0; --d) {
    const int64_t q = j / m.reduced_dims[d];
    off += (j - q * m.reduced_dims[d]) * m.reduced_strides[d];
    j = q;
  }
  return off;
}

//! Sum of `v` over the block (every thread gets it). blockDim.x == kThreads.
__device__ double blockSum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

//! One block per slot: mean, then variance (two passes, as the reference), then the output.
//! GroupNormalization when scale is not null, else MeanVarianceNormalization.
template <typename T>
__global__ void slotNormKernel(SlotMap m, const T* __restrict__ x, const T* __restrict__ scale,
                               const T* __restrict__ bias, T* __restrict__ y, int64_t groups, int64_t cg,
                               int64_t pixels, bool per_group, double epsilon) {
  __shared__ double shared[kThreads];
  for (int64_t s = blockIdx.x; s < m.slots; s += gridDim.x) {
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < m.count; j += blockDim.x) sum += loadDouble(x, slotOffset(m, s, j));
    const double n = static_cast<double>(m.count);
    const double mean = blockSum(sum, shared) / n;  // count > 0: the launchers skip empty slots
    double sq = 0.0;
    for (int64_t j = threadIdx.x; j < m.count; j += blockDim.x) {
      const double d = loadDouble(x, slotOffset(m, s, j)) - mean;
      sq += d * d;
    }
    const double total_sq = blockSum(sq, shared);
    const double var = m.count > 0 ? total_sq / n : 0.0;
    if (scale) {
      const double inv_std = 1.0 / sqrt(var + epsilon);
      const int64_t g = s % groups;
      for (int64_t j = threadIdx.x; j < m.count; j += blockDim.x) {
        const int64_t c = g * cg + j / pixels;
        const int64_t k = per_group ? g : c;
        const double a = loadDouble(scale, k) * inv_std, b = loadDouble(bias, k) - mean * a;
        const int64_t off = slotOffset(m, s, j);
        y[off] = storeDouble<T>(loadDouble(x, off) * a + b);
      }
    } else {
      const double denom = sqrt(var) + 1e-9;
      for (int64_t j = threadIdx.x; j < m.count; j += blockDim.x) {
        const int64_t off = slotOffset(m, s, j);
        y[off] = storeDouble<T>((loadDouble(x, off) - mean) / denom);
      }
    }
  }
}

template <typename T>
__global__ void lpPoolKernel(LpPoolGeometry g, double p, const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  KILN_EXTRA_LOOP(e, n) {
    const int64_t ow = e % g.out_w, oh = (e / g.out_w) % g.out_h, plane = e / (g.out_w * g.out_h);
    double sum = 0.0;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dil_h;
      if (ih < 0 || ih >= g.in_h) continue;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dil_w;
        if (iw < 0 || iw >= g.in_w) continue;
        sum += pow(fabs(loadDouble(x, (plane * g.in_h + ih) * g.in_w + iw)), p);
      }
    }
    y[e] = storeDouble<T>(pow(sum, 1.0 / p));
  }
}

template <typename T>
__global__ void globalLpPoolKernel(int64_t planes, int64_t pixels, double p, const T* __restrict__ x, T* __restrict__ y) {
  KILN_EXTRA_LOOP(c, planes) {
    double sum = 0.0;
    for (int64_t i = 0; i < pixels; ++i) sum += pow(fabs(loadDouble(x, c * pixels + i)), p);
    y[c] = storeDouble<T>(pow(sum, 1.0 / p));
  }
}

struct UnpoolDims {
  int rank = 0;
  int64_t unpooled[kExtraMaxRank], out_strides[kExtraMaxRank];
  int64_t unpooled_numel = 0;
};

template <typename U>
__global__ void maxUnpoolKernel(UnpoolDims d, const U* __restrict__ x, const int64_t* __restrict__ indices,
                                U* __restrict__ y, int64_t n) {
  KILN_EXTRA_LOOP(i, n) {
    int64_t rest = indices[i];
    if (rest < 0 || rest >= d.unpooled_numel) continue;
    int64_t flat = 0;
    for (int k = d.rank - 1; k >= 0; --k) {
      flat += (rest % d.unpooled[k]) * d.out_strides[k];
      rest /= d.unpooled[k];
    }
    y[flat] = x[i];
  }
}

template <typename F>
void dispatchFloatType(DataType type, const char* what, F&& f) {
  switch (type) {
    case DataType::kFLOAT: f(TypeTag<float>{}); return;
    case DataType::kHALF: f(TypeTag<__half>{}); return;
    case DataType::kBF16: f(TypeTag<__nv_bfloat16>{}); return;
    default: throw Error(ErrorCode::kUnsupported, std::string("cuda.extra: ") + what + " needs float, half or bfloat16");
  }
}

}  // namespace

void launchLrn(DataType type, const void* x, void* y, int64_t batch, int64_t channels, int64_t pixels, int64_t size,
               double alpha, double beta, double bias, cudaStream_t stream) {
  const int64_t n = batch * channels * pixels;
  if (n == 0) return;
  dispatchFloatType(type, "LRN", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lrnKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), batch, channels,
                                                      pixels, size, alpha, beta, bias);
  });
}

void launchHardmax(DataType type, const void* x, void* y, int64_t outer, int64_t length, int64_t inner,
                   cudaStream_t stream) {
  if (outer * length * inner == 0) return;
  dispatchFloatType(type, "Hardmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    hardmaxKernel<T><<<gridFor(outer * inner), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                      outer, length, inner);
  });
}

void launchMeanVarianceNormalization(DataType type, const SlotMap& map, const void* x, void* y, cudaStream_t stream) {
  if (map.slots == 0 || map.count == 0) return;
  dispatchFloatType(type, "MeanVarianceNormalization", [&](auto tag) {
    using T = typename decltype(tag)::type;
    slotNormKernel<T><<<gridFor(map.slots * kThreads), kThreads, 0, stream>>>(
        map, static_cast<const T*>(x), nullptr, nullptr, static_cast<T*>(y), 1, 1, 1, false, 0.0);
  });
}

void launchGroupNormalization(DataType type, const void* x, const void* scale, const void* bias, void* y, int64_t batch,
                              int64_t channels, int64_t pixels, int64_t groups, bool per_group, double epsilon,
                              cudaStream_t stream) {
  const int64_t cg = channels / groups;
  SlotMap m{};
  m.kept_rank = 1;
  m.kept_dims[0] = batch * groups;
  m.kept_strides[0] = cg * pixels;
  m.reduced_rank = 1;
  m.reduced_dims[0] = cg * pixels;
  m.reduced_strides[0] = 1;
  m.slots = batch * groups;
  m.count = cg * pixels;
  if (m.slots == 0 || m.count == 0) return;
  dispatchFloatType(type, "GroupNormalization", [&](auto tag) {
    using T = typename decltype(tag)::type;
    slotNormKernel<T><<<gridFor(m.slots * kThreads), kThreads, 0, stream>>>(
        m, static_cast<const T*>(x), static_cast<const T*>(scale), static_cast<const T*>(bias), static_cast<T*>(y),
        groups, cg, pixels, per_group, epsilon);
  });
}

void launchLpPool(DataType type, const LpPoolGeometry& g, double p, const void* x, void* y, cudaStream_t stream) {
  const int64_t n = g.planes * g.out_h * g.out_w;
  if (n == 0) return;
  dispatchFloatType(type, "LpPool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lpPoolKernel<T><<<gridFor(n), kThreads, 0, stream>>>(g, p, static_cast<const T*>(x), static_cast<T*>(y), n);
  });
}

void launchGlobalLpPool(DataType type, int64_t planes, int64_t pixels, double p, const void* x, void* y,
                        cudaStream_t stream) {
  if (planes == 0) return;
  dispatchFloatType(type, "GlobalLpPool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    globalLpPoolKernel<T><<<gridFor(planes), kThreads, 0, stream>>>(planes, pixels, p, static_cast<const T*>(x),
                                                                     static_cast<T*>(y));
  });
}

void launchMaxUnpool(size_t element_size, const void* x, const int64_t* indices, void* y, int64_t n, int64_t out_numel,
                     int rank, const int64_t* unpooled_dims, const int64_t* out_dims, cudaStream_t stream) {
  if (out_numel == 0 || n == 0) return;
  UnpoolDims d{};
  d.rank = rank;
  d.unpooled_numel = 1;
  int64_t stride = 1;
  for (int k = rank - 1; k >= 0; --k) {
    d.unpooled[k] = unpooled_dims[k];
    d.unpooled_numel *= unpooled_dims[k];
    d.out_strides[k] = stride;
    stride *= out_dims[k];
  }
  dispatchUnit(element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    maxUnpoolKernel<U><<<gridFor(n), kThreads, 0, stream>>>(d, static_cast<const U*>(x), indices, static_cast<U*>(y), n);
  });
}

void launchEinsum(DataType type, const EinsumLoops& loops, const void* const* inputs, void* out, int64_t n,
                  cudaStream_t stream) {
  if (n == 0) return;
  EinsumPointers ptrs{};
  for (int i = 0; i < loops.inputs && i < kEinsumMaxInputs; ++i) ptrs.p[i] = inputs[i];
  switch (type) {
    case DataType::kFLOAT:
      einsumKernel<float><<<gridFor(n), kThreads, 0, stream>>>(loops, ptrs, static_cast<float*>(out), n);
      return;
    case DataType::kHALF:
      einsumKernel<__half><<<gridFor(n), kThreads, 0, stream>>>(loops, ptrs, static_cast<__half*>(out), n);
      return;
    case DataType::kBF16:
      einsumKernel<__nv_bfloat16><<<gridFor(n), kThreads, 0, stream>>>(loops, ptrs, static_cast<__nv_bfloat16*>(out), n);
      return;
    case DataType::kDOUBLE:
      einsumKernel<double><<<gridFor(n), kThreads, 0, stream>>>(loops, ptrs, static_cast<double*>(out), n);
      return;
    default: throw Error(ErrorCode::kUnsupported, "cuda.extra: Einsum needs float, half, bfloat16 or double");
  }
}

void launchConvTranspose(DataType type, const ConvTransposeGeometry& g, const void* x, const void* w, const void* bias,
                         void* y, cudaStream_t stream) {
  const int64_t n = g.batch * g.out_channels * g.out_h * g.out_w;
  if (n == 0) return;
  switch (type) {
    case DataType::kFLOAT:
      convTransposeKernel<float><<<gridFor(n), kThreads, 0, stream>>>(
          g, static_cast<const float*>(x), static_cast<const float*>(w), static_cast<const float*>(bias),
          static_cast<float*>(y), n);
      return;
    case DataType::kHALF:
      convTransposeKernel<__half><<<gridFor(n), kThreads, 0, stream>>>(
          g, static_cast<const __half*>(x), static_cast<const __half*>(w), static_cast<const __half*>(bias),
          static_cast<__half*>(y), n);
      return;
    case DataType::kBF16:
      convTransposeKernel<__nv_bfloat16><<<gridFor(n), kThreads, 0, stream>>>(
          g, static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(w),
          static_cast<const __nv_bfloat16*>(bias), static_cast<__nv_bfloat16*>(y), n);
      return;
    default: throw Error(ErrorCode::kUnsupported, "cuda.extra: ConvTranspose needs float, half or bfloat16");
  }
}

void launchExtraElementwise(ExtraOp op, DataType type, const ExtraBroadcast& map, const void* const* inputs, void* out,
                            int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  ExtraPointers ptrs{};
  for (int k = 0; k < map.inputs && k < kExtraMaxInputs; ++k) ptrs.p[k] = inputs[k];
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    extraKernel<T><<<gridFor(n), kThreads, 0, stream>>>(op, map, ptrs, static_cast<T*>(out), n);
  });
}

}  // namespace kiln::cuda
