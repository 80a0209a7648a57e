// The convolution epilogue kernel: bias (per channel), residual and activation applied to Y in
// place, in float (16-bit types convert on load and round once on store). One grid-stride loop
// over vectors of V elements; a vector never crosses a channel plane because pixels % V == 0,
// so it reads one bias value. The plane of a vector costs an integer division: 32-bit where the
// tensor allows it (the kernel is memory-bound, and a 64-bit division per 16 bytes is not free).
// The activation is a runtime switch, uniform across the grid.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_activation.cuh"
#include "backends/cuda/kernels/conv_epilogue.h"

namespace kiln::cuda {
namespace {

template <typename T, int V, typename Index>
__global__ void convEpilogueKernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ residual,
                                   Index vectors, Index pixels, Index channels, ir::ConvEpilogue epilogue) {
  using Vector = Vec<T, V>;
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index v = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += stride) {
    const Index base = v * V;
    Vector out = *reinterpret_cast<const Vector*>(y + base);
    const float b = bias ? static_cast<float>(toCompute(bias[(base / pixels) % channels])) : 0.0f;
    Vector r{};
    if (residual) r = *reinterpret_cast<const Vector*>(residual + base);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      float x = static_cast<float>(toCompute(out.v[i])) + b;
      if (residual) x += static_cast<float>(toCompute(r.v[i]));
      out.v[i] = convertTo<T>(convActivate(epilogue, x));
    }
    *reinterpret_cast<Vector*>(y + base) = out;
  }
}

template <typename T, int V>
void launchWidth(T* y, const T* bias, const T* residual, int64_t n, int64_t pixels, int64_t channels,
                 const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  const int64_t vectors = n / V;
  // 32-bit indices when the loop cannot overflow them (the grid stride is below 2^28).
  if (n < (int64_t{1} << 31)) {
    convEpilogueKernel<T, V, uint32_t><<<gridFor(vectors), kThreads, 0, stream>>>(
        y, bias, residual, static_cast<uint32_t>(vectors), static_cast<uint32_t>(pixels),
        static_cast<uint32_t>(channels), epilogue);
  } else {
    convEpilogueKernel<T, V, int64_t>
        <<<gridFor(vectors), kThreads, 0, stream>>>(y, bias, residual, vectors, pixels, channels, epilogue);
  }
}

template <typename T>
void launchTyped(T* y, const T* bias, const T* residual, int64_t batch, int64_t channels, int64_t pixels,
                 const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  const int64_t n = batch * channels * pixels;
  // The widest vector (at most 16 bytes) that divides a plane and fits every pointer's alignment.
  auto fits = [&](int width) {
    const size_t bytes = static_cast<size_t>(width) * sizeof(T);
    return pixels % width == 0 && aligned(y, bytes) && (!residual || aligned(residual, bytes));
  };
  constexpr int kWidest = static_cast<int>(16 / sizeof(T));
  if (fits(kWidest)) return launchWidth<T, kWidest>(y, bias, residual, n, pixels, channels, epilogue, stream);
  if constexpr (kWidest > 4) {
    if (fits(4)) return launchWidth<T, 4>(y, bias, residual, n, pixels, channels, epilogue, stream);
  }
  if (fits(2)) return launchWidth<T, 2>(y, bias, residual, n, pixels, channels, epilogue, stream);
  launchWidth<T, 1>(y, bias, residual, n, pixels, channels, epilogue, stream);
}

}  // namespace

void launchConvEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t batch, int64_t channels,
                        int64_t pixels, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  if (batch <= 0 || channels <= 0 || pixels <= 0) return;
  if (!bias && !residual && epilogue.activation == ir::ConvActivation::kNone) return;
  switch (type) {
    case DataType::kFLOAT:
      return launchTyped(static_cast<float*>(y), static_cast<const float*>(bias), static_cast<const float*>(residual),
                         batch, channels, pixels, epilogue, stream);
    case DataType::kHALF:
      return launchTyped(static_cast<__half*>(y), static_cast<const __half*>(bias),
                         static_cast<const __half*>(residual), batch, channels, pixels, epilogue, stream);
    case DataType::kBF16:
      return launchTyped(static_cast<__nv_bfloat16*>(y), static_cast<const __nv_bfloat16*>(bias),
                         static_cast<const __nv_bfloat16*>(residual), batch, channels, pixels, epilogue, stream);
    default: break;
  }
  throw Error(ErrorCode::kUnsupported,
              "the convolution epilogue kernel has no " + std::string(toString(type)) + " elements");
}

}  // namespace kiln::cuda
