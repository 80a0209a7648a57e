// Shape rules of the recurrent operators RNN, GRU and LSTM (one rule for the family), and the
// attribute decoding their kernels share (recurrent.h).
//
// Inputs: X, W, R, B, sequence_lens, initial_h, and for LSTM initial_c and P. Outputs: Y,
// Y_h, and for LSTM Y_c; every output is optional. Opsets: kiln implements the forms of
// opset 7 on (RNN-7, GRU-7, LSTM-7; 14 added `layout`, 22 only added bfloat16). Opsets 1 to 6
// had the `output_sequence` attribute (and GRU-1 no linear_before_reset); they are not taken.
//
// With H = hidden_size, D = num_directions (2 if bidirectional), G = gates (1, 3, 4):
//   layout 0: X [S, N, I], Y [S, D, N, H], Y_h / Y_c / initial_h / initial_c [D, N, H]
//   layout 1: X [N, S, I], Y [N, S, D, H], Y_h / Y_c / initial_h / initial_c [N, D, H]
//   W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H], sequence_lens [N] (int32), P [D, 3*H]
#include "ir/ops/recurrent.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "ir/onnx_types.h"
#include "ir/op_schema.h"

namespace kiln::ir {

RecurrentCell recurrentCellOf(const std::string& op) {
  if (op == "GRU") return RecurrentCell::kGRU;
  if (op == "LSTM") return RecurrentCell::kLSTM;
  return RecurrentCell::kRNN;
}

int recurrentGates(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::kRNN: return 1;
    case RecurrentCell::kGRU: return 3;
    case RecurrentCell::kLSTM: return 4;
  }
  return 1;
}

int recurrentActivationsPerDirection(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::kRNN: return 1;
    case RecurrentCell::kGRU: return 2;
    case RecurrentCell::kLSTM: return 3;
  }
  return 1;
}

RecurrentDirection recurrentDirection(const Attributes& attrs) {
  const std::string d = attrs.s("direction", "forward");
  if (d == "forward") return RecurrentDirection::kForward;
  if (d == "reverse") return RecurrentDirection::kReverse;
  if (d == "bidirectional") return RecurrentDirection::kBidirectional;
  throw Error(ErrorCode::kInvalidModel,
              attrs.owner + ": direction must be forward, reverse or bidirectional, not \"" + d + "\"");
}

double RecurrentActivation::operator()(double x) const {
  using K = Kind;
  switch (kind) {
    case K::kRelu: return std::max(x, 0.0);
    case K::kTanh: return std::tanh(x);
    case K::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case K::kAffine: return alpha * x + beta;
    case K::kLeakyRelu: return x >= 0.0 ? x : alpha * x;
    case K::kThresholdedRelu: return x >= alpha ? x : 0.0;
    case K::kScaledTanh: return alpha * std::tanh(beta * x);
    case K::kHardSigmoid: return std::clamp(alpha * x + beta, 0.0, 1.0);
    case K::kElu: return x >= 0.0 ? x : alpha * std::expm1(x);
    case K::kSoftsign: return x / (1.0 + std::abs(x));
    case K::kSoftplus: return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return x;
}

namespace {

//! A function's kind, how many of (alpha, beta) it reads, and their ONNX defaults.
struct ActivationEntry {
  const char* name;
  RecurrentActivation::Kind kind;
  int params;  //!< 0: none, 1: alpha, 2: alpha and beta
  double alpha, beta;
};

constexpr ActivationEntry kActivations[] = {
    {"relu", RecurrentActivation::Kind::kRelu, 0, 0.0, 0.0},
    {"tanh", RecurrentActivation::Kind::kTanh, 0, 0.0, 0.0},
    {"sigmoid", RecurrentActivation::Kind::kSigmoid, 0, 0.0, 0.0},
    {"affine", RecurrentActivation::Kind::kAffine, 2, 1.0, 0.0},
    {"leakyrelu", RecurrentActivation::Kind::kLeakyRelu, 1, 0.01, 0.0},
    {"thresholdedrelu", RecurrentActivation::Kind::kThresholdedRelu, 1, 1.0, 0.0},
    {"scaledtanh", RecurrentActivation::Kind::kScaledTanh, 2, 1.0, 1.0},
    {"hardsigmoid", RecurrentActivation::Kind::kHardSigmoid, 2, 0.2, 0.5},
    {"elu", RecurrentActivation::Kind::kElu, 1, 1.0, 0.0},
    {"softsign", RecurrentActivation::Kind::kSoftsign, 0, 0.0, 0.0},
    {"softplus", RecurrentActivation::Kind::kSoftplus, 0, 0.0, 0.0},
};

const ActivationEntry* findActivation(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const ActivationEntry& e : kActivations)
    if (name == e.name) return &e;
  return nullptr;
}

}  // namespace

std::vector<RecurrentActivation> recurrentActivations(const Attributes& attrs, RecurrentCell cell,
                                                      int64_t num_directions) {
  const size_t per_direction = static_cast<size_t>(recurrentActivationsPerDirection(cell));
  std::vector<std::string> names;
  if (attrs.has("activations")) {
    names = attrs.strings("activations");
  } else {
    static const char* const kDefaults[] = {"Sigmoid", "Tanh", "Tanh"};
    for (size_t d = 0; d < static_cast<size_t>(num_directions); ++d) {
      if (cell == RecurrentCell::kRNN) names.emplace_back("Tanh");
      else names.insert(names.end(), kDefaults, kDefaults + per_direction);
    }
  }
  if (names.size() == per_direction && num_directions == 2) names.insert(names.end(), names.begin(), names.end());
  if (names.size() != per_direction * static_cast<size_t>(num_directions))
    throw Error(ErrorCode::kInvalidModel, attrs.owner + ": activations lists " + std::to_string(names.size()) +
                                              " functions, expected " + std::to_string(per_direction) +
                                              " per direction");
  const std::vector<float> alphas = attrs.floats("activation_alpha", {});
  const std::vector<float> betas = attrs.floats("activation_beta", {});
  size_t next_alpha = 0, next_beta = 0;
  std::vector<RecurrentActivation> out;
  for (const std::string& name : names) {
    const ActivationEntry* e = findActivation(name);
    if (!e)
      throw Error(ErrorCode::kUnsupported, attrs.owner + ": activation function \"" + name + "\" is not supported");
    RecurrentActivation a{.kind = e->kind, .alpha = e->alpha, .beta = e->beta};
    if (e->params >= 1 && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
    if (e->params >= 2 && next_beta < betas.size()) a.beta = betas[next_beta++];
    out.push_back(a);
  }
  return out;
}

namespace {

//! Checks that input `i` (when present) has the rank and the known dims of `expected`, and
//! merges its dims into `expected` (an unknown entry takes the input's dim).
void matchShape(InferContext& ctx, int i, const char* what, Shape& expected) {
  if (!ctx.hasInput(i)) return;
  const Shape& s = ctx.inputShape(i);
  if (s.size() != expected.size())
    ctx.fail(std::string(what) + " must have rank " + std::to_string(expected.size()) + ", got shape " + toString(s));
  for (size_t k = 0; k < s.size(); ++k) {
    if (isKnown(s[k]) && isKnown(expected[k]) && s[k] != expected[k])
      ctx.fail(std::string(what) + " has shape " + toString(s) + ", expected " + toString(expected));
    expected[k] = mergeDims(expected[k], s[k]);
  }
}

//! d * factor when d is known, else unknown.
int64_t times(int64_t d, int64_t factor) { return isKnown(d) ? d * factor : kUnknownDim; }

void inferRecurrent(InferContext& ctx) {
  const RecurrentCell cell = recurrentCellOf(ctx.node().op);
  const DataType type = ctx.inputType(0);
  if (!isFloatingPoint(type) || (type == DataType::kBF16 && ctx.opset() < 22))
    ctx.unsupported(std::string("data type ") + std::string(toString(type)) + " is not supported");
  const int last_input = cell == RecurrentCell::kLSTM ? 7 : 5;
  for (int i = 1; i <= last_input; ++i)
    if (i != 4 && ctx.hasInput(i) && ctx.inputType(i) != type)
      ctx.fail("inputs other than sequence_lens must have the type of X");
  if (ctx.hasInput(4) && ctx.inputType(4) != DataType::kINT32) ctx.fail("sequence_lens must be int32");

  const int64_t layout = ctx.attrs().i("layout", 0);
  if (layout != 0 && layout != 1) ctx.fail("layout must be 0 or 1, got " + std::to_string(layout));
  const int64_t directions = numDirections(recurrentDirection(ctx.attrs()));
  recurrentActivations(ctx.attrs(), cell, directions);  // validates names and count
  const int64_t gates = recurrentGates(cell);

  const Shape& x = ctx.inputShape(0);
  if (x.size() != 3) ctx.fail("X must have rank 3, got shape " + toString(x));
  const int64_t seq = layout == 0 ? x[0] : x[1];
  int64_t batch = layout == 0 ? x[1] : x[0];
  // hidden_size is optional in the spec: R's last dim tells it as well.
  int64_t hidden = ctx.attrs().has("hidden_size") ? ctx.attrs().i("hidden_size") : kUnknownDim;
  if (ctx.attrs().has("hidden_size") && hidden < 1) ctx.fail("hidden_size must be >= 1");
  Shape r{directions, kUnknownDim, hidden};
  matchShape(ctx, 2, "R", r);
  hidden = r[2];
  Shape w{directions, times(hidden, gates), x[2]};
  matchShape(ctx, 1, "W", w);
  r = {directions, times(hidden, gates), hidden};
  matchShape(ctx, 2, "R", r);
  Shape b{directions, times(hidden, 2 * gates)};
  matchShape(ctx, 3, "B", b);
  Shape lens{batch};
  matchShape(ctx, 4, "sequence_lens", lens);
  batch = lens[0];
  for (int i : {5, 6}) {
    if (i == 6 && cell != RecurrentCell::kLSTM) break;
    Shape state = layout == 0 ? Shape{directions, batch, hidden} : Shape{batch, directions, hidden};
    matchShape(ctx, i, i == 5 ? "initial_h" : "initial_c", state);
    batch = layout == 0 ? state[1] : state[0];
    hidden = state[2];
  }
  if (cell == RecurrentCell::kLSTM) {
    Shape p{directions, times(hidden, 3)};
    matchShape(ctx, 7, "P", p);
  }
  if (ctx.hasOutput(0))
    ctx.setOutput(0, type, layout == 0 ? Shape{seq, directions, batch, hidden} : Shape{batch, seq, directions, hidden});
  const Shape state = layout == 0 ? Shape{directions, batch, hidden} : Shape{batch, directions, hidden};
  for (int o = 1; o < ctx.numOutputs(); ++o) ctx.setOutput(o, type, state);
}

KILN_REGISTER_OP({.name = "RNN",
                  .min_inputs = 3,
                  .max_inputs = 6,
                  .min_outputs = 0,
                  .max_outputs = 2,
                  .since_opset = 7,
                  .infer = inferRecurrent});
KILN_REGISTER_OP({.name = "GRU",
                  .min_inputs = 3,
                  .max_inputs = 6,
                  .min_outputs = 0,
                  .max_outputs = 2,
                  .since_opset = 7,
                  .infer = inferRecurrent});
KILN_REGISTER_OP({.name = "LSTM",
                  .min_inputs = 3,
                  .max_inputs = 8,
                  .min_outputs = 0,
                  .max_outputs = 3,
                  .since_opset = 7,
                  .infer = inferRecurrent});

}  // namespace
}  // namespace kiln::ir
