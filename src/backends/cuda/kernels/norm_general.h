// Launchers of the general normalization kernels (norm_general.cu), called by the
// "cuda.norm_general" provider (cuda_norm_general.cpp): BatchNormalization with statistics
// given at run time (inference) or computed from the batch (training_mode, with the running
// statistics as outputs), and LpNormalization. Arithmetic in double, as the reference.
// Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! BatchNormalization over x [batch, channels, pixels] of `x_type`; scale, bias, mean and var
//! are per-channel vectors of `param_type`. With `training`, the batch's mean and biased
//! variance normalize, and running_mean / running_var (of param_type; either may be null)
//! get input * momentum + batch * (1 - momentum).
struct BatchNormArgs {
  const void *x, *scale, *bias, *mean, *var;
  void *y, *running_mean, *running_var;
  int64_t batch = 0, channels = 0, pixels = 0;
  double epsilon = 1e-5, momentum = 0.9;
  bool training = false;
};
void launchBatchNormGeneral(DataType x_type, DataType param_type, const BatchNormArgs& args, cudaStream_t stream);

//! LpNormalization along the middle axis of [outer, extent, inner]: x / ||x||_p (p 1 or 2);
//! a zero vector stays zero.
void launchLpNormalization(DataType type, const void* x, void* y, int64_t outer, int64_t extent, int64_t inner, int p,
                           cudaStream_t stream);

}  // namespace kiln::cuda
