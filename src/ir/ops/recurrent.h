// What the recurrent operators RNN, GRU and LSTM share between their shape rule
// (src/ir/ops/recurrent.cpp) and their CPU reference kernel: the cell kind, the direction and
// layout attributes, and the activation functions with their alpha and beta, decoded once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

enum class RecurrentCell : int32_t { kRNN, kGRU, kLSTM };

//! The cell of op "RNN", "GRU" or "LSTM".
RecurrentCell recurrentCellOf(const std::string& op);
//! Gates stacked in W and R: 1 (RNN), 3 (GRU: z, r, h), 4 (LSTM: i, o, f, c).
int recurrentGates(RecurrentCell cell);
//! Activation functions per direction: 1 (RNN: f), 2 (GRU: f, g), 3 (LSTM: f, g, h).
int recurrentActivationsPerDirection(RecurrentCell cell);

enum class RecurrentDirection : int32_t { kForward, kReverse, kBidirectional };

//! The "direction" attribute; anything but forward, reverse or bidirectional is an invalid model.
RecurrentDirection recurrentDirection(const Attributes& attrs);
inline int64_t numDirections(RecurrentDirection d) { return d == RecurrentDirection::kBidirectional ? 2 : 1; }

//! One activation function with its parameters. Names as in the ONNX spec (compared without
//! regard to case); alpha and beta are only read by the functions that take them.
struct RecurrentActivation {
  enum class Kind : int32_t {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,           //!< alpha * x + beta
    kLeakyRelu,        //!< x >= 0 ? x : alpha * x
    kThresholdedRelu,  //!< x >= alpha ? x : 0 (as the RNN pages write it; the ThresholdedRelu op has >)
    kScaledTanh,       //!< alpha * tanh(beta * x)
    kHardSigmoid,      //!< clamp(alpha * x + beta, 0, 1)
    kElu,              //!< x >= 0 ? x : alpha * (exp(x) - 1)
    kSoftsign,         //!< x / (1 + |x|)
    kSoftplus,         //!< log(1 + exp(x))
  };
  Kind kind = Kind::kTanh;
  double alpha = 0.0, beta = 0.0;

  double operator()(double x) const;
};

//! The activation functions of every direction, direction-major: entry
//! [d * recurrentActivationsPerDirection(cell) + k] is function k (f, g, h) of direction d.
//! Without the "activations" attribute each direction gets the defaults (RNN: Tanh; GRU:
//! Sigmoid, Tanh; LSTM: Sigmoid, Tanh, Tanh). A bidirectional node that lists the functions of
//! one direction only uses them for both. activation_alpha and activation_beta are consumed in
//! order by the functions that take a parameter (so "LeakyRelu, Tanh, LeakyRelu" reads two
//! alphas), each function's ONNX default filling in where the list runs out. Throws
//! kUnsupported for an unknown function name and kInvalidModel for a wrong count.
std::vector<RecurrentActivation> recurrentActivations(const Attributes& attrs, RecurrentCell cell,
                                                      int64_t num_directions);

}  // namespace kiln::ir
