// Launcher of the NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss kernels (loss.cu),
// called by the "cuda.loss" provider (cuda_loss.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! Scores (or log-probabilities) [n, c, d] of `type`, labels [n, d] (int32 or int64), optional
//! per-class weights [c].
struct LossProblem {
  int64_t n = 0, c = 0, d = 0;
  DataType type = DataType::kFLOAT, label_type = DataType::kINT64;
  bool softmax = false;  //!< SoftmaxCrossEntropyLoss: log-softmax over c first
  bool has_ignore = false;
  int64_t ignore_index = 0;
  int reduction = 0;  //!< 0 none, 1 sum, 2 mean
};

//! Workspace bytes for the reductions (two doubles per label).
size_t lossWorkspace(const LossProblem& p);

//! loss (shape [n, d] for none, one value otherwise) and, when not null, log_prob [n, c, d]
//! (SoftmaxCrossEntropyLoss). In double, as the reference; "mean" divides by the sum of the
//! weights of the labels taken; a label outside [0, c) that is not ignored gives NaN.
void launchLoss(const LossProblem& p, const void* scores, const void* labels, const void* weights, void* loss,
                void* log_prob, void* workspace, cudaStream_t stream);

}  // namespace kiln::cuda
