#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

double unnormalize(double g, int64_t size, bool align) {
  return align ? (g + 1) / 2 * static_cast<double>(size - 1) : ((g + 1) * static_cast<double>(size) - 1) / 2;
}

//! Keys cubic weight (a = -0.75) of a tap at distance d.
double keys(double d) {
  d = std::abs(d);
  if (d <= 1) return (1.25 * d - 2.25) * d * d + 1;
  if (d < 2) return ((-0.75 * d + 3.75) * d - 6) * d + 3;
  return 0;
}

TEST(GridSample, BilinearWithZeroPaddingMatchesTheInterpolationFormula) {
  constexpr int64_t kN = 2, kC = 3, kH = 5, kW = 7, kOH = 4, kOW = 3;
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {kN, kC, kH, kW}, 51);
  const ir::Tensor grid = randomTensor(DataType::kFLOAT, {kN, kOH, kOW, 2}, 52, -1.3, 1.3);
  for (const bool align : {false, true}) {
    auto y = runNode("GridSample", {x, grid}, attrsOf("GridSample", {{"align_corners", int64_t{align}}}), 1, 16);
    const auto xv = x.toDouble(), gv = grid.toDouble();
    std::vector<double> want;
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t c = 0; c < kC; ++c)
        for (int64_t p = 0; p < kOH * kOW; ++p) {
          const double px = unnormalize(gv[(n * kOH * kOW + p) * 2], kW, align);
          const double py = unnormalize(gv[(n * kOH * kOW + p) * 2 + 1], kH, align);
          const auto at = [&](double i, double j) {  // zero outside X
            if (i < 0 || i >= kH || j < 0 || j >= kW) return 0.0;
            return xv[((n * kC + c) * kH + static_cast<int64_t>(i)) * kW + static_cast<int64_t>(j)];
          };
          const double i0 = std::floor(py), j0 = std::floor(px), fy = py - i0, fx = px - j0;
          want.push_back((1 - fy) * ((1 - fx) * at(i0, j0) + fx * at(i0, j0 + 1)) +
                         fy * ((1 - fx) * at(i0 + 1, j0) + fx * at(i0 + 1, j0 + 1)));
        }
    expectNear(y[0], want, 1e-5);
  }
}

TEST(GridSample, VolumetricNearestWithBorderPaddingReadsTheClampedNearestPixel) {
  constexpr int64_t kC = 2, kD = 3, kH = 4, kW = 5, kP = 7;
  const ir::Tensor x = randomTensor(DataType::kDOUBLE, {1, kC, kD, kH, kW}, 53);
  const ir::Tensor grid = randomTensor(DataType::kDOUBLE, {1, 1, 1, kP, 3}, 54, -1.6, 1.6);
  auto y = runNode("GridSample", {x, grid},
                   attrsOf("GridSample", {{"mode", std::string("nearest")}, {"padding_mode", std::string("border")}}),
                   1, 20);
  const auto xv = x.toDouble(), gv = grid.toDouble();
  const auto index = [](double g, int64_t size) {
    return std::clamp<int64_t>(std::llround(unnormalize(g, size, false)), 0, size - 1);
  };
  std::vector<double> want;
  for (int64_t c = 0; c < kC; ++c)
    for (int64_t p = 0; p < kP; ++p) {
      const int64_t w = index(gv[p * 3], kW), h = index(gv[p * 3 + 1], kH), d = index(gv[p * 3 + 2], kD);
      want.push_back(xv[((c * kD + d) * kH + h) * kW + w]);
    }
  expectNear(y[0], want, 1e-12);
}

TEST(GridSample, BicubicInsideTheImageWeighsSixteenBorderClampedTaps) {
  constexpr int64_t kC = 2, kH = 5, kW = 6, kP = 9;
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {1, kC, kH, kW}, 55);
  const ir::Tensor grid = randomTensor(DataType::kFLOAT, {1, kP, 1, 2}, 56, -0.95, 0.95);
  auto y = runNode(
      "GridSample", {x, grid},
      attrsOf("GridSample",
              {{"mode", std::string("cubic")}, {"padding_mode", std::string("border")}, {"align_corners", int64_t{1}}}),
      1, 22);
  const auto xv = x.toDouble(), gv = grid.toDouble();
  std::vector<double> want;
  for (int64_t c = 0; c < kC; ++c)
    for (int64_t p = 0; p < kP; ++p) {
      const double px = unnormalize(gv[p * 2], kW, true), py = unnormalize(gv[p * 2 + 1], kH, true);
      double sum = 0;
      for (int64_t i = static_cast<int64_t>(std::floor(py)) - 1; i <= static_cast<int64_t>(std::floor(py)) + 2; ++i)
        for (int64_t j = static_cast<int64_t>(std::floor(px)) - 1; j <= static_cast<int64_t>(std::floor(px)) + 2; ++j)
          sum += keys(py - static_cast<double>(i)) * keys(px - static_cast<double>(j)) *
                 xv[(c * kH + std::clamp<int64_t>(i, 0, kH - 1)) * kW + std::clamp<int64_t>(j, 0, kW - 1)];
      want.push_back(sum);
    }
  expectNear(y[0], want, 1e-5);
}

TEST(GridSample, ReflectionMirrorsPositionsPastTheEdgesIn1D) {
  const ir::Tensor x = tensorOf({1, 1, 6}, {0.5, -1.25, 2.0, 3.5, -0.75, 1.5});
  // With align_corners the borders are pixel centres 0 and 5: 1.3 -> 5.75 -> 4.25; -1.2 -> -0.5 -> 0.5; 0.2 -> 3.
  const ir::Tensor grid = tensorOf({1, 3, 1}, {1.3, -1.2, 0.2});
  auto y = runNode("GridSample", {x, grid},
                   attrsOf("GridSample", {{"padding_mode", std::string("reflection")}, {"align_corners", int64_t{1}}}),
                   1, 20);
  const auto lerp = [](double a, double b, double t) { return a + (b - a) * t; };
  expectNear(y[0], {lerp(-0.75, 1.5, 0.25), lerp(0.5, -1.25, 0.5), lerp(3.5, -0.75, 0.0)}, 1e-6);
}

TEST(GridSampleShape, OutputTakesTheGridPointsAndInvalidFormsFail) {
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto none = attrsOf("GridSample", {});
  EXPECT_EQ(nn_testing::infer("GridSample", {f({2, 3, 5, 7}), f({2, 4, 9, 2})}, none, 1, 16)[0].shape,
            (Ints{2, 3, 4, 9}));
  EXPECT_EQ(nn_testing::infer("GridSample", {f({2, 3, 5, 7, 4}), f({2, 1, 6, 9, 3})}, none, 1, 20)[0].shape,
            (Ints{2, 3, 1, 6, 9}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  // Volumetric before opset 20; the modes' names of the other opsets; a bad padding_mode.
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7, 4}), f({2, 1, 6, 9, 3})}, none, 1, 16), invalid);
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({2, 4, 9, 2})},
                                   attrsOf("GridSample", {{"mode", std::string("linear")}}), 1, 16),
            invalid);
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({2, 4, 9, 2})},
                                   attrsOf("GridSample", {{"mode", std::string("bicubic")}}), 1, 20),
            invalid);
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({2, 4, 9, 2})},
                                   attrsOf("GridSample", {{"padding_mode", std::string("wrap")}}), 1, 20),
            invalid);
  // Wrong coordinate count, rank or batch of the grid.
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({2, 4, 9, 3})}, none, 1, 20), invalid);
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({2, 9, 2})}, none, 1, 20), invalid);
  EXPECT_EQ(nn_testing::inferError("GridSample", {f({2, 3, 5, 7}), f({3, 4, 9, 2})}, none, 1, 20), invalid);
  EXPECT_EQ(ir::findSchema("GridSample")->since_opset, 16);
}

}  // namespace
}  // namespace kiln
