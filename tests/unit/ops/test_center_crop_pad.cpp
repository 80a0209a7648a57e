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

//! Input index of output index o when an axis of `dim` is centred into `length`; -1 for padding.
int64_t sourceIndex(int64_t o, int64_t dim, int64_t length) {
  const int64_t first = length <= dim ? (dim - length) / 2 : 0;  // first input index kept
  const int64_t pad = length > dim ? (length - dim) / 2 : 0;     // zeros before the input
  const int64_t i = o - pad + first;
  return i >= 0 && i < dim ? i : -1;
}

TEST(CenterCropPad, CropsAndPadsEachAxisAboutItsCentre) {
  // Axis 0 padded by an odd 3 (1 before, 2 after), axis 1 cropped by an odd 3, axis 2 cropped by 2.
  constexpr int64_t kA = 3, kB = 7, kC = 6, kOA = 6, kOB = 4, kOC = 4;
  const ir::Tensor x = randomTensor(DataType::kINT32, {kA, kB, kC}, 71, -50, 50);
  const ir::Tensor shape = tensorOf({3}, {kOA, kOB, kOC}, DataType::kINT64);
  auto y = runNode("CenterCropPad", {x, shape}, attrsOf("CenterCropPad", {}), 1, 18);
  ASSERT_EQ(y[0].shape(), (Ints{kOA, kOB, kOC}));
  const auto xv = x.toDouble();
  std::vector<double> want;
  for (int64_t a = 0; a < kOA; ++a)
    for (int64_t b = 0; b < kOB; ++b)
      for (int64_t c = 0; c < kOC; ++c) {
        const int64_t i = sourceIndex(a, kA, kOA), j = sourceIndex(b, kB, kOB), k = sourceIndex(c, kC, kOC);
        want.push_back(i < 0 || j < 0 || k < 0 ? 0.0 : xv[(i * kB + j) * kC + k]);
      }
  expectNear(y[0], want, 0);
}

TEST(CenterCropPad, AxesNameTheResizedAxesAndLeaveTheOthers) {
  constexpr int64_t kH = 5, kW = 4, kC = 3, kOH = 8, kOW = 1;
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {kH, kW, kC}, 72);
  const ir::Tensor shape = tensorOf({2}, {kOH, kOW}, DataType::kINT32);
  auto y = runNode("CenterCropPad", {x, shape}, attrsOf("CenterCropPad", {{"axes", Ints{-3, 1}}}), 1, 18);
  ASSERT_EQ(y[0].shape(), (Ints{kOH, kOW, kC}));
  const auto xv = x.toDouble();
  std::vector<double> want;
  for (int64_t h = 0; h < kOH; ++h)
    for (int64_t w = 0; w < kOW; ++w)
      for (int64_t c = 0; c < kC; ++c) {
        const int64_t i = sourceIndex(h, kH, kOH), j = sourceIndex(w, kW, kOW);
        want.push_back(i < 0 || j < 0 ? 0.0 : xv[(i * kW + j) * kC + c]);
      }
  expectNear(y[0], want, 0);
}

TEST(CenterCropPadShape, ConstantShapeGivesTheDimsAndInvalidFormsFail) {
  const auto x = info(DataType::kFLOAT, {5, 4, 3});
  const auto constant = [](Ints v) {
    return testing::constInfo(tensorOf({static_cast<int64_t>(v.size())}, {v.begin(), v.end()}, DataType::kINT64));
  };
  const auto axes = [](Ints v) { return attrsOf("CenterCropPad", {{"axes", std::move(v)}}); };
  EXPECT_EQ(nn_testing::infer("CenterCropPad", {x, constant({9, 2})}, axes({2, 0}), 1, 18)[0].shape, (Ints{2, 4, 9}));
  // A run-time shape leaves the resized dims unknown.
  EXPECT_EQ(nn_testing::infer("CenterCropPad", {x, info(DataType::kINT64, {1})}, axes({1}), 1, 18)[0].shape,
            (Ints{5, ir::kUnknownDim, 3}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  // Entries not one per axis; an axis twice or out of range; a negative length; a float shape.
  EXPECT_EQ(nn_testing::inferError("CenterCropPad", {x, constant({9, 2})}, attrsOf("CenterCropPad", {}), 1, 18),
            invalid);
  EXPECT_EQ(nn_testing::inferError("CenterCropPad", {x, constant({9, 2})}, axes({0, -3}), 1, 18), invalid);
  EXPECT_EQ(nn_testing::inferError("CenterCropPad", {x, constant({9})}, axes({3}), 1, 18), invalid);
  EXPECT_EQ(nn_testing::inferError("CenterCropPad", {x, constant({-1})}, axes({0}), 1, 18), invalid);
  EXPECT_EQ(nn_testing::inferError("CenterCropPad", {x, info(DataType::kFLOAT, {1})}, axes({0}), 1, 18), invalid);
  EXPECT_EQ(ir::findSchema("CenterCropPad")->since_opset, 18);
}

}  // namespace
}  // namespace kiln
