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

//! Normalized position of index i along an axis of `length` pixels.
double position(int64_t i, int64_t length, bool align) {
  if (align) return length == 1 ? -1.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(length - 1);
  return -1.0 + (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(length);
}

TEST(AffineGrid, TwoDimensionalGridIsThetaTimesPixelPositions) {
  constexpr int64_t kN = 2, kH = 5, kW = 3;
  const ir::Tensor theta = randomTensor(DataType::kFLOAT, {kN, 2, 3}, 61);
  const ir::Tensor size = tensorOf({4}, {kN, 7, kH, kW}, DataType::kINT64);
  for (const bool align : {false, true}) {
    auto y = runNode("AffineGrid", {theta, size}, attrsOf("AffineGrid", {{"align_corners", int64_t{align}}}), 1, 20);
    ASSERT_EQ(y[0].shape(), (Ints{kN, kH, kW, 2}));
    const auto t = theta.toDouble();
    std::vector<double> want;
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t h = 0; h < kH; ++h)
        for (int64_t w = 0; w < kW; ++w) {
          const double x = position(w, kW, align), yy = position(h, kH, align);
          for (int64_t row = 0; row < 2; ++row) {
            const double* m = t.data() + (n * 2 + row) * 3;
            want.push_back(m[0] * x + m[1] * yy + m[2]);
          }
        }
    expectNear(y[0], want, 1e-5);
  }
}

TEST(AffineGrid, ThreeDimensionalGridListsXYZ) {
  constexpr int64_t kD = 3, kH = 1, kW = 4;
  const ir::Tensor theta = randomTensor(DataType::kDOUBLE, {1, 3, 4}, 62);
  const ir::Tensor size = tensorOf({5}, {1, 2, kD, kH, kW}, DataType::kINT64);
  auto y = runNode("AffineGrid", {theta, size}, attrsOf("AffineGrid", {{"align_corners", int64_t{1}}}), 1, 20);
  ASSERT_EQ(y[0].shape(), (Ints{1, kD, kH, kW, 3}));
  const auto t = theta.toDouble();
  std::vector<double> want;
  for (int64_t d = 0; d < kD; ++d)
    for (int64_t h = 0; h < kH; ++h)
      for (int64_t w = 0; w < kW; ++w) {
        const double v[4] = {position(w, kW, true), position(h, kH, true), position(d, kD, true), 1.0};
        for (int64_t row = 0; row < 3; ++row) {
          double sum = 0;
          for (int64_t k = 0; k < 4; ++k) sum += t[row * 4 + k] * v[k];
          want.push_back(sum);
        }
      }
  expectNear(y[0], want, 1e-12);
}

TEST(AffineGridShape, GridDimsFollowAConstantSizeAndInvalidFormsFail) {
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto none = attrsOf("AffineGrid", {});
  // A run-time size leaves the spatial dims unknown; its length fixes the rank.
  EXPECT_EQ(nn_testing::infer("AffineGrid", {f({2, 3, 4}), info(DataType::kINT64, {5})}, none, 1, 20)[0].shape,
            (Ints{2, ir::kUnknownDim, ir::kUnknownDim, ir::kUnknownDim, 3}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  // theta of the other rank; a size of 3 entries; a float size.
  EXPECT_EQ(nn_testing::inferError("AffineGrid", {f({2, 3, 4}), info(DataType::kINT64, {4})}, none, 1, 20), invalid);
  EXPECT_EQ(nn_testing::inferError("AffineGrid", {f({2, 2, 3}), info(DataType::kINT64, {3})}, none, 1, 20), invalid);
  EXPECT_EQ(nn_testing::inferError("AffineGrid", {f({2, 2, 3}), f({4})}, none, 1, 20), invalid);
  EXPECT_EQ(ir::findSchema("AffineGrid")->since_opset, 20);
}

TEST(AffineGridShape, ConstantSizeOfAnotherBatchIsAnError) {
  const ir::Tensor theta = randomTensor(DataType::kFLOAT, {2, 2, 3}, 63);
  const ir::Tensor size = tensorOf({4}, {3, 1, 4, 4}, DataType::kINT64);
  EXPECT_EQ(testing::errorCode([&] {
              runNode("AffineGrid", {theta, size}, attrsOf("AffineGrid", {}), 1, 20);
            }),
            static_cast<int>(ErrorCode::kInvalidModel));
}

}  // namespace
}  // namespace kiln
