// Launcher of the general ONNX Attention kernel (onnx_attention.cu), called by the
// "cuda.onnx_attention" provider (cuda_onnx_attention.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! Every variant of ONNX Attention (opsets 23 to 25): 3-D or 4-D Q/K/V, grouped heads, a bool or
//! float mask of rank 1 to 4 (right-aligned to [B, Hq, Sq, columns], size-1 dims broadcast,
//! keys past its columns masked), is_causal, past key/value, nonpad_kv_seqlen, the sliding
//! window, scale, softcap and the qk_matmul_output modes.
struct OnnxAttentionProblem {
  DataType type = DataType::kFLOAT, mask_type = DataType::kBOOL;
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, past = 0, dim = 0, v_dim = 0;
  bool seq_first = false;  //!< 3-D Q/K/V and Y ([B, S, H * D])
  bool has_mask = false, causal = false, has_nonpad = false;
  int64_t mask_strides[4] = {}, mask_columns = 0;
  double scale = 1.0, softcap = 0.0;
  int64_t left_window = -1, right_window = -1;
  int mode = 0;  //!< qk_matmul_output_mode
};

struct OnnxAttentionArgs {
  const void *q, *k, *v, *mask, *past_k, *past_v;
  const int64_t* nonpad;
  void *y, *present_k, *present_v, *qk;  // each output may be null
};

//! One thread per (batch, query head, query row); scores, softmax and the weighted sum in
//! double, as the reference.
void launchOnnxAttention(const OnnxAttentionProblem& p, const OnnxAttentionArgs& a, cudaStream_t stream);

}  // namespace kiln::cuda
