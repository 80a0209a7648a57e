// Launcher of LinearAttention's kernel (linear_attention.cu), called by the
// "cuda.linear_attention" provider (cuda_linear_attention.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

struct LinearAttentionProblem {
  DataType type = DataType::kFLOAT;
  int64_t batch = 0, steps = 0, q_heads = 0, kv_heads = 0, dk = 0, dv = 0;
  bool gated = false, delta = false, has_state = false;
  int64_t decay_width = 0, beta_width = 0;
  double scale = 1.0;
};

//! The state in double: batch * kv_heads * dk * dv values.
size_t linearAttentionWorkspace(const LinearAttentionProblem& p);

//! One thread per (batch, key/value head, value column): the state's column lives in the
//! workspace in double and is updated step by step as the reference does. `state_in`, `decay`,
//! `beta` and `state_out` may be null when absent.
void launchLinearAttention(const LinearAttentionProblem& p, const void* q, const void* k, const void* v,
                           const void* state_in, const void* decay, const void* beta, void* out, void* state_out,
                           void* workspace, cudaStream_t stream);

}  // namespace kiln::cuda
