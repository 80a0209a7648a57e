// The convolution epilogue kernel: bias (per channel), residual and activation applied to Y in
// place, in float (16-bit types convert on load and round once on store). One grid-stride loop
// over vectors of V elements. NCHW: a vector never crosses a channel plane because
// pixels % V == 0, so it reads one bias value. NHWC (channels last): a vector holds V
// consecutive channels of one pixel because channels % V == 0, so it reads V bias values. The plane of a vector costs an integer division: 32-bit where the
// tensor allows it (the kernel is memory-bound, and a 64-bit division per 16 bytes is not free).
// The activation is a runtime switch, uniform across the grid.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_activation.cuh"
#include "backends/cuda/kernels/conv_epilogue.h"

namespace kiln::cuda {
namespace {

template <typename T, int V, typename Index, bool kChannelsLast>
__global__ void convEpilogueKernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ residual,
                                   Index vectors, Index pixels, Index channels, ir::ConvEpilogue epilogue) {
  using Vector = Vec<T, V>;
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index v = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += stride) {
    const Index base = v * V;
    Vector out = *reinterpret_cast<const Vector*>(y + base);
    float b[kChannelsLast ? V : 1] = {};
    if (bias) {
      if constexpr (kChannelsLast) {
        const Index c = base % channels;
#pragma unroll
        for (int i = 0; i < V; ++i) b[i] = static_cast<float>(toCompute(bias[c + i]));
      } else {
        b[0] = static_cast<float>(toCompute(bias[(base / pixels) % channels]));
      }
    }
    Vector r{};
    if (residual) r = *reinterpret_cast<const Vector*>(residual + base);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      float x = static_cast<float>(toCompute(out.v[i])) + b[kChannelsLast ? i : 0];
      if (residual) x += static_cast<float>(toCompute(r.v[i]));
      out.v[i] = convertTo<T>(convActivate(epilogue, x));
    }
    *reinterpret_cast<Vector*>(y + base) = out;
  }
}

template <typename T, int V, bool kChannelsLast>
void launchLayout(T* y, const T* bias, const T* residual, int64_t n, int64_t pixels, int64_t channels,
                  const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  const int64_t vectors = n / V;
  // 32-bit indices when the loop cannot overflow them (the grid stride is below 2^28).
  if (n < (int64_t{1} << 31)) {
    convEpilogueKernel<T, V, uint32_t, kChannelsLast><<<gridFor(vectors), kThreads, 0, stream>>>(
        y, bias, residual, static_cast<uint32_t>(vectors), static_cast<uint32_t>(pixels),
        static_cast<uint32_t>(channels), epilogue);
  } else {
    convEpilogueKernel<T, V, int64_t, kChannelsLast>
        <<<gridFor(vectors), kThreads, 0, stream>>>(y, bias, residual, vectors, pixels, channels, epilogue);
  }
}

template <typename T, int V>
void launchWidth(T* y, const T* bias, const T* residual, int64_t n, int64_t pixels, int64_t channels,
                 bool channels_last, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  if (channels_last) return launchLayout<T, V, true>(y, bias, residual, n, pixels, channels, epilogue, stream);
  launchLayout<T, V, false>(y, bias, residual, n, pixels, channels, epilogue, stream);
}

template <typename T>
void launchTyped(T* y, const T* bias, const T* residual, int64_t batch, int64_t channels, int64_t pixels,
                 bool channels_last, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  const int64_t n = batch * channels * pixels;
  // The widest vector (at most 16 bytes) that divides a plane (channels last: a pixel's
  // channels) and fits every pointer's alignment.
  auto fits = [&](int width) {
    const size_t bytes = static_cast<size_t>(width) * sizeof(T);
    return (channels_last ? channels : pixels) % width == 0 && aligned(y, bytes) &&
           (!residual || aligned(residual, bytes));
  };
  constexpr int kWidest = static_cast<int>(16 / sizeof(T));
  if (fits(kWidest))
    return launchWidth<T, kWidest>(y, bias, residual, n, pixels, channels, channels_last, epilogue, stream);
  if constexpr (kWidest > 4) {
    if (fits(4)) return launchWidth<T, 4>(y, bias, residual, n, pixels, channels, channels_last, epilogue, stream);
  }
  if (fits(2)) return launchWidth<T, 2>(y, bias, residual, n, pixels, channels, channels_last, epilogue, stream);
  launchWidth<T, 1>(y, bias, residual, n, pixels, channels, channels_last, epilogue, stream);
}

}  // namespace

void launchConvEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t batch, int64_t channels,
                        int64_t pixels, bool channels_last, const ir::ConvEpilogue& epilogue, cudaStream_t stream) {
  if (batch <= 0 || channels <= 0 || pixels <= 0) return;
  if (!bias && !residual && epilogue.activation == ir::ConvActivation::kNone) return;
  switch (type) {
    case DataType::kFLOAT:
      return launchTyped(static_cast<float*>(y), static_cast<const float*>(bias), static_cast<const float*>(residual),
                         batch, channels, pixels, channels_last, epilogue, stream);
    case DataType::kHALF:
      return launchTyped(static_cast<__half*>(y), static_cast<const __half*>(bias),
                         static_cast<const __half*>(residual), batch, channels, pixels, channels_last, epilogue, stream);
    case DataType::kBF16:
      return launchTyped(static_cast<__nv_bfloat16*>(y), static_cast<const __nv_bfloat16*>(bias),
                         static_cast<const __nv_bfloat16*>(residual), batch, channels, pixels, channels_last, epilogue, stream);
    default: break;
  }
  throw Error(ErrorCode::kUnsupported,
              "the convolution epilogue kernel has no " + std::string(toString(type)) + " elements");
}

}  // namespace kiln::cuda
