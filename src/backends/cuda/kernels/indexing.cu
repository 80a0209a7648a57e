// Indexing kernels of "cuda.indexing" (the provider is cuda_indexing.cpp): GatherND and
// GatherElements move elements as 1-8 byte units (every element type); ScatterND and
// ScatterElements reduce in the element's own arithmetic (16-bit floats through float, one
// rounding per step, as the reference). Index math is 64-bit.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/indexing.h"

namespace kiln::cuda {
namespace {

//! v normalized into [0, dim), or -1 when out of range.
template <typename I>
__device__ __forceinline__ int64_t normalizeIndex(I raw, int64_t dim) {
  int64_t v = static_cast<int64_t>(raw);
  if (v < -dim || v >= dim) return -1;
  return v < 0 ? v + dim : v;
}

//! Element offset of tuple `r` in data, or -1 when an index is out of range.
template <typename I>
__device__ __forceinline__ int64_t tupleOffset(const GatherNDPlan& p, const I* idx, int64_t r) {
  int64_t off = (p.rows_per_batch > 0 ? r / p.rows_per_batch : 0) * p.batch_stride;
  for (int j = 0; j < p.k; ++j) {
    int64_t v = normalizeIndex(idx[r * p.k + j], p.dims[j]);
    if (v < 0) return -1;
    off += v * p.strides[j];
  }
  return off;
}

template <typename U, typename I>
__global__ void gatherNDKernel(const U* __restrict__ data, const I* __restrict__ idx, U* __restrict__ out,
                               const __grid_constant__ GatherNDPlan p) {
  const int64_t n = p.rows * p.block;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t r = e / p.block, c = e - r * p.block;
    const int64_t off = tupleOffset(p, idx, r);
    out[e] = off < 0 ? U{} : data[off + c];
  }
}

//! Data offset of element e of indices (axis coordinate excluded), and its axis coordinate.
__device__ __forceinline__ int64_t walkOffset(const ElementsPlan& p, int64_t e, int64_t* axis_coord) {
  int64_t off = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const int64_t c = e % p.idx_dims[d];
    e /= p.idx_dims[d];
    if (d == p.axis) *axis_coord = c;
    else off += c * p.data_strides[d];
  }
  return off;
}

template <typename U, typename I>
__global__ void gatherElementsKernel(const U* __restrict__ data, const I* __restrict__ idx, U* __restrict__ out,
                                     const __grid_constant__ ElementsPlan p) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < p.n; e += step) {
    int64_t unused = 0;
    const int64_t base = walkOffset(p, e, &unused);
    const int64_t v = normalizeIndex(idx[e], p.axis_dim);
    out[e] = v < 0 ? U{} : data[base + v * p.data_strides[p.axis]];
  }
}

//! dst reduced with src as the reference's reduce<T>.
template <typename T>
__device__ __forceinline__ T reduceScatter(ScatterReduction kind, T dst, T src) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (kind) {
      case ScatterReduction::kAdd: return dst || src;
      case ScatterReduction::kMul: return dst && src;
      case ScatterReduction::kMax: return dst < src ? src : dst;
      case ScatterReduction::kMin: return src < dst ? src : dst;
      default: return src;
    }
  } else {
    using C = Compute<T>;
    const C a = toCompute(dst), b = toCompute(src);
    switch (kind) {
      case ScatterReduction::kAdd: return convertTo<T>(static_cast<C>(a + b));
      case ScatterReduction::kMul: return convertTo<T>(static_cast<C>(a * b));
      case ScatterReduction::kMax: return a < b ? src : dst;  // std::max: the first unless less
      case ScatterReduction::kMin: return b < a ? src : dst;
      default: return src;
    }
  }
}

template <typename T, typename I>
__global__ void scatterElementsKernel(const I* __restrict__ idx, const T* __restrict__ upd, T* __restrict__ out,
                                      const __grid_constant__ ElementsPlan p, ScatterReduction kind) {
  // One thread per line along the axis: lines never collide, a line's updates apply in order.
  const int64_t len = p.idx_dims[p.axis];
  int64_t inner = 1;
  for (int d = p.axis + 1; d < p.rank; ++d) inner *= p.idx_dims[d];
  const int64_t lines = len > 0 ? p.n / len : 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < lines; line += step) {
    const int64_t o = line / inner, i = line - o * inner;
    const int64_t first = o * len * inner + i;  // element (.., 0, ..) of indices
    int64_t unused = 0;
    const int64_t base = walkOffset(p, first, &unused);
    for (int64_t a = 0; a < len; ++a) {
      const int64_t e = first + a * inner;
      const int64_t v = normalizeIndex(idx[e], p.axis_dim);
      if (v < 0) continue;
      T& d = out[base + v * p.data_strides[p.axis]];
      d = reduceScatter(kind, d, upd[e]);
    }
  }
}

template <typename I>
__global__ void tupleOffsetsKernel(const I* __restrict__ idx, int64_t* __restrict__ offsets,
                                   const __grid_constant__ GatherNDPlan p) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < p.rows; r += step)
    offsets[r] = tupleOffset(p, idx, r);
}

template <typename T>
__global__ void scatterNDKernel(const int64_t* __restrict__ offsets, const T* __restrict__ upd, T* __restrict__ out,
                                const __grid_constant__ GatherNDPlan p, ScatterReduction kind) {
  const int64_t n = p.rows * p.block;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t r = e / p.block, c = e - r * p.block;
    const int64_t off = offsets[r];
    if (off < 0) continue;
    bool first = true;  // only the first row with this offset writes, applying all of them in order
    for (int64_t q = 0; q < r && first; ++q) first = offsets[q] != off;
    if (!first) continue;
    T v = out[off + c];
    for (int64_t q = r; q < p.rows; ++q)
      if (offsets[q] == off) v = reduceScatter(kind, v, upd[q * p.block + c]);
    out[off + c] = v;
  }
}

template <typename F>
void dispatchIndex(bool int64, F&& f) {
  if (int64) f(TypeTag<int64_t>{});
  else f(TypeTag<int32_t>{});
}

}  // namespace

void launchGatherND(const GatherNDPlan& plan, const void* data, const void* indices, void* out, cudaStream_t stream) {
  const int64_t n = plan.rows * plan.block;
  if (n == 0) return;
  dispatchUnit(plan.element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    dispatchIndex(plan.indices_int64, [&](auto index) {
      using I = typename decltype(index)::type;
      gatherNDKernel<U, I><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const U*>(data),
                                                                 static_cast<const I*>(indices), static_cast<U*>(out), plan);
    });
  });
}

void launchGatherElements(const ElementsPlan& plan, const void* data, const void* indices, void* out,
                          cudaStream_t stream) {
  if (plan.n == 0) return;
  dispatchUnit(plan.element_size, [&](auto unit) {
    using U = typename decltype(unit)::type;
    dispatchIndex(plan.indices_int64, [&](auto index) {
      using I = typename decltype(index)::type;
      gatherElementsKernel<U, I><<<gridFor(plan.n), kThreads, 0, stream>>>(
          static_cast<const U*>(data), static_cast<const I*>(indices), static_cast<U*>(out), plan);
    });
  });
}

void launchScatterElements(const ElementsPlan& plan, ScatterReduction reduction, DataType type, const void* indices,
                           const void* updates, void* out, cudaStream_t stream) {
  const int64_t len = plan.rank > 0 ? plan.idx_dims[plan.axis] : 0;
  if (plan.n == 0 || len == 0) return;
  const int64_t lines = plan.n / len;
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatchIndex(plan.indices_int64, [&](auto index) {
      using I = typename decltype(index)::type;
      scatterElementsKernel<T, I><<<gridFor(lines), kThreads, 0, stream>>>(
          static_cast<const I*>(indices), static_cast<const T*>(updates), static_cast<T*>(out), plan, reduction);
    });
  });
}

void launchScatterND(const GatherNDPlan& plan, ScatterReduction reduction, DataType type, const void* indices,
                     const void* updates, void* out, int64_t* offsets, cudaStream_t stream) {
  if (plan.rows == 0 || plan.block == 0) return;
  dispatchIndex(plan.indices_int64, [&](auto index) {
    using I = typename decltype(index)::type;
    tupleOffsetsKernel<I><<<gridFor(plan.rows), kThreads, 0, stream>>>(static_cast<const I*>(indices), offsets, plan);
  });
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    scatterNDKernel<T><<<gridFor(plan.rows * plan.block), kThreads, 0, stream>>>(
        offsets, static_cast<const T*>(updates), static_cast<T*>(out), plan, reduction);
  });
}

}  // namespace kiln::cuda
