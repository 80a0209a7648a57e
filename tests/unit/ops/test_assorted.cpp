// Reference kernels and shape rules of Shrink, SwiGLU, LpNormalization, EyeLike,
// ReverseSequence and Det, against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::inferError;
using nn_testing::info;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

TEST(Shrink, SubtractsBiasOutsideLambdAndZeroesInside) {
  const ir::Tensor x = tensorOf({6}, {-3.0, -1.5, -0.5, 0.25, 1.0, 4.0});
  auto y = runNode("Shrink", {x}, attrsOf("Shrink", {{"lambd", 1.25f}, {"bias", 0.5f}}), 1, 9);
  expectNear(y[0], {-2.5, -1.0, 0.0, 0.0, 0.0, 3.5}, 1e-7);
  // Integers too; the default lambd is 0.5 and bias 0.
  auto yi = runNode("Shrink", {tensorOf({4}, {-2, 0, 1, 3}, DataType::kINT32)}, attrsOf("Shrink", {}), 1, 9);
  EXPECT_EQ(yi[0].toInt64(), (Ints{-2, 0, 1, 3}));
}

TEST(SwiGLU, GatesBBySwishOfAAndBroadcasts) {
  const ir::Tensor a = tensorOf({2, 3}, {-2.0, 0.0, 1.0, 0.5, 3.0, -0.25});
  const ir::Tensor b = tensorOf({3}, {2.0, -1.0, 0.5});
  auto y = runNode("SwiGLU", {a, b}, attrsOf("SwiGLU", {{"alpha", 1.5f}}), 1, 28);
  std::vector<double> want;
  const double av[] = {-2.0, 0.0, 1.0, 0.5, 3.0, -0.25}, bv[] = {2.0, -1.0, 0.5};
  for (int i = 0; i < 6; ++i) want.push_back(av[i] / (1.0 + std::exp(-1.5 * av[i])) * bv[i % 3]);
  expectNear(y[0], want, 1e-6);
  EXPECT_NE(inferError("SwiGLU", {info(DataType::kFLOAT, {2, 3}), info(DataType::kHALF, {2, 3})}, attrsOf("SwiGLU", {}),
                       1, 28),
            0);
  EXPECT_EQ(ir::findSchema("SwiGLU")->since_opset, 28);
}

TEST(LpNormalization, DividesByTheNormAlongTheAxis) {
  // [2, 2] along axis 0: columns (3, 4) and (1, -1).
  const ir::Tensor x = tensorOf({2, 2}, {3.0, 1.0, 4.0, -1.0});
  auto l2 = runNode("LpNormalization", {x}, attrsOf("LpNormalization", {{"axis", int64_t{0}}}), 1, 22);
  expectNear(l2[0], {0.6, 1.0 / std::sqrt(2.0), 0.8, -1.0 / std::sqrt(2.0)}, 1e-6);
  auto l1 = runNode("LpNormalization", {x}, attrsOf("LpNormalization", {{"p", int64_t{1}}}), 1, 22);  // last axis
  expectNear(l1[0], {0.75, 0.25, 0.8, -0.2}, 1e-6);
  EXPECT_NE(inferError("LpNormalization", {info(DataType::kFLOAT, {2, 2})},
                       attrsOf("LpNormalization", {{"p", int64_t{3}}}), 1, 22),
            0);
}

TEST(EyeLike, OnesOnTheKthDiagonalInTheAskedType) {
  const ir::Tensor x = tensorOf({3, 4}, std::vector<double>(12, 7.0), DataType::kINT32);
  auto y = runNode("EyeLike", {x}, attrsOf("EyeLike", {{"k", int64_t{1}}, {"dtype", int64_t{11}}}), 1, 22);
  EXPECT_EQ(y[0].type(), DataType::kDOUBLE);
  expectNear(y[0], {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 0);
  auto same = runNode("EyeLike", {x}, attrsOf("EyeLike", {{"k", int64_t{-2}}}), 1, 22);
  EXPECT_EQ(same[0].type(), DataType::kINT32);
  EXPECT_EQ(same[0].toInt64(), (Ints{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_NE(inferError("EyeLike", {info(DataType::kFLOAT, {2, 2, 2})}, attrsOf("EyeLike", {}), 1, 22), 0);
}

TEST(ReverseSequence, ReversesEachBatchEntrysPrefix) {
  // time_axis 0, batch_axis 1: x[t][b] = 10 t + b, lengths 3, 1, 2.
  std::vector<double> v;
  for (int t = 0; t < 3; ++t)
    for (int b = 0; b < 3; ++b) v.push_back(10 * t + b);
  const ir::Tensor x = tensorOf({3, 3}, v);
  const ir::Tensor lens = ir::Tensor::fromInt64({3}, Ints{3, 1, 2});
  auto y = runNode("ReverseSequence", {x, lens}, attrsOf("ReverseSequence", {}), 1, 10);
  expectNear(y[0], {20, 1, 12, 10, 11, 2, 0, 21, 22}, 0);
  // batch_axis 0, time_axis 1 with a trailing dim of 2.
  const ir::Tensor x2 = tensorOf({2, 3, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto y2 = runNode("ReverseSequence", {x2, ir::Tensor::fromInt64({2}, Ints{2, 3})},
                    attrsOf("ReverseSequence", {{"batch_axis", int64_t{0}}, {"time_axis", int64_t{1}}}), 1, 10);
  expectNear(y2[0], {2, 3, 0, 1, 4, 5, 10, 11, 8, 9, 6, 7}, 0);
  EXPECT_NE(inferError("ReverseSequence", {info(DataType::kFLOAT, {3, 3}), info(DataType::kINT64, {4})},
                       attrsOf("ReverseSequence", {}), 1, 10),
            0);
}

TEST(Det, DeterminantsOfABatchOfMatrices) {
  // [[2, 1], [4, 3]] -> 2; [[0, 1], [1, 0]] -> -1 (a row swap); a singular one -> 0; a 3x3.
  const ir::Tensor x2 = tensorOf({3, 2, 2}, {2, 1, 4, 3, 0, 1, 1, 0, 1, 2, 2, 4});
  auto y2 = runNode("Det", {x2}, attrsOf("Det", {}), 1, 22);
  EXPECT_EQ(y2[0].shape(), (ir::Shape{3}));
  expectNear(y2[0], {2, -1, 0}, 1e-6);
  const ir::Tensor x3 = tensorOf({3, 3}, {1, 2, 3, 0, 4, 5, 1, 0, 6});  // 1(24) - 2(-5) + 3(-4) = 22
  auto y3 = runNode("Det", {x3}, attrsOf("Det", {}), 1, 22);
  EXPECT_EQ(y3[0].shape(), (ir::Shape{}));
  expectNear(y3[0], {22}, 1e-6);
  EXPECT_NE(inferError("Det", {info(DataType::kFLOAT, {2, 3})}, attrsOf("Det", {}), 1, 22), 0);
}

// B = 1, C = 2, L = 3, K = 2: rows are past then input; output t = bias + w0 row[t] + w1 row[t + 1].
TEST(CausalConvWithState, ConvolvesPastAndInputAndCarriesTheTail) {
  const ir::Tensor x = tensorOf({1, 2, 3}, {1, -1, 2, 2, 0, 4});
  const ir::Tensor w = tensorOf({2, 1, 2}, {1, 2, -1, 0.5});
  const ir::Tensor b = tensorOf({2}, {0.5, -1});
  const ir::Tensor past = tensorOf({1, 2, 1}, {3, 0.5});
  auto y = runNode("CausalConvWithState", {x, w, b, past}, attrsOf("CausalConvWithState", {}), 2, 27);
  expectNear(y[0], {5.5, -0.5, 3.5, -0.5, -3, 1}, 1e-7);
  expectNear(y[1], {2, 4}, 0);
  // SiLU, no bias, no past (zeros).
  auto s = runNode("CausalConvWithState", {x, w}, attrsOf("CausalConvWithState", {{"activation", std::string("silu")}}),
                   2, 27);
  const double pre[] = {2, -1, 3, 1, -2, 2};  // channel 0: 0 + 2, 1 - 2, -1 + 4; channel 1: -0 + 1, -2 + 0, -0 + 2
  std::vector<double> want;
  for (double v : pre) want.push_back(v / (1 + std::exp(-v)));
  expectNear(s[0], want, 1e-6);
  EXPECT_NE(inferError("CausalConvWithState", {info(DataType::kFLOAT, {1, 2, 3}), info(DataType::kFLOAT, {2, 2, 2})},
                       attrsOf("CausalConvWithState", {}), 2, 27),
            0);
}

}  // namespace
}  // namespace kiln
