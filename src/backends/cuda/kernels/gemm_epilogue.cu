// The GEMM epilogue kernel: bias, activation and residual applied to Y in place, in float
// (the 16-bit types convert on load and round once on store). One grid-stride loop over
// vectors of V elements; a vector never crosses a row because cols % V == 0 whenever V > 1.
// The activation is a runtime switch, uniform across the grid: the kernel is memory-bound,
// and one instantiation per type and width keeps the build small.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/gemm_epilogue.h"

namespace kiln::cuda {
namespace {

__device__ __forceinline__ float activate(EpilogueActivation act, float x) {
  switch (act) {
    case EpilogueActivation::kRelu: return x > 0.0f ? x : 0.0f;
    case EpilogueActivation::kGeluErf: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case EpilogueActivation::kGeluTanh:  // sqrt(2/pi) = 0.79788456...
      return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    default: return x;
  }
}

template <typename T, int V>
__global__ void gemmEpilogueKernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ residual,
                                   int64_t vectors, int64_t cols, EpilogueActivation act) {
  using Vector = Vec<T, V>;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = v * V;
    const int64_t col = base % cols;
    Vector out = *reinterpret_cast<const Vector*>(y + base);
    Vector b{}, r{};
    if (bias) b = *reinterpret_cast<const Vector*>(bias + col);
    if (residual) r = *reinterpret_cast<const Vector*>(residual + base);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      float x = static_cast<float>(toCompute(out.v[i]));
      if (bias) x += static_cast<float>(toCompute(b.v[i]));
      x = activate(act, x);
      if (residual) x += static_cast<float>(toCompute(r.v[i]));
      out.v[i] = convertTo<T>(x);
    }
    *reinterpret_cast<Vector*>(y + base) = out;
  }
}

template <typename T>
void launchTyped(T* y, const T* bias, const T* residual, int64_t rows, int64_t cols, EpilogueActivation act,
                 cudaStream_t stream) {
  constexpr int kWidth = 16 / sizeof(T);
  constexpr size_t kBytes = 16;
  const bool vectorized = cols % kWidth == 0 && aligned(y, kBytes) && (!bias || aligned(bias, kBytes)) &&
                          (!residual || aligned(residual, kBytes));
  const int64_t n = rows * cols;
  if (vectorized) {
    const int64_t vectors = n / kWidth;
    gemmEpilogueKernel<T, kWidth><<<gridFor(vectors), kThreads, 0, stream>>>(y, bias, residual, vectors, cols, act);
  } else {
    gemmEpilogueKernel<T, 1><<<gridFor(n), kThreads, 0, stream>>>(y, bias, residual, n, cols, act);
  }
}

}  // namespace

void launchGemmEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t rows, int64_t cols,
                        EpilogueActivation activation, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (!bias && !residual && activation == EpilogueActivation::kNone) return;
  switch (type) {
    case DataType::kFLOAT:
      return launchTyped(static_cast<float*>(y), static_cast<const float*>(bias), static_cast<const float*>(residual),
                         rows, cols, activation, stream);
    case DataType::kHALF:
      return launchTyped(static_cast<__half*>(y), static_cast<const __half*>(bias), static_cast<const __half*>(residual),
                         rows, cols, activation, stream);
    case DataType::kBF16:
      return launchTyped(static_cast<__nv_bfloat16*>(y), static_cast<const __nv_bfloat16*>(bias),
                         static_cast<const __nv_bfloat16*>(residual), rows, cols, activation, stream);
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, "the GEMM epilogue kernel has no " + std::string(toString(type)) + " elements");
}

}  // namespace kiln::cuda
