// The GEMM epilogue kernel: bias, activation and residual applied to Y in place, in float
// (the 16-bit types convert on load and round once on store). Y is of the bias's and the
// residual's type, or float32 with 16-bit ones (a FusedMatMul whose Cast to float32 folded in). One grid-stride loop
// over vectors of V elements; a vector never crosses a row because cols % V == 0 whenever V > 1. The activation is a
// runtime switch, uniform across the grid: the kernel is memory-bound, and one instantiation per type and width keeps
// the build small.
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

// Y holds T; bias and residual hold E (T, or the 16-bit type of a layer whose folded Cast
// widens Y to float).
template <typename T, typename E, int V>
__global__ void gemmEpilogueKernel(T* __restrict__ y, const E* __restrict__ bias, const E* __restrict__ residual,
                                   int64_t vectors, int64_t cols, EpilogueActivation act) {
  using Vector = Vec<T, V>;
  using EpilogueVector = Vec<E, V>;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = v * V;
    const int64_t col = base % cols;
    Vector out = *reinterpret_cast<const Vector*>(y + base);
    EpilogueVector b{}, r{};
    if (bias) b = *reinterpret_cast<const EpilogueVector*>(bias + col);
    if (residual) r = *reinterpret_cast<const EpilogueVector*>(residual + base);
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

template <typename T, typename E>
void launchTyped(T* y, const E* bias, const E* residual, int64_t rows, int64_t cols, EpilogueActivation act,
                 cudaStream_t stream) {
  // 16 bytes of Y per vector; bias and residual vectors hold as many elements of E.
  constexpr int kWidth = 16 / sizeof(T);
  constexpr size_t kBytes = 16, kEpilogueBytes = kWidth * sizeof(E);
  const bool vectorized = cols % kWidth == 0 && aligned(y, kBytes) && (!bias || aligned(bias, kEpilogueBytes)) &&
                          (!residual || aligned(residual, kEpilogueBytes));
  const int64_t n = rows * cols;
  if (vectorized) {
    const int64_t vectors = n / kWidth;
    gemmEpilogueKernel<T, E, kWidth><<<gridFor(vectors), kThreads, 0, stream>>>(y, bias, residual, vectors, cols, act);
  } else {
    gemmEpilogueKernel<T, E, 1><<<gridFor(n), kThreads, 0, stream>>>(y, bias, residual, n, cols, act);
  }
}

template <typename E>
void launchWithEpilogueType(DataType type, void* y, const E* bias, const E* residual, int64_t rows, int64_t cols,
                            EpilogueActivation activation, cudaStream_t stream) {
  switch (type) {
    case DataType::kFLOAT: return launchTyped(static_cast<float*>(y), bias, residual, rows, cols, activation, stream);
    case DataType::kHALF:
      if constexpr (std::is_same_v<E, __half>)
        return launchTyped(static_cast<__half*>(y), bias, residual, rows, cols, activation, stream);
      break;
    case DataType::kBF16:
      if constexpr (std::is_same_v<E, __nv_bfloat16>)
        return launchTyped(static_cast<__nv_bfloat16*>(y), bias, residual, rows, cols, activation, stream);
      break;
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, "the GEMM epilogue kernel has no " + std::string(toString(type)) + " output");
}

}  // namespace

void launchGemmEpilogue(DataType type, void* y, const void* bias, const void* residual, int64_t rows, int64_t cols,
                        EpilogueActivation activation, cudaStream_t stream) {
  launchGemmEpilogue(type, type, y, bias, residual, rows, cols, activation, stream);
}

void launchGemmEpilogue(DataType type, DataType epilogue_type, void* y, const void* bias, const void* residual,
                        int64_t rows, int64_t cols, EpilogueActivation activation, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (!bias && !residual && activation == EpilogueActivation::kNone) return;
  // Y of the epilogue's type, or float32 Y with a 16-bit epilogue (supportedGemmEpilogue).
  if (type != epilogue_type && type != DataType::kFLOAT)
    throw Error(ErrorCode::kUnsupported, "the GEMM epilogue kernel applies a " + std::string(toString(epilogue_type)) +
                                             " bias and residual to " + std::string(toString(epilogue_type)) +
                                             " or float32 Y, not to " + std::string(toString(type)));
  switch (epilogue_type) {
    case DataType::kFLOAT:
      return launchWithEpilogueType(type, y, static_cast<const float*>(bias), static_cast<const float*>(residual), rows,
                                    cols, activation, stream);
    case DataType::kHALF:
      return launchWithEpilogueType(type, y, static_cast<const __half*>(bias), static_cast<const __half*>(residual),
                                    rows, cols, activation, stream);
    case DataType::kBF16:
      return launchWithEpilogueType(type, y, static_cast<const __nv_bfloat16*>(bias),
                                    static_cast<const __nv_bfloat16*>(residual), rows, cols, activation, stream);
    default: break;
  }
  throw Error(ErrorCode::kUnsupported,
              "the GEMM epilogue kernel has no " + std::string(toString(epilogue_type)) + " elements");
}

}  // namespace kiln::cuda
