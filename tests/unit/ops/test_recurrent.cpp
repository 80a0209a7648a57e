// RNN, GRU and LSTM on the CPU reference backend against their gate formulas written out by
// hand for one hidden unit (two for RNN), so that a swapped gate, bias or peephole, a wrong
// reset placement, direction, layout or sequence length shows. Inputs are in double so the
// expectations hold to 1e-12; one case runs in float and one in float16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;
using Inputs = std::vector<std::optional<ir::Tensor>>;

constexpr DataType kD = DataType::kDOUBLE;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

ir::Tensor d(ir::Shape shape, std::vector<double> v) { return tensorOf(std::move(shape), std::move(v), kD); }

std::vector<ir::Tensor> run(const std::string& op, const Inputs& inputs,
                            std::map<std::string, ir::AttributeValue> attrs, int num_outputs) {
  return testing::runNodeOutputs(op, inputs, attrsOf(op, std::move(attrs)), num_outputs, 22);
}

void expectShape(const ir::Tensor& t, const Ints& shape) { EXPECT_EQ(t.shape(), shape); }

// Two steps of a 2-unit RNN with both biases and an initial state: H_t = tanh(W x + R H + Wb + Rb).
TEST(RNN, TanhCellTwoStepsWithBiasAndInitialState) {
  const ir::Tensor x = d({2, 1, 2}, {0.5, -1.0, 0.25, 0.75});
  const ir::Tensor w = d({1, 2, 2}, {0.3, -0.2, 0.1, 0.4});
  const ir::Tensor r = d({1, 2, 2}, {0.6, -0.5, 0.2, 0.7});
  const ir::Tensor b = d({1, 4}, {0.05, -0.1, 0.02, 0.03});
  const ir::Tensor h0 = d({1, 1, 2}, {0.1, -0.2});
  auto out = run("RNN", {x, w, r, b, std::nullopt, h0}, {{"hidden_size", int64_t{2}}}, 2);
  const double a0 = std::tanh(0.3 * 0.5 - 0.2 * -1.0 + 0.6 * 0.1 - 0.5 * -0.2 + 0.05 + 0.02);
  const double a1 = std::tanh(0.1 * 0.5 + 0.4 * -1.0 + 0.2 * 0.1 + 0.7 * -0.2 - 0.1 + 0.03);
  const double b0 = std::tanh(0.3 * 0.25 - 0.2 * 0.75 + 0.6 * a0 - 0.5 * a1 + 0.05 + 0.02);
  const double b1 = std::tanh(0.1 * 0.25 + 0.4 * 0.75 + 0.2 * a0 + 0.7 * a1 - 0.1 + 0.03);
  expectShape(out[0], {2, 1, 1, 2});
  expectShape(out[1], {1, 1, 2});
  expectNear(out[0], {a0, a1, b0, b1}, 1e-12);
  expectNear(out[1], {b0, b1}, 1e-12);
}

// One GRU unit, two steps. Gates stacked z, r, h in W, R and both halves of B.
struct GruCase {
  double wz = 0.4, wz2 = -0.3, wr = 0.2, wr2 = 0.5, wh = -0.6, wh2 = 0.1;  // W [1, 3, 2]
  double rz = 0.7, rr = -0.4, rh = 0.9;                                    // R [1, 3, 1]
  double wbz = 0.1, wbr = -0.2, wbh = 0.05, rbz = 0.03, rbr = 0.15, rbh = -0.25;
  double h0 = 0.3;
  double x[2][2] = {{0.8, -0.5}, {-0.3, 1.2}};

  Inputs inputs() const {
    return {d({2, 1, 2}, {x[0][0], x[0][1], x[1][0], x[1][1]}),
            d({1, 3, 2}, {wz, wz2, wr, wr2, wh, wh2}),
            d({1, 3, 1}, {rz, rr, rh}),
            d({1, 6}, {wbz, wbr, wbh, rbz, rbr, rbh}),
            std::nullopt,
            d({1, 1, 1}, {h0})};
  }
  double step(const double* xt, double h, bool linear_before_reset) const {
    const double z = sigmoid(wz * xt[0] + wz2 * xt[1] + wbz + rz * h + rbz);
    const double rg = sigmoid(wr * xt[0] + wr2 * xt[1] + wbr + rr * h + rbr);
    const double n = linear_before_reset ? std::tanh(wh * xt[0] + wh2 * xt[1] + wbh + rg * (rh * h + rbh))
                                         : std::tanh(wh * xt[0] + wh2 * xt[1] + wbh + rh * (rg * h) + rbh);
    return (1.0 - z) * n + z * h;
  }
};

TEST(GRU, ResetAppliedToHiddenStateBeforeTheRecurrentProduct) {
  const GruCase c;
  auto out = run("GRU", c.inputs(), {{"hidden_size", int64_t{1}}}, 2);
  const double h1 = c.step(c.x[0], c.h0, false), h2 = c.step(c.x[1], h1, false);
  expectShape(out[0], {2, 1, 1, 1});
  expectNear(out[0], {h1, h2}, 1e-12);
  expectNear(out[1], {h2}, 1e-12);
  // The other form gives different numbers here, so the test tells them apart.
  EXPECT_GT(std::abs(c.step(c.x[0], c.h0, true) - h1), 1e-3);
}

TEST(GRU, LinearBeforeResetAppliesResetAfterTheRecurrentProductAndBias) {
  const GruCase c;
  auto out = run("GRU", c.inputs(), {{"hidden_size", int64_t{1}}, {"linear_before_reset", int64_t{1}}}, 2);
  const double h1 = c.step(c.x[0], c.h0, true), h2 = c.step(c.x[1], h1, true);
  expectNear(out[0], {h1, h2}, 1e-12);
  expectNear(out[1], {h2}, 1e-12);
}

// activation_alpha / activation_beta are read in order by the functions that take them:
// HardSigmoid takes alpha 0.3 and beta 0.6, LeakyRelu the next alpha, 0.2.
TEST(GRU, ActivationParametersConsumedInOrder) {
  GruCase c;
  c.wh = -1.5;  // drive the candidate negative, where LeakyRelu's alpha shows
  auto out = run("GRU", c.inputs(),
                 {{"hidden_size", int64_t{1}},
                  {"activations", std::vector<std::string>{"HardSigmoid", "LeakyRelu"}},
                  {"activation_alpha", std::vector<float>{0.3f, 0.2f}},
                  {"activation_beta", std::vector<float>{0.6f}}},
                 2);
  const double a = double(0.3f), bb = double(0.6f), leak = double(0.2f);
  auto hs = [&](double v) { return std::clamp(a * v + bb, 0.0, 1.0); };
  auto lrelu = [&](double v) { return v >= 0.0 ? v : leak * v; };
  auto step = [&](const double* xt, double h) {
    const double z = hs(c.wz * xt[0] + c.wz2 * xt[1] + c.wbz + c.rz * h + c.rbz);
    const double rg = hs(c.wr * xt[0] + c.wr2 * xt[1] + c.wbr + c.rr * h + c.rbr);
    const double n = lrelu(c.wh * xt[0] + c.wh2 * xt[1] + c.wbh + c.rh * (rg * h) + c.rbh);
    return (1.0 - z) * n + z * h;
  };
  const double h1 = step(c.x[0], c.h0), h2 = step(c.x[1], h1);
  ASSERT_LT(c.wh * c.x[0][0] + c.wh2 * c.x[0][1], 0.0);
  expectNear(out[0], {h1, h2}, 1e-12);
}

// One LSTM unit, gates stacked i, o, f, c; peepholes P = [Pi, Po, Pf]; o sees the new cell.
struct LstmCase {
  double w[4][1] = {{0.5}, {-0.4}, {0.3}, {0.8}};  // i, o, f, c; input_size 1
  double r[4] = {0.2, 0.6, -0.7, 0.4};
  double wb[4] = {0.1, -0.05, 0.2, 0.02}, rb[4] = {-0.03, 0.07, 0.1, -0.15};
  double p[3] = {0.25, -0.35, 0.45};
  double h0 = -0.2, c0 = 0.6;

  //! States [D, N, H] (layout 0) or [N, D, H] (batch_first).
  Inputs inputs(const ir::Tensor& x, int64_t batch, bool batch_first = false) const {
    std::vector<double> h(batch, h0), cc(batch, c0);
    const ir::Shape state = batch_first ? ir::Shape{batch, 1, 1} : ir::Shape{1, batch, 1};
    return {x,
            d({1, 4, 1}, {w[0][0], w[1][0], w[2][0], w[3][0]}),
            d({1, 4, 1}, {r[0], r[1], r[2], r[3]}),
            d({1, 8}, {wb[0], wb[1], wb[2], wb[3], rb[0], rb[1], rb[2], rb[3]}),
            std::nullopt,
            d(state, h),
            d(state, cc),
            d({1, 3}, {p[0], p[1], p[2]})};
  }
  //! One step: returns (H, C).
  std::pair<double, double> step(double x, double h, double c, bool input_forget = false) const {
    const double i = sigmoid(w[0][0] * x + r[0] * h + p[0] * c + wb[0] + rb[0]);
    const double f = input_forget ? 1.0 - i : sigmoid(w[2][0] * x + r[2] * h + p[2] * c + wb[2] + rb[2]);
    const double cand = std::tanh(w[3][0] * x + r[3] * h + wb[3] + rb[3]);
    const double cn = f * c + i * cand;
    const double o = sigmoid(w[1][0] * x + r[1] * h + p[1] * cn + wb[1] + rb[1]);
    return {o * std::tanh(cn), cn};
  }
};

TEST(LSTM, GatesPeepholesAndCellStateTwoSteps) {
  const LstmCase c;
  auto out = run("LSTM", c.inputs(d({2, 1, 1}, {0.7, -0.9}), 1), {{"hidden_size", int64_t{1}}}, 3);
  const auto [h1, c1] = c.step(0.7, c.h0, c.c0);
  const auto [h2, c2] = c.step(-0.9, h1, c1);
  expectShape(out[0], {2, 1, 1, 1});
  expectShape(out[2], {1, 1, 1});
  expectNear(out[0], {h1, h2}, 1e-12);
  expectNear(out[1], {h2}, 1e-12);
  expectNear(out[2], {c2}, 1e-12);
}

TEST(LSTM, InputForgetCouplesForgetGateToOneMinusInput) {
  const LstmCase c;
  auto out = run("LSTM", c.inputs(d({2, 1, 1}, {0.7, -0.9}), 1),
                 {{"hidden_size", int64_t{1}}, {"input_forget", int64_t{1}}}, 3);
  const auto [h1, c1] = c.step(0.7, c.h0, c.c0, true);
  const auto [h2, c2] = c.step(-0.9, h1, c1, true);
  expectNear(out[0], {h1, h2}, 1e-12);
  expectNear(out[2], {c2}, 1e-12);
}

// layout = 1: X [N, S, I], Y [N, S, D, H], states [N, D, H]; two rows of two steps.
TEST(LSTM, BatchFirstLayout) {
  const LstmCase c;
  const ir::Tensor x = d({2, 2, 1}, {0.7, -0.9, -0.4, 0.3});  // row 0: 0.7, -0.9; row 1: -0.4, 0.3
  auto out = run("LSTM", c.inputs(x, 2, true), {{"hidden_size", int64_t{1}}, {"layout", int64_t{1}}}, 3);
  const auto [a1, ac1] = c.step(0.7, c.h0, c.c0);
  const auto [a2, ac2] = c.step(-0.9, a1, ac1);
  const auto [b1, bc1] = c.step(-0.4, c.h0, c.c0);
  const auto [b2, bc2] = c.step(0.3, b1, bc1);
  expectShape(out[0], {2, 2, 1, 1});
  expectShape(out[1], {2, 1, 1});
  expectNear(out[0], {a1, a2, b1, b2}, 1e-12);
  expectNear(out[1], {a2, b2}, 1e-12);
  expectNear(out[2], {ac2, bc2}, 1e-12);
}

// Bidirectional with sequence_lens: direction 1 runs backwards from each row's last valid
// step, Y is zero past a row's length, Y_h is the state after each direction's last step.
// H = 1, I = 1, S = 3, N = 2, lengths {3, 2}; direction d: H_t = tanh(w_d x + r_d H + b_d).
TEST(RNN, BidirectionalWithSequenceLengths) {
  const double wv[2] = {0.9, -0.6}, rv[2] = {0.5, 0.8}, wb[2] = {0.1, -0.2}, rb[2] = {0.05, 0.3};
  const double xv[3][2] = {{0.4, -0.7}, {1.1, 0.2}, {-0.5, 0.9}};  // [t][b]
  Inputs in{d({3, 2, 1}, {xv[0][0], xv[0][1], xv[1][0], xv[1][1], xv[2][0], xv[2][1]}),
            d({2, 1, 1}, {wv[0], wv[1]}),
            d({2, 1, 1}, {rv[0], rv[1]}),
            d({2, 2}, {wb[0], rb[0], wb[1], rb[1]}),
            tensorOf({2}, {3, 2}, DataType::kINT32),
            std::nullopt};
  auto out = run("RNN", in, {{"hidden_size", int64_t{1}}, {"direction", std::string("bidirectional")}}, 2);
  auto cell = [&](int dir, double x, double h) { return std::tanh(wv[dir] * x + rv[dir] * h + wb[dir] + rb[dir]); };
  // Row 0, length 3.
  const double f00 = cell(0, xv[0][0], 0.0), f01 = cell(0, xv[1][0], f00), f02 = cell(0, xv[2][0], f01);
  const double r02 = cell(1, xv[2][0], 0.0), r01 = cell(1, xv[1][0], r02), r00 = cell(1, xv[0][0], r01);
  // Row 1, length 2: the reverse direction starts at t = 1.
  const double f10 = cell(0, xv[0][1], 0.0), f11 = cell(0, xv[1][1], f10);
  const double r11 = cell(1, xv[1][1], 0.0), r10 = cell(1, xv[0][1], r11);
  expectShape(out[0], {3, 2, 2, 1});
  expectShape(out[1], {2, 2, 1});
  // Y [t][d][b]
  expectNear(out[0], {f00, f10, r00, r10, f01, f11, r01, r11, f02, 0.0, r02, 0.0}, 1e-12);
  expectNear(out[1], {f02, f11, r00, r10}, 1e-12);
}

// layout = 1 and bidirectional: initial_h and Y_h are [N, D, H], Y is [N, S, D, H]; each
// (row, direction) starts from its own state.
TEST(RNN, BatchFirstBidirectionalStates) {
  const double wv[2] = {0.7, -0.4}, rv[2] = {-0.5, 0.6};
  const double xv[2][2] = {{0.3, -0.8}, {1.2, 0.5}};   // [b][t]
  const double hv[2][2] = {{0.2, -0.6}, {0.9, -0.1}};  // [b][d]
  Inputs in{d({2, 2, 1}, {xv[0][0], xv[0][1], xv[1][0], xv[1][1]}),
            d({2, 1, 1}, {wv[0], wv[1]}),
            d({2, 1, 1}, {rv[0], rv[1]}),
            std::nullopt,
            std::nullopt,
            d({2, 2, 1}, {hv[0][0], hv[0][1], hv[1][0], hv[1][1]})};
  auto out = run("RNN", in,
                 {{"hidden_size", int64_t{1}}, {"direction", std::string("bidirectional")}, {"layout", int64_t{1}}}, 2);
  auto cell = [&](int dir, double x, double h) { return std::tanh(wv[dir] * x + rv[dir] * h); };
  std::vector<double> y, yh;
  for (int b = 0; b < 2; ++b) {
    const double f0 = cell(0, xv[b][0], hv[b][0]), f1 = cell(0, xv[b][1], f0);
    const double r1 = cell(1, xv[b][1], hv[b][1]), r0 = cell(1, xv[b][0], r1);
    y.insert(y.end(), {f0, r0, f1, r1});  // [t][d] within row b
    yh.insert(yh.end(), {f1, r0});
  }
  expectShape(out[0], {2, 2, 2, 1});
  expectShape(out[1], {2, 2, 1});
  expectNear(out[0], y, 1e-12);
  expectNear(out[1], yh, 1e-12);
}

TEST(RNN, ReverseDirectionDefaultStateAndClip) {
  // Affine(1, 0) is the identity, so the output is the clipped pre-activation.
  const ir::Tensor x = d({3, 1, 1}, {0.3, 2.0, -0.1});
  auto out = run("RNN", {x, d({1, 1, 1}, {0.8}), d({1, 1, 1}, {0.5})},
                 {{"hidden_size", int64_t{1}},
                  {"direction", std::string("reverse")},
                  {"activations", std::vector<std::string>{"Affine"}},
                  {"activation_alpha", std::vector<float>{1.0f}},
                  {"activation_beta", std::vector<float>{0.0f}},
                  {"clip", 0.5f}},
                 2);
  const double h2 = std::clamp(0.8 * -0.1, -0.5, 0.5);
  const double h1 = std::clamp(0.8 * 2.0 + 0.5 * h2, -0.5, 0.5);
  const double h0 = std::clamp(0.8 * 0.3 + 0.5 * h1, -0.5, 0.5);
  expectNear(out[0], {h0, h1, h2}, 1e-12);
  expectNear(out[1], {h0}, 1e-12);
}

// Every activation function, through an RNN whose pre-activation is the input itself (W = 1,
// R = 0): Y_t = f(x_t), with alpha 0.7 and beta 0.4 for the functions that take them.
TEST(RNN, EachActivationFunction) {
  const std::vector<double> xs = {-1.5, -0.2, 0.0, 0.7, 2.5};
  const double a = double(0.7f), b = double(0.4f);
  const std::vector<std::pair<std::string, std::function<double(double)>>> cases = {
      {"Relu", [](double v) { return v > 0.0 ? v : 0.0; }},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"Sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"Affine", [&](double v) { return a * v + b; }},
      {"LeakyRelu", [&](double v) { return v >= 0.0 ? v : a * v; }},
      {"ThresholdedRelu", [&](double v) { return v >= a ? v : 0.0; }},
      {"ScaledTanh", [&](double v) { return a * std::tanh(b * v); }},
      {"HardSigmoid", [&](double v) { return std::min(std::max(a * v + b, 0.0), 1.0); }},
      {"Elu", [&](double v) { return v >= 0.0 ? v : a * (std::exp(v) - 1.0); }},
      {"Softsign", [](double v) { return v / (1.0 + std::abs(v)); }},
      {"Softplus", [](double v) { return std::log(1.0 + std::exp(v)); }},
  };
  for (const auto& [name, f] : cases) {
    auto out = run("RNN", {d({5, 1, 1}, xs), d({1, 1, 1}, {1.0}), d({1, 1, 1}, {0.0})},
                   {{"hidden_size", int64_t{1}},
                    {"activations", std::vector<std::string>{name}},
                    {"activation_alpha", std::vector<float>{0.7f}},
                    {"activation_beta", std::vector<float>{0.4f}}},
                   2);
    std::vector<double> want;
    for (double v : xs) want.push_back(f(v));
    SCOPED_TRACE(name);
    expectNear(out[0], want, 1e-12);
  }
}

// Float and float16 store the double result in their type.
TEST(LSTM, FloatAndHalfStoreInTheirType) {
  const LstmCase c;
  const auto [h1, c1] = c.step(0.7, c.h0, c.c0);
  for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
    Inputs in = c.inputs(d({1, 1, 1}, {0.7}), 1);
    for (auto& t : in)
      if (t) t = t->cast(type);
    auto out = run("LSTM", in, {{"hidden_size", int64_t{1}}}, 3);
    EXPECT_EQ(out[0].type(), type);
    expectNear(out[1], {h1}, type == DataType::kHALF ? 3e-3 : 1e-6);
    expectNear(out[2], {c1}, type == DataType::kHALF ? 3e-3 : 1e-6);
  }
}

TEST(RecurrentShape, OutputsForBothLayoutsAndAbsentOutputs) {
  const int64_t batch = ir::kFirstSymbol;  // a symbolic batch survives
  auto attrs = [](int64_t layout) {
    return attrsOf("LSTM",
                   {{"hidden_size", int64_t{5}}, {"direction", std::string("bidirectional")}, {"layout", layout}});
  };
  auto out =
      nn_testing::infer("LSTM", {info(kD, {7, batch, 3}), info(kD, {2, 20, 3}), info(kD, {2, 20, 5})}, attrs(0), 3, 22);
  EXPECT_EQ(out[0].shape, (Ints{7, 2, batch, 5}));
  EXPECT_EQ(out[1].shape, (Ints{2, batch, 5}));
  EXPECT_EQ(out[2].shape, (Ints{2, batch, 5}));
  out =
      nn_testing::infer("LSTM", {info(kD, {batch, 7, 3}), info(kD, {2, 20, 3}), info(kD, {2, 20, 5})}, attrs(1), 3, 22);
  EXPECT_EQ(out[0].shape, (Ints{batch, 7, 2, 5}));
  EXPECT_EQ(out[1].shape, (Ints{batch, 2, 5}));
  // hidden_size from R when the attribute is absent; GRU has 3 gates.
  out = nn_testing::infer("GRU", {info(kD, {4, 2, 3}), info(kD, {1, 12, 3}), info(kD, {1, 12, 4})}, attrsOf("GRU", {}),
                          2, 14);
  EXPECT_EQ(out[0].shape, (Ints{4, 1, 2, 4}));
  EXPECT_EQ(out[1].shape, (Ints{1, 2, 4}));
  // Only Y_h wanted (Y absent): the one-node helper marks output 0 absent.
  auto only_h = testing::runNodeOutputs("RNN", {d({1, 1, 1}, {0.5}), d({1, 1, 1}, {0.4}), d({1, 1, 1}, {0.3})},
                                        attrsOf("RNN", {{"hidden_size", int64_t{1}}}), 2, 22, {}, {0});
  EXPECT_EQ(only_h[0].numel(), 0);
  expectNear(only_h[1], {std::tanh(0.2)}, 1e-12);
}

TEST(RecurrentShape, RejectsBadShapesAttributesAndTypes) {
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  const auto unsupported = static_cast<int>(ErrorCode::kUnsupported);
  const auto x = info(kD, {4, 2, 3});
  auto err = [&](const std::string& op, std::vector<ir::TensorInfo> in, std::map<std::string, ir::AttributeValue> a) {
    return nn_testing::inferError(op, in, attrsOf(op, std::move(a)), 2, 22);
  };
  // W rows must be gates * hidden_size.
  EXPECT_EQ(err("GRU", {x, info(kD, {1, 8, 3}), info(kD, {1, 12, 4})}, {{"hidden_size", int64_t{4}}}), invalid);
  // R's last dim is hidden_size.
  EXPECT_EQ(err("RNN", {x, info(kD, {1, 4, 3}), info(kD, {1, 4, 3})}, {{"hidden_size", int64_t{4}}}), invalid);
  // num_directions of W must match direction.
  EXPECT_EQ(err("RNN", {x, info(kD, {1, 4, 3}), info(kD, {1, 4, 4})}, {{"direction", std::string("bidirectional")}}),
            invalid);
  EXPECT_EQ(err("RNN", {x, info(kD, {1, 4, 3}), info(kD, {1, 4, 4})}, {{"direction", std::string("sideways")}}),
            invalid);
  EXPECT_EQ(err("RNN", {x, info(kD, {1, 4, 3}), info(kD, {1, 4, 4})}, {{"layout", int64_t{2}}}), invalid);
  EXPECT_EQ(err("LSTM", {x, info(kD, {1, 16, 3}), info(kD, {1, 16, 4})},
                {{"activations", std::vector<std::string>{"Sigmoid", "Tanh"}}}),
            invalid);
  EXPECT_EQ(
      err("RNN", {x, info(kD, {1, 4, 3}), info(kD, {1, 4, 4})}, {{"activations", std::vector<std::string>{"Swish"}}}),
      unsupported);
  EXPECT_EQ(
      err("RNN",
          {info(DataType::kINT32, {4, 2, 3}), info(DataType::kINT32, {1, 4, 3}), info(DataType::kINT32, {1, 4, 4})},
          {}),
      unsupported);
  for (const char* op : {"RNN", "GRU", "LSTM"}) EXPECT_EQ(ir::findSchema(op)->since_opset, 7) << op;
}

}  // namespace
}  // namespace kiln
