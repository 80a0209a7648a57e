// Launcher of the RNN / GRU / LSTM kernel (recurrent.cu), called by the "cuda.recurrent"
// provider (cuda_recurrent.cpp). Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

//! One activation function (the kinds of ir::RecurrentActivation::Kind, in its order).
struct RecurrentFn {
  int kind = 1;  //!< 0 Relu, 1 Tanh, 2 Sigmoid, 3 Affine, 4 LeakyRelu, 5 ThresholdedRelu, 6 ScaledTanh,
                 //!< 7 HardSigmoid, 8 Elu, 9 Softsign, 10 Softplus
  double alpha = 0.0, beta = 0.0;
};

struct RecurrentProblem {
  static constexpr int kMaxActivations = 6;  //!< 3 per direction, 2 directions
  DataType type = DataType::kFLOAT;
  int cell = 0;  //!< 0 RNN, 1 GRU, 2 LSTM
  int64_t gates = 1, directions = 1, seq = 0, batch = 0, input = 0, hidden = 0;
  bool batch_first = false, reverse_only = false, linear_before_reset = false, input_forget = false;
  double clip = 0.0;
  int per_direction = 1;
  RecurrentFn fns[kMaxActivations];
};

struct RecurrentArgs {
  const void *x, *w, *r, *b, *h0, *c0, *p;
  const void* lens;   //!< int32 sequence_lens, or null (all full length)
  void *y, *yh, *yc;  //!< each may be null
};

//! One block per (batch row, direction), threads over the hidden units, state in shared
//! memory in double, as the reference. Hidden sizes up to kMaxRecurrentHidden. A row whose
//! sequence length lies outside [0, seq] (which the reference refuses) gets NaN outputs.
constexpr int64_t kMaxRecurrentHidden = 1024;
void launchRecurrent(const RecurrentProblem& p, const RecurrentArgs& a, cudaStream_t stream);

}  // namespace kiln::cuda
