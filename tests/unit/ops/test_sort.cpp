// TopK: shape rule and reference kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "unit/ops/linalg_test_util.h"

namespace kiln::testing {
namespace {

using ir::Shape;
using ir::Tensor;

TEST(TopKShape, KnownAndUnknownK) {
  auto out = inferShapes("TopK", {info(DataType::kFLOAT, {3, 4}), constInfo(int64s({1}, {2}))}, attrs({{"axis", int64_t{1}}}), 2);
  EXPECT_EQ(out[0].shape, (Shape{3, 2}));
  EXPECT_EQ(out[1].shape, (Shape{3, 2}));
  EXPECT_EQ(out[1].type, DataType::kINT64);
  auto dyn = inferShapes("TopK", {info(DataType::kFLOAT, {ir::kFirstSymbol, 4}), info(DataType::kINT64, {1})}, {}, 2);
  EXPECT_EQ(dyn[0].shape, (Shape{ir::kFirstSymbol, ir::kUnknownDim}));
}

TEST(TopKShape, RejectsKLargerThanAxis) {
  try {
    inferShapes("TopK", {info(DataType::kFLOAT, {3, 4}), constInfo(int64s({1}, {5}))}, {}, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
  EXPECT_THROW(inferShapes("TopK", {info(DataType::kFLOAT, {3, 4}), constInfo(int64s({1}, {1}))},
                           attrs({{"axis", int64_t{2}}}), 2),
               Error);
}

TEST(TopKKernel, LargestSmallestAndTies) {
  Tensor x = floats({2, 4}, {1, 3, 3, 2, 0, -1, 5, -1});
  auto largest = OneNode("TopK", {x, int64s({1}, {3})}, attrs({{"axis", int64_t{1}}}), 2).run();
  expectNear(largest.at("out0"), {3, 3, 2, 5, 0, -1}, 0);
  EXPECT_EQ(largest.at("out1").toInt64(), (std::vector<int64_t>{1, 2, 3, 2, 0, 1}));  // ties: lower index first
  auto smallest = OneNode("TopK", {x, int64s({1}, {2})}, attrs({{"largest", int64_t{0}}}), 2).run();
  expectNear(smallest.at("out0"), {1, 2, -1, -1}, 0);
  EXPECT_EQ(smallest.at("out1").toInt64(), (std::vector<int64_t>{0, 3, 1, 3}));
}

TEST(TopKKernel, RandomInnerAxisMatchesSort) {
  Tensor x = randomTensor(DataType::kFLOAT, {3, 7, 5}, 9);
  auto v = x.toDouble();
  auto out = OneNode("TopK", {x, int64s({1}, {4})}, attrs({{"axis", int64_t{-2}}}), 2).run();
  const Tensor& values = out.at("out0");
  const Tensor& indices = out.at("out1");
  ASSERT_EQ(values.shape(), (Shape{3, 4, 5}));
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k) {
      std::vector<int> order(7);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return v[(i * 7 + a) * 5 + k] > v[(i * 7 + b) * 5 + k]; });
      for (int e = 0; e < 4; ++e) {
        EXPECT_EQ(indices.intAt((i * 4 + e) * 5 + k), order[e]);
        EXPECT_EQ(values.at((i * 4 + e) * 5 + k), v[(i * 7 + order[e]) * 5 + k]);
      }
    }
}

TEST(TopKKernel, IntegerValuesAndZeroK) {
  Tensor x = ir::Tensor::fromDouble(DataType::kINT32, {5}, std::vector<double>{4, -2, 9, 4, 0});
  auto out = OneNode("TopK", {x, int64s({1}, {2})}, {}, 2).run();
  EXPECT_EQ(out.at("out0").toInt64(), (std::vector<int64_t>{9, 4}));
  EXPECT_EQ(out.at("out1").toInt64(), (std::vector<int64_t>{2, 0}));
  auto none = OneNode("TopK", {x, int64s({1}, {0})}, {}, 2).run();
  EXPECT_EQ(none.at("out0").numel(), 0);
}

}  // namespace
}  // namespace kiln::testing
