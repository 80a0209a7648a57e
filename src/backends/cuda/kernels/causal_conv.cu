// CausalConvWithState: one thread per output element (and per present_state element), in
// double as the reference (backends/cpu/kernels/assorted.cpp).
#include "backends/cuda/kernels/causal_conv.h"
#include "backends/cuda/kernels/common.cuh"

namespace kiln::cuda {
namespace {

//! Element i of row (b, c): past for i < k - 1, x after.
template <typename T>
__device__ __forceinline__ double rowAt(const T* x, const T* past, int64_t bc, int64_t i, int64_t state,
                                        int64_t length) {
  if (i < state) return past ? loadDouble(past, bc * state + i) : 0.0;
  return loadDouble(x, bc * length + i - state);
}

template <typename T>
__global__ void causalConvKernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                 const T* __restrict__ past, T* __restrict__ y, T* __restrict__ present, int64_t batch,
                                 int64_t channels, int64_t length, int64_t k, bool silu) {
  const int64_t state = k - 1;
  const int64_t outputs = batch * channels * length, states = present ? batch * channels * state : 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs + states; i += stride) {
    if (i < outputs) {
      const int64_t bc = i / length, t = i - bc * length, c = bc % channels;
      double acc = bias ? loadDouble(bias, c) : 0.0;
      for (int64_t j = 0; j < k; ++j) acc += loadDouble(w, c * k + j) * rowAt(x, past, bc, t + j, state, length);
      storeDouble(y, i, silu ? acc / (1.0 + exp(-acc)) : acc);
    } else {
      const int64_t s = i - outputs, bc = s / state, j = s - bc * state;
      storeDouble(present, s, rowAt(x, past, bc, length + j, state, length));
    }
  }
}

}  // namespace

void launchCausalConv(DataType type, const void* x, const void* w, const void* bias, const void* past, void* y,
                      void* present, int64_t batch, int64_t channels, int64_t length, int64_t k, bool silu,
                      cudaStream_t stream) {
  const int64_t work = batch * channels * (length + (present ? k - 1 : 0));
  if (work == 0) return;
  dispatchAnyType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloating<T>)
      causalConvKernel<T><<<gridFor(work), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), static_cast<const T*>(past),
          static_cast<T*>(y), static_cast<T*>(present), batch, channels, length, k, silu);
    else throw Error(ErrorCode::kInternal, "CausalConvWithState of " + std::string(toString(type)));
  });
}

}  // namespace kiln::cuda
