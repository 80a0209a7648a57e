// Cast (and CastLike) of "cuda.elementwise" where either type is double, int8, int16, uint16,
// uint32 or uint64: one element per thread, ONNX conversion rules (convertTo in common.cuh,
// as ir::Tensor::cast). Cast between the other types is vectorized in elementwise.cu.
#include "backends/cuda/kernels/elementwise_ops.cuh"

namespace kiln::cuda {
namespace {

//! The types elementwise.cu casts between itself.
template <typename T>
constexpr bool kHasVectorCast = kIsFloat16<T> || std::is_same_v<T, float> || std::is_same_v<T, int32_t> ||
                                std::is_same_v<T, int64_t> || std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>;

template <typename TIn, typename TOut>
__global__ void castKernel(const TIn* __restrict__ in, TOut* __restrict__ out, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = convertTo<TOut>(in[i]);
}

}  // namespace

void launchWideCast(DataType in_type, DataType out_type, const void* in, void* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  dispatchAnyType(in_type, [&](auto in_tag) {
    using TIn = typename decltype(in_tag)::type;
    dispatchAnyType(out_type, [&](auto out_tag) {
      using TOut = typename decltype(out_tag)::type;
      if constexpr (!kHasVectorCast<TIn> || !kHasVectorCast<TOut>)
        castKernel<TIn, TOut>
            <<<gridFor(n), kThreads, 0, stream>>>(static_cast<const TIn*>(in), static_cast<TOut*>(out), n);
      else throw Error(ErrorCode::kInternal, "Cast between vectorized types reached the one-element kernel");
    });
  });
}

}  // namespace kiln::cuda
