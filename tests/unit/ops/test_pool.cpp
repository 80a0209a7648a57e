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

TEST(PoolShape, FloorAndCeilModeWithSymbolicBatch) {
  const auto x = info(DataType::kFLOAT, {-2, 3, 7, 8});
  auto floor = nn_testing::infer("MaxPool", {x}, attrsOf("MaxPool", {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}}), 2);
  EXPECT_EQ(floor[0].shape, (Ints{-2, 3, 3, 3}));
  EXPECT_EQ(floor[1].type, DataType::kINT64);
  EXPECT_EQ(floor[1].shape, floor[0].shape);
  auto ceil = nn_testing::infer(
      "AveragePool", {x}, attrsOf("AveragePool", {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}));
  EXPECT_EQ(ceil[0].shape, (Ints{-2, 3, 3, 4}));
}

TEST(PoolShape, CeilModeDropsWindowStartingInEndPadding) {
  // in 4, kernel 1, stride 2, pads (0, 1): ceil((4 + 1 - 1) / 2) + 1 = 3, but the third window
  // would start at 4, inside the end padding only.
  auto out = nn_testing::infer("MaxPool", {info(DataType::kFLOAT, {1, 1, 4})},
                               attrsOf("MaxPool", {{"kernel_shape", Ints{1}}, {"strides", Ints{2}}, {"pads", Ints{0, 1}},
                                                   {"ceil_mode", int64_t{1}}}));
  EXPECT_EQ(out[0].shape, (Ints{1, 1, 2}));
}

TEST(PoolShape, SameUpperAndUnknownSpatial) {
  auto out = nn_testing::infer("MaxPool", {info(DataType::kFLOAT, {1, 3, -1, 9})},
                               attrsOf("MaxPool", {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}},
                                                   {"auto_pad", std::string("SAME_UPPER")}}));
  EXPECT_EQ(out[0].shape, (Ints{1, 3, -1, 5}));
}

TEST(PoolShape, GlobalPoolKeepsNAndC) {
  auto out = nn_testing::infer("GlobalAveragePool", {info(DataType::kFLOAT, {-2, 7, 5, 6, 2})}, attrsOf("GlobalAveragePool", {}));
  EXPECT_EQ(out[0].shape, (Ints{-2, 7, 1, 1, 1}));
}

TEST(PoolShape, RejectsBadKernelAndTypes) {
  EXPECT_EQ(nn_testing::inferError("MaxPool", {info(DataType::kFLOAT, {1, 3, 5, 5})},
                                   attrsOf("MaxPool", {{"kernel_shape", Ints{3}}})),
            static_cast<int>(ErrorCode::kInvalidModel));
  EXPECT_EQ(nn_testing::inferError("MaxPool", {info(DataType::kFLOAT, {1, 3, 2, 2})},
                                   attrsOf("MaxPool", {{"kernel_shape", Ints{3, 3}}})),
            static_cast<int>(ErrorCode::kInvalidModel));
  EXPECT_EQ(nn_testing::inferError("AveragePool", {info(DataType::kINT32, {1, 3, 5, 5})},
                                   attrsOf("AveragePool", {{"kernel_shape", Ints{3, 3}}})),
            static_cast<int>(ErrorCode::kUnsupported));
}

TEST(MaxPool, ValuesAndRowMajorIndicesIncludePlaneOffset) {
  std::vector<double> v(50);
  for (int i = 0; i < 50; ++i) v[i] = i + 1;  // two channels of 5x5
  auto out = runNode("MaxPool", {tensorOf({1, 2, 5, 5}, v)},
                     attrsOf("MaxPool", {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}), 2);
  expectNear(out[0], {7, 9, 17, 19, 32, 34, 42, 44}, 0);
  EXPECT_EQ(out[1].toInt64(), (Ints{6, 8, 16, 18, 31, 33, 41, 43}));
}

TEST(MaxPool, ColumnMajorIndices) {
  std::vector<double> v(25);
  for (int i = 0; i < 25; ++i) v[i] = i + 1;
  auto out = runNode("MaxPool", {tensorOf({1, 1, 5, 5}, v)},
                     attrsOf("MaxPool", {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"storage_order", int64_t{1}}}),
                     2);
  EXPECT_EQ(out[1].toInt64(), (Ints{6, 16, 8, 18}));
}

TEST(MaxPool, DilationsPadsAndUint8) {
  auto out = runNode("MaxPool", {tensorOf({1, 1, 6}, {5, 1, 2, 9, 3, 4}, DataType::kUINT8)},
                     attrsOf("MaxPool", {{"kernel_shape", Ints{2}}, {"dilations", Ints{2}}, {"pads", Ints{1, 0}}}));
  // windows (dilated by 2) start at -1..3: {-1,1}, {0,2}, {1,3}, {2,4}, {3,5}
  EXPECT_EQ(out[0].type(), DataType::kUINT8);
  EXPECT_EQ(out[0].toInt64(), (Ints{1, 5, 9, 3, 9}));
}

TEST(MaxPool, KernelOneIsIdentityIn3D) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 3, 4, 5}, 7);
  auto out = runNode("MaxPool", {x}, attrsOf("MaxPool", {{"kernel_shape", Ints{1, 1, 1}}}));
  expectNear(out[0], x.toDouble(), 0);
}

TEST(AveragePool, CountIncludePadChangesTheDivisor) {
  const ir::Tensor x = tensorOf({1, 1, 4}, {1, 2, 3, 4});
  auto exclude = runNode("AveragePool", {x}, attrsOf("AveragePool", {{"kernel_shape", Ints{3}}, {"pads", Ints{1, 1}}}));
  expectNear(exclude[0], {1.5, 2, 3, 3.5}, 1e-6);
  auto include = runNode("AveragePool", {x},
                         attrsOf("AveragePool", {{"kernel_shape", Ints{3}}, {"pads", Ints{1, 1}}, {"count_include_pad", int64_t{1}}}));
  expectNear(include[0], {1, 2, 3, 7.0 / 3.0}, 1e-6);
}

TEST(AveragePool, CeilModeLastWindowAveragesItsValidPart) {
  const ir::Tensor x = tensorOf({1, 1, 5}, {1, 2, 3, 4, 6});
  for (int64_t include : {0, 1}) {
    auto y = runNode("AveragePool", {x},
                     attrsOf("AveragePool", {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"ceil_mode", int64_t{1}},
                                             {"count_include_pad", include}}));
    expectNear(y[0], {1.5, 3.5, 6}, 1e-6);
  }
}

TEST(AveragePool, SameLowerExcludesPadding2D) {
  std::vector<double> v{1, 2, 3, 4};
  auto y = runNode("AveragePool", {tensorOf({1, 1, 2, 2}, v)},
                   attrsOf("AveragePool", {{"kernel_shape", Ints{2, 2}}, {"auto_pad", std::string("SAME_LOWER")}}));
  expectNear(y[0], {1, 1.5, 2, 2.5}, 1e-6);
}

TEST(LpPool, TwoNormOfWindows) {
  auto y = runNode("LpPool", {tensorOf({1, 1, 4}, {3, 4, 0, -5})}, attrsOf("LpPool", {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}}));
  expectNear(y[0], {5, 5}, 1e-6);
}

TEST(GlobalPool, AverageMaxAndLpOverAllSpatialDims) {
  ir::Tensor x = randomTensor(DataType::kDOUBLE, {2, 3, 4, 5}, 11);
  const std::vector<double> v = x.toDouble();
  std::vector<double> mean(6, 0.0), max(6, -1e300), l2(6, 0.0);
  for (size_t i = 0; i < v.size(); ++i) {
    mean[i / 20] += v[i] / 20.0;
    max[i / 20] = std::max(max[i / 20], v[i]);
    l2[i / 20] += v[i] * v[i];
  }
  for (double& s : l2) s = std::sqrt(s);
  expectNear(runNode("GlobalAveragePool", {x}, attrsOf("GlobalAveragePool", {}))[0], mean, 1e-12);
  expectNear(runNode("GlobalMaxPool", {x}, attrsOf("GlobalMaxPool", {}))[0], max, 0);
  expectNear(runNode("GlobalLpPool", {x}, attrsOf("GlobalLpPool", {}))[0], l2, 1e-12);
  EXPECT_EQ(runNode("GlobalMaxPool", {x}, attrsOf("GlobalMaxPool", {}))[0].shape(), (Ints{2, 3, 1, 1}));
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

TEST(MaxUnpool, ScattersToIndicesOfTheUnpooledShape) {
  const ir::Tensor x = tensorOf({1, 1, 2, 2}, {1, 2, 3, 4});
  const ir::Tensor i = ir::Tensor::fromInt64({1, 1, 2, 2}, std::vector<int64_t>{5, 7, 13, 15});
  auto y = nn_testing::runNode("MaxUnpool", {x, i}, attrsOf("MaxUnpool", {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  EXPECT_EQ(y[0].shape(), (Ints{1, 1, 4, 4}));
  expectNear(y[0], {0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}, 0);
}

TEST(MaxUnpoolShape, DefaultShapeFromAttributes) {
  auto out = nn_testing::infer("MaxUnpool", {nn_testing::info(DataType::kFLOAT, {-2, 3, 4, -1}), nn_testing::info(DataType::kINT64, {-2, 3, 4, -1})},
                               attrsOf("MaxUnpool", {{"kernel_shape", Ints{3, 2}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 0, 0, 0}}}));
  EXPECT_EQ(out[0].shape, (Ints{-2, 3, 8, -1}));
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(MaxUnpool, OutputShapeInputPadsAtTheEnd) {
  const ir::Tensor x = nn_testing::tensorOf({1, 1, 2, 2}, {5, 6, 7, 8});
  const ir::Tensor i = ir::Tensor::fromInt64({1, 1, 2, 2}, std::vector<int64_t>{5, 7, 13, 15});
  const ir::Tensor shape = ir::Tensor::fromInt64({4}, std::vector<int64_t>{1, 1, 5, 5});
  auto y = nn_testing::runNode("MaxUnpool", {x, i, shape},
                               nn_testing::attrsOf("MaxUnpool", {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                                 {"strides", std::vector<int64_t>{2, 2}}}));
  std::vector<double> want(25, 0.0);
  want[6] = 5;
  want[8] = 6;
  want[16] = 7;
  want[18] = 8;
  nn_testing::expectNear(y[0], want, 0);
}

}  // namespace
}  // namespace kiln
