// Spatial kernels of "cuda.spatial" (the provider is cuda_spatial.cpp). Col2Im gathers: one
// thread per output element walks the block's elements in order and adds the column whose
// window puts that element on it (the reference scatters block element by block element, so
// each output element sees the same additions in the same order), in double.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/spatial.h"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void col2ImKernel(Col2ImGeometry g, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = g.batch * g.channels * g.pixels;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t nc = i / g.pixels;
    int64_t pos[kCol2ImMaxDims];
    for (int64_t rest = i % g.pixels, d = g.dims - 1; d >= 0; --d) {
      pos[d] = rest % g.image[d];
      rest /= g.image[d];
    }
    double acc = 0;
    for (int64_t kk = 0; kk < g.kvol; ++kk) {
      int64_t l = 0;
      bool hit = true;
      for (int64_t rest = kk, d = g.dims - 1, scale = 1; d >= 0 && hit; --d) {
        const int64_t k = rest % g.block[d];
        rest /= g.block[d];
        const int64_t t = pos[d] + g.pads[d] - k * g.dilations[d];
        if (t < 0 || t % g.strides[d] != 0 || t / g.strides[d] >= g.grid[d]) hit = false;
        l += (t / g.strides[d]) * scale;
        scale *= g.grid[d];
      }
      if (hit) acc += loadDouble(x, (nc * g.kvol + kk) * g.columns + l);
    }
    storeDouble(y, i, acc);
  }
}

}  // namespace

void launchCol2Im(DataType type, const void* x, void* y, const Col2ImGeometry& g, cudaStream_t stream) {
  const int64_t total = g.batch * g.channels * g.pixels;
  if (total == 0) return;
  dispatchFloatingType(type, "Col2Im", [&](auto tag) {
    using T = typename decltype(tag)::type;
    col2ImKernel<T><<<gridFor(total), kThreads, 0, stream>>>(g, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

}  // namespace kiln::cuda
