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

// One KV head of dk = 2, dv = 1, two steps, scale 1: linear sums k v^T; gated_delta halves S
// (decay ln 0.5 per head) and adds beta k (v - S^T k); two query heads share the KV head.
TEST(LinearAttention, LinearAndGatedDeltaRecurrences) {
  const ir::Tensor k = tensorOf({1, 2, 2}, {1, 0, 0, 1});
  const ir::Tensor v = tensorOf({1, 2, 1}, {2, 3});
  auto lin = runNode("LinearAttention", {tensorOf({1, 2, 2}, {1, 1, 1, 2}), k, v},
                     attrsOf("LinearAttention", {{"q_num_heads", int64_t{1}},
                                                 {"kv_num_heads", int64_t{1}},
                                                 {"update_rule", std::string("linear")},
                                                 {"scale", 1.0f}}),
                     2, 27);
  expectNear(lin[0], {2, 8}, 1e-7);
  expectNear(lin[1], {2, 3}, 1e-7);
  const ir::Tensor decay = tensorOf({1, 2, 1}, {std::log(0.5), std::log(0.5)});
  const ir::Tensor beta = tensorOf({1, 2, 1}, {0.5, 0.5});
  const ir::Tensor past = tensorOf({1, 1, 2, 1}, {0, 0});
  auto gd = runNode(
      "LinearAttention", {tensorOf({1, 2, 4}, {1, 1, 2, 0, 1, 2, 0, 1}), k, v, past, decay, beta},
      attrsOf("LinearAttention", {{"q_num_heads", int64_t{2}}, {"kv_num_heads", int64_t{1}}, {"scale", 1.0f}}), 2, 27);
  expectNear(gd[0], {1, 2, 3.5, 1.5}, 1e-6);
  expectNear(gd[1], {0.5, 1.5}, 1e-6);
  // gated_delta (the default) without beta is refused.
  EXPECT_NE(inferError("LinearAttention",
                       {info(DataType::kFLOAT, {1, 2, 2}), info(DataType::kFLOAT, {1, 2, 2}),
                        info(DataType::kFLOAT, {1, 2, 1})},
                       attrsOf("LinearAttention", {{"q_num_heads", int64_t{1}}, {"kv_num_heads", int64_t{1}}}), 2, 27),
            0);
}

// past [2, 4, 1] (batch 2, 4 positions), update [2, 2, 1] written from 1 (batch 0) and 3
// (batch 1): linear refuses running past the end, circular wraps to position 0.
TEST(TensorScatter, WritesUpdatesAtEachBatchEntrysIndex) {
  const ir::Tensor past = tensorOf({2, 4, 1}, {0, 1, 2, 3, 10, 11, 12, 13});
  const ir::Tensor update = tensorOf({2, 2, 1}, {-1, -2, -3, -4});
  auto lin = runNode("TensorScatter", {past, update, ir::Tensor::fromInt64({2}, Ints{1, 2})},
                     attrsOf("TensorScatter", {}), 1, 24);
  expectNear(lin[0], {0, -1, -2, 3, 10, 11, -3, -4}, 0);
  auto circ = runNode("TensorScatter", {past, update, ir::Tensor::fromInt64({2}, Ints{1, 3})},
                      attrsOf("TensorScatter", {{"mode", std::string("circular")}}), 1, 24);
  expectNear(circ[0], {0, -1, -2, 3, -4, 11, 12, -3}, 0);
  auto none = runNode("TensorScatter", {past, update}, attrsOf("TensorScatter", {}), 1, 24);  // index 0
  expectNear(none[0], {-1, -2, 2, 3, -3, -4, 12, 13}, 0);
}

// X [[1, 2], [3, 4]], one RoI over the whole image, one bin, one sample: half_pixel samples
// the middle (2.5; in max mode the largest weighted corner, 0.25 * 4), output_half_pixel the
// last pixel (4).
TEST(RoiAlign, BilinearSamplesOfOneBin) {
  const ir::Tensor x = tensorOf({1, 1, 2, 2}, {1, 2, 3, 4});
  const ir::Tensor rois = tensorOf({1, 4}, {0, 0, 2, 2});
  const ir::Tensor batch = ir::Tensor::fromInt64({1}, Ints{0});
  auto run = [&](const std::string& mode, const std::string& transform) {
    return runNode("RoiAlign", {x, rois, batch},
                   attrsOf("RoiAlign", {{"output_height", int64_t{1}},
                                        {"output_width", int64_t{1}},
                                        {"sampling_ratio", int64_t{1}},
                                        {"mode", mode},
                                        {"coordinate_transformation_mode", transform}}),
                   1, 16)[0];
  };
  expectNear(run("avg", "half_pixel"), {2.5}, 1e-7);
  expectNear(run("avg", "output_half_pixel"), {4}, 1e-7);
  expectNear(run("max", "half_pixel"), {1}, 1e-7);
}

// ConvInteger: X - 1 = 1..9 under a 2x2 window of ones; and one zero point per output channel.
TEST(ConvInteger, ConvolvesTheShiftedIntegers) {
  const ir::Tensor x = tensorOf({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10}, DataType::kUINT8);
  const ir::Tensor w = tensorOf({1, 1, 2, 2}, {1, 1, 1, 1}, DataType::kUINT8);
  auto y = runNode("ConvInteger", {x, w, tensorOf({}, {1}, DataType::kUINT8)}, attrsOf("ConvInteger", {}), 1, 10);
  EXPECT_EQ(y[0].type(), DataType::kINT32);
  EXPECT_EQ(y[0].toInt64(), (Ints{12, 16, 24, 28}));
  const ir::Tensor x2 = tensorOf({1, 1, 1, 2}, {4, 6}, DataType::kUINT8);
  const ir::Tensor w2 = tensorOf({2, 1, 1, 1}, {3, 5}, DataType::kUINT8);
  auto y2 =
      runNode("ConvInteger", {x2, w2, tensorOf({}, {0}, DataType::kUINT8), tensorOf({2}, {1, 2}, DataType::kUINT8)},
              attrsOf("ConvInteger", {}), 1, 10);
  EXPECT_EQ(y2[0].toInt64(), (Ints{8, 12, 12, 18}));
  EXPECT_NE(inferError("ConvInteger", {info(DataType::kFLOAT, {1, 1, 3, 3}), info(DataType::kFLOAT, {1, 1, 2, 2})},
                       attrsOf("ConvInteger", {}), 1, 10),
            0);
}

// Col2Im of a [2, 3] image with [1, 2] blocks: a 2 x 2 grid of columns, the second kernel
// element of column (y, x) landing on the first of column (y, x + 1).
TEST(Col2Im, AddsOverlappingBlocksBack) {
  const ir::Tensor x = tensorOf({1, 2, 4}, {1, 2, 3, 4, 10, 20, 30, 40});
  auto y = runNode("Col2Im", {x, ir::Tensor::fromInt64({2}, Ints{2, 3}), ir::Tensor::fromInt64({2}, Ints{1, 2})},
                   attrsOf("Col2Im", {}), 1, 18);
  EXPECT_EQ(y[0].shape(), (ir::Shape{1, 1, 2, 3}));
  expectNear(y[0], {1, 12, 20, 3, 34, 40}, 0);
  // Pads on the left drop what falls into them: one column per row, shifted left by one.
  auto padded = runNode("Col2Im",
                        {tensorOf({1, 2, 2}, {1, 2, 10, 20}), ir::Tensor::fromInt64({2}, Ints{2, 1}),
                         ir::Tensor::fromInt64({2}, Ints{1, 2})},
                        attrsOf("Col2Im", {{"pads", Ints{0, 1, 0, 0}}}), 1, 18);
  EXPECT_EQ(padded[0].shape(), (ir::Shape{1, 1, 2, 1}));
  expectNear(padded[0], {10, 20}, 0);
}

// DeformConv on X = 0..8 (3 x 3) with a 1 x 1 kernel of 2: zero offsets are a plain
// convolution; an offset of (0, 0.5) samples halfway to the right neighbour (and past the
// last column half of X's value, the other corner being outside); a mask scales each tap.
TEST(DeformConv, SamplesAtOffsetsBilinearly) {
  const ir::Tensor x = tensorOf({1, 1, 3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  const ir::Tensor w = tensorOf({1, 1, 1, 1}, {2});
  std::vector<double> off(2 * 9, 0.0);
  auto plain = runNode("DeformConv", {x, w, tensorOf({1, 2, 3, 3}, off)}, attrsOf("DeformConv", {}), 1, 19);
  expectNear(plain[0], {0, 2, 4, 6, 8, 10, 12, 14, 16}, 1e-12);
  for (int p = 0; p < 9; ++p) off[9 + p] = 0.5;  // channel 1: the W offset
  auto half = runNode("DeformConv", {x, w, tensorOf({1, 2, 3, 3}, off)}, attrsOf("DeformConv", {}), 1, 19);
  expectNear(half[0], {1, 3, 2, 7, 9, 5, 13, 15, 8}, 1e-12);
  const ir::Tensor mask = tensorOf({1, 1, 3, 3}, {1, 0, 1, 0, 1, 0, 1, 0, 1});
  auto masked =
      runNode("DeformConv", {x, w, tensorOf({1, 2, 3, 3}, std::vector<double>(18, 0.0)), tensorOf({1}, {1}), mask},
              attrsOf("DeformConv", {}), 1, 19);
  expectNear(masked[0], {1, 1, 5, 1, 9, 1, 13, 1, 17}, 1e-12);
}

// TfIdfVectorizer over X = [1, 5, 2, 1, 2] with the pool {1}, {3}, {1, 2} (columns 0, 1, 2) and
// one skip: 1 occurs twice, 3 never, (1, 2) once adjacent and once with a gap.
TEST(TfIdfVectorizer, CountsSkipGramsInEveryMode) {
  const ir::Tensor x = tensorOf({5}, {1, 5, 2, 1, 2}, DataType::kINT64);
  auto run = [&](const std::string& mode) {
    return runNode("TfIdfVectorizer", {x},
                   attrsOf("TfIdfVectorizer", {{"mode", mode},
                                               {"min_gram_length", int64_t{1}},
                                               {"max_gram_length", int64_t{2}},
                                               {"max_skip_count", int64_t{1}},
                                               {"ngram_counts", Ints{0, 2}},
                                               {"ngram_indexes", Ints{0, 1, 2}},
                                               {"pool_int64s", Ints{1, 3, 1, 2}},
                                               {"weights", std::vector<float>{0.5f, 0.25f, 2.0f}}}),
                   1, 9)[0];
  };
  expectNear(run("TF"), {2, 0, 2}, 0);
  expectNear(run("IDF"), {0.5, 0, 2}, 0);
  expectNear(run("TFIDF"), {1, 0, 4}, 0);
}

}  // namespace
}  // namespace kiln
