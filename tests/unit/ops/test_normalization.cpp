#include <gtest/gtest.h>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::randomTensor;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

//! Mean and 1/sqrt(var + eps) of v[begin, begin + count) with stride 1.
std::pair<double, double> stats(const std::vector<double>& v, size_t begin, size_t count, double eps) {
  double mean = 0.0, var = 0.0;
  for (size_t i = 0; i < count; ++i) mean += v[begin + i] / count;
  for (size_t i = 0; i < count; ++i) var += (v[begin + i] - mean) * (v[begin + i] - mean) / count;
  return {mean, 1.0 / std::sqrt(var + eps)};
}

TEST(BatchNormalization, AppliesRunningStatisticsPerChannel) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 1);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {3}, 2);
  ir::Tensor bias = randomTensor(DataType::kFLOAT, {3}, 3);
  ir::Tensor mean = randomTensor(DataType::kFLOAT, {3}, 4);
  ir::Tensor var = randomTensor(DataType::kFLOAT, {3}, 5, 0.5, 2.0);
  auto y =
      runNode("BatchNormalization", {x, scale, bias, mean, var}, attrsOf("BatchNormalization", {{"epsilon", 0.01f}}));
  const auto xv = x.toDouble(), s = scale.toDouble(), b = bias.toDouble(), m = mean.toDouble(), va = var.toDouble();
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 4) % 3;
    want[i] = (xv[i] - m[c]) / std::sqrt(va[c] + double(0.01f)) * s[c] + b[c];
  }
  expectNear(y[0], want, 1e-6);
}

TEST(BatchNormalization, HalfInputWithFloatStatistics) {
  ir::Tensor x = randomTensor(DataType::kHALF, {1, 2, 3}, 6);
  ir::Tensor one = tensorOf({2}, {1, 1}), zero = tensorOf({2}, {0, 0});
  auto y = runNode("BatchNormalization", {x, one, zero, zero, one}, attrsOf("BatchNormalization", {{"epsilon", 0.0f}}));
  EXPECT_EQ(y[0].type(), DataType::kHALF);
  expectNear(y[0], x.toDouble(), 1e-3);
}

TEST(BatchNormalizationShape, TrainingFormFromOpset14AndBadStatsInvalid) {
  const auto x = info(DataType::kFLOAT, {-2, 3, 5}), c3 = info(DataType::kFLOAT, {3});
  EXPECT_EQ(nn_testing::infer("BatchNormalization", {x, c3, c3, c3, c3}, attrsOf("BatchNormalization", {}))[0].shape,
            (Ints{-2, 3, 5}));
  const auto training = nn_testing::infer("BatchNormalization", {x, c3, c3, c3, c3},
                                          attrsOf("BatchNormalization", {{"training_mode", int64_t{1}}}), 3, 15);
  EXPECT_EQ(training[1].shape, (Ints{3}));
  EXPECT_EQ(training[2].shape, (Ints{3}));
  const int unsupported = static_cast<int>(ErrorCode::kUnsupported);
  EXPECT_EQ(nn_testing::inferError("BatchNormalization", {x, c3, c3, c3, c3},
                                   attrsOf("BatchNormalization", {{"training_mode", int64_t{1}}}), 1, 13),
            unsupported);
  EXPECT_EQ(nn_testing::inferError("BatchNormalization", {x, c3, c3, c3, c3}, attrsOf("BatchNormalization", {}), 3),
            unsupported);
  EXPECT_EQ(nn_testing::inferError("BatchNormalization", {x, c3, c3, info(DataType::kFLOAT, {4}), c3},
                                   attrsOf("BatchNormalization", {})),
            static_cast<int>(ErrorCode::kInvalidModel));
}

TEST(InstanceNormalization, NormalizesEachPlane) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 5, 3}, 7);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {3}, 8);
  ir::Tensor bias = randomTensor(DataType::kFLOAT, {3}, 9);
  auto y = runNode("InstanceNormalization", {x, scale, bias}, attrsOf("InstanceNormalization", {{"epsilon", 1e-3f}}));
  const auto xv = x.toDouble(), s = scale.toDouble(), b = bias.toDouble();
  std::vector<double> want(xv.size());
  for (size_t plane = 0; plane < 6; ++plane) {
    auto [mean, inv] = stats(xv, plane * 15, 15, double(1e-3f));
    for (size_t i = plane * 15; i < plane * 15 + 15; ++i) want[i] = (xv[i] - mean) * inv * s[plane % 3] + b[plane % 3];
  }
  expectNear(y[0], want, 1e-5);
}

TEST(InstanceNormalizationShape, RejectsWrongScaleLength) {
  EXPECT_EQ(nn_testing::inferError(
                "InstanceNormalization",
                {info(DataType::kFLOAT, {1, 3, 4}), info(DataType::kFLOAT, {2}), info(DataType::kFLOAT, {3})},
                attrsOf("InstanceNormalization", {})),
            static_cast<int>(ErrorCode::kInvalidModel));
}

TEST(LayerNormalization, NormalizesTrailingAxesWithBroadcastScaleAndStats) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 10);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {4}, 11);  // broadcast over (3, 4)
  ir::Tensor bias = randomTensor(DataType::kFLOAT, {3, 4}, 12);
  auto out = runNode("LayerNormalization", {x, scale, bias}, attrsOf("LayerNormalization", {{"axis", int64_t{-2}}}), 3);
  const auto xv = x.toDouble(), s = scale.toDouble(), b = bias.toDouble();
  std::vector<double> want(xv.size()), means, invs;
  for (size_t r = 0; r < 2; ++r) {
    auto [mean, inv] = stats(xv, r * 12, 12, double(1e-5f));
    means.push_back(mean);
    invs.push_back(inv);
    for (size_t i = 0; i < 12; ++i) want[r * 12 + i] = (xv[r * 12 + i] - mean) * inv * s[i % 4] + b[i];
  }
  expectNear(out[0], want, 1e-5);
  EXPECT_EQ(out[1].shape(), (Ints{2, 1, 1}));
  EXPECT_EQ(out[1].type(), DataType::kFLOAT);
  expectNear(out[1], means, 1e-6);
  expectNear(out[2], invs, 1e-6);
}

TEST(LayerNormalization, DoubleWithoutBias) {
  ir::Tensor x = randomTensor(DataType::kDOUBLE, {3, 5}, 13);
  ir::Tensor scale = randomTensor(DataType::kDOUBLE, {5}, 14);
  auto y = runNode("LayerNormalization", {x, scale}, attrsOf("LayerNormalization", {{"epsilon", 0.1f}}));
  const auto xv = x.toDouble(), s = scale.toDouble();
  std::vector<double> want(xv.size());
  for (size_t r = 0; r < 3; ++r) {
    auto [mean, inv] = stats(xv, r * 5, 5, double(0.1f));
    for (size_t i = 0; i < 5; ++i) want[r * 5 + i] = (xv[r * 5 + i] - mean) * inv * s[i];
  }
  expectNear(y[0], want, 1e-12);
}

TEST(LayerNormalizationShape, StatsShapeTypeAndBadScale) {
  const auto x = info(DataType::kHALF, {-2, 7, 8});
  auto out =
      nn_testing::infer("LayerNormalization", {x, info(DataType::kHALF, {8})}, attrsOf("LayerNormalization", {}), 3);
  EXPECT_EQ(out[0].shape, (Ints{-2, 7, 8}));
  EXPECT_EQ(out[1].shape, (Ints{-2, 7, 1}));
  EXPECT_EQ(out[2].type, DataType::kFLOAT);  // stash_type 1
  EXPECT_EQ(
      nn_testing::inferError("LayerNormalization", {x, info(DataType::kHALF, {5})}, attrsOf("LayerNormalization", {})),
      static_cast<int>(ErrorCode::kInvalidModel));
  EXPECT_EQ(nn_testing::inferError("LayerNormalization", {x, info(DataType::kHALF, {8})},
                                   attrsOf("LayerNormalization", {{"axis", int64_t{3}}})),
            static_cast<int>(ErrorCode::kInvalidModel));
}

// BatchNormalization with training_mode=1: X's channel (1, 3, 5, 7) has mean 4 and biased
// variance 5; Y uses those, the running statistics move from (0, 1) by 1 - momentum = 0.1.
TEST(BatchNormalization, TrainingModeUsesTheBatchStatistics) {
  const ir::Tensor x = tensorOf({2, 1, 1, 2}, {1, 3, 5, 7});
  auto out =
      runNode("BatchNormalization", {x, tensorOf({1}, {1}), tensorOf({1}, {0}), tensorOf({1}, {0}), tensorOf({1}, {1})},
              attrsOf("BatchNormalization", {{"training_mode", int64_t{1}}, {"epsilon", 0.0f}}), 3, 15);
  const double sd = std::sqrt(5.0);
  expectNear(out[0], {-3 / sd, -1 / sd, 1 / sd, 3 / sd}, 1e-6);
  expectNear(out[1], {0.4}, 1e-6);
  expectNear(out[2], {1.4}, 1e-6);
}

// RMSNormalization against the formula written out: rows of `inner` values, scale per element.
TEST(RMSNormalization, DividesByRootMeanSquareOverTrailingAxes) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {3, 5, 7}, 21);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {7}, 22);  // broadcast over (5, 7)
  auto y = runNode("RMSNormalization", {x, scale}, attrsOf("RMSNormalization", {{"axis", int64_t{1}}}), 1, 23);
  const auto xv = x.toDouble(), s = scale.toDouble();
  std::vector<double> want(xv.size());
  for (size_t r = 0; r < 3; ++r) {
    double ms = 0.0;
    for (size_t i = 0; i < 35; ++i) ms += xv[r * 35 + i] * xv[r * 35 + i] / 35.0;
    for (size_t i = 0; i < 35; ++i) want[r * 35 + i] = xv[r * 35 + i] / std::sqrt(ms + double(1e-5f)) * s[i % 7];
  }
  expectNear(y[0], want, 1e-5);
}

TEST(RMSNormalization, DoubleLastAxisWithEpsilon) {
  ir::Tensor x = randomTensor(DataType::kDOUBLE, {2, 3, 5}, 23);
  ir::Tensor scale = randomTensor(DataType::kDOUBLE, {5}, 24);
  auto y = runNode("RMSNormalization", {x, scale}, attrsOf("RMSNormalization", {{"epsilon", 0.25f}}), 1, 23);
  const auto xv = x.toDouble(), s = scale.toDouble();
  std::vector<double> want(xv.size());
  for (size_t r = 0; r < 6; ++r) {
    double ms = 0.0;
    for (size_t i = 0; i < 5; ++i) ms += xv[r * 5 + i] * xv[r * 5 + i] / 5.0;
    for (size_t i = 0; i < 5; ++i) want[r * 5 + i] = xv[r * 5 + i] / std::sqrt(ms + 0.25) * s[i];
  }
  expectNear(y[0], want, 1e-12);
}

TEST(RMSNormalizationShape, BadScaleAxisTypeAndOpset) {
  const auto x = info(DataType::kFLOAT, {-2, 7, 8});
  auto out = nn_testing::infer("RMSNormalization", {x, info(DataType::kFLOAT, {7, 8})},
                               attrsOf("RMSNormalization", {{"axis", int64_t{-2}}}), 1, 23);
  EXPECT_EQ(out[0].shape, (Ints{-2, 7, 8}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  EXPECT_EQ(nn_testing::inferError("RMSNormalization", {x, info(DataType::kFLOAT, {5})},
                                   attrsOf("RMSNormalization", {}), 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RMSNormalization", {x, info(DataType::kFLOAT, {8})},
                                   attrsOf("RMSNormalization", {{"axis", int64_t{3}}}), 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RMSNormalization", {x, info(DataType::kHALF, {8})}, attrsOf("RMSNormalization", {}),
                                   1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RMSNormalization", {info(DataType::kINT32, {2, 8}), info(DataType::kINT32, {8})},
                                   attrsOf("RMSNormalization", {}), 1, 23),
            static_cast<int>(ErrorCode::kUnsupported));
  EXPECT_EQ(ir::findSchema("RMSNormalization")->since_opset, 23);
}

std::vector<double> groupNormWant(const ir::Tensor& x, const std::vector<double>& scale,
                                  const std::vector<double>& bias, int64_t groups, bool per_group) {
  const auto xv = x.toDouble();
  const int64_t n = x.shape()[0], c = x.shape()[1], pixels = x.numel() / (n * c), cg = c / groups;
  std::vector<double> want(xv.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t begin = (b * c + g * cg) * pixels;
      auto [mean, inv] = stats(xv, begin, cg * pixels, double(1e-5f));
      for (int64_t i = 0; i < cg * pixels; ++i) {
        const int64_t k = per_group ? g : g * cg + i / pixels;
        want[begin + i] = (xv[begin + i] - mean) * inv * scale[k] + bias[k];
      }
    }
  return want;
}

TEST(GroupNormalization, PerChannelScaleInOpset21) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 6, 3}, 15);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {6}, 16), bias = randomTensor(DataType::kFLOAT, {6}, 17);
  auto y = runNode("GroupNormalization", {x, scale, bias}, attrsOf("GroupNormalization", {{"num_groups", int64_t{3}}}));
  expectNear(y[0], groupNormWant(x, scale.toDouble(), bias.toDouble(), 3, false), 1e-5);
}

TEST(GroupNormalization, PerGroupScaleInOpset18) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {1, 6, 2, 2}, 18);
  ir::Tensor scale = randomTensor(DataType::kFLOAT, {2}, 19), bias = randomTensor(DataType::kFLOAT, {2}, 20);
  auto y = runNode("GroupNormalization", {x, scale, bias}, attrsOf("GroupNormalization", {{"num_groups", int64_t{2}}}),
                   1, 18);
  expectNear(y[0], groupNormWant(x, scale.toDouble(), bias.toDouble(), 2, true), 1e-5);
  EXPECT_EQ(nn_testing::inferError(
                "GroupNormalization",
                {info(DataType::kFLOAT, {1, 6, 4}), info(DataType::kFLOAT, {2}), info(DataType::kFLOAT, {2})},
                attrsOf("GroupNormalization", {{"num_groups", int64_t{2}}}), 1, 21),
            static_cast<int>(ErrorCode::kInvalidModel));
}

TEST(LRN, SumsSquaresOverNeighbouringChannels) {
  auto y = runNode("LRN", {tensorOf({1, 3, 1, 1}, {1, 2, 3})},
                   attrsOf("LRN", {{"size", int64_t{3}}, {"alpha", 3.0f}, {"beta", 1.0f}, {"bias", 1.0f}}));
  expectNear(y[0], {1.0 / 6.0, 2.0 / 15.0, 3.0 / 14.0}, 1e-6);
}

TEST(LRN, EvenSizeWindowLeansForward) {
  // size 2: window [c, c + 1]
  auto y = runNode("LRN", {tensorOf({1, 3, 1}, {1, 2, 3})},
                   attrsOf("LRN", {{"size", int64_t{2}}, {"alpha", 2.0f}, {"beta", 1.0f}, {"bias", 0.0f}}));
  expectNear(y[0], {1.0 / 5.0, 2.0 / 13.0, 3.0 / 9.0}, 1e-6);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(MeanVarianceNormalization, NormalizesOverDefaultAxesPerChannel) {
  ir::Tensor x = nn_testing::randomTensor(DataType::kFLOAT, {2, 3, 2, 2}, 30);
  auto y = nn_testing::runNode("MeanVarianceNormalization", {x}, nn_testing::attrsOf("MeanVarianceNormalization", {}));
  const auto xv = x.toDouble();
  std::vector<double> want(xv.size());
  for (int c = 0; c < 3; ++c) {
    double mean = 0, var = 0;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) mean += xv[(n * 3 + c) * 4 + i] / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) var += std::pow(xv[(n * 3 + c) * 4 + i] - mean, 2) / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i)
        want[(n * 3 + c) * 4 + i] = (xv[(n * 3 + c) * 4 + i] - mean) / (std::sqrt(var) + 1e-9);
  }
  nn_testing::expectNear(y[0], want, 1e-5);
}

}  // namespace
}  // namespace kiln
