// Launchers of kiln's fused attention kernels (attention.cu), called by the "cuda.attention"
// provider (cuda_attention.cpp): two tensor-core flash-attention kernels (float16 / bfloat16,
// float accumulation, online softmax): one with WMMA 16x16x16 and its scores and accumulator
// in shared memory, one with mma.sync and everything but the K / V tiles in registers
// (FlashAttention-2 style, cp.async double buffering); and a generic kernel for every head
// size up to 256 in float32 / float16 / bfloat16. Every tensor is addressed by its [b, h, s, d]
// strides, so the bshd layouts exporters produce need no transpose. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

enum class AttentionMaskKind : int {
  kNone,
  kAdditive,       //!< added to the scaled scores, the element type of Q
  kAdditiveFloat,  //!< added to the scaled scores, float32
  kBool,           //!< false masks the key (one byte per element)
};

//! One launch: shapes and strides from the host (reshape), addresses from the run.
struct AttentionParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* mask = nullptr;
  void* out = nullptr;
  int batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  //! Element strides along [b, h, s, d] (the mask: [b, h, i, j], 0 along broadcast dims).
  int64_t q_stride[4] = {}, k_stride[4] = {}, v_stride[4] = {}, out_stride[4] = {}, mask_stride[4] = {};
  AttentionMaskKind mask_kind = AttentionMaskKind::kNone;
  float scale = 1.0f;
  bool causal = false;
  bool zero_masked_rows = false;
};

//! Head sizes the flash kernel is built for (head_dim == value_dim).
inline bool flashAttentionHeadSize(int head_dim, int value_dim) {
  return head_dim == value_dim && (head_dim == 64 || head_dim == 128);
}
//! True when the flash kernel can read these addresses and strides: 16-byte aligned pointers,
//! contiguous head dims and every other stride a multiple of 8 elements.
bool flashAttentionAddressable(const AttentionParams& p);
//! Lets the flash kernel of this type and head size use the shared memory it needs (> 48 KiB).
//! Off the enqueue path (reshape); returns the CUDA status.
cudaError_t prepareFlashAttention(DataType type, int head_dim);
//! Tensor-core flash attention; type float16 or bfloat16, flashAttentionHeadSize.
void launchFlashAttention(DataType type, const AttentionParams& p, cudaStream_t stream);
//! As prepareFlashAttention, for the mma.sync kernel.
cudaError_t prepareFlashMmaAttention(DataType type, int head_dim);
//! Tensor-core flash attention with register-resident scores and accumulator (mma.sync);
//! type float16 or bfloat16, flashAttentionHeadSize, flashAttentionAddressable.
void launchFlashMmaAttention(DataType type, const AttentionParams& p, cudaStream_t stream);
//! One warp per query row, float math; type float32, float16 or bfloat16, head sizes <= 256.
void launchGenericAttention(DataType type, const AttentionParams& p, cudaStream_t stream);

}  // namespace kiln::cuda
