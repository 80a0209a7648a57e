// cuda.grid_sample against the reference: every mode, padding mode and align_corners, 4-D and
// 5-D (and 3-D) X, grids reaching past the borders, at odd sizes, in float, half, bfloat16 and
// double.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::Ints;

void expectSamples(DataType t, const Ints& x_shape, const Ints& grid_shape, const std::string& mode,
                   const std::string& padding, int64_t align, int opset) {
  SCOPED_TRACE(std::string(toString(t)) + " " + mode + " " + padding + " align " + std::to_string(align) + " rank " +
               std::to_string(x_shape.size()));
  const ir::Tensor x = testing::randomTensor(t, x_shape, 11, -2.0, 2.0);
  const ir::Tensor grid = testing::randomTensor(t, grid_shape, 12, -1.3, 1.3);  // some points outside
  ir::Graph g =
      testing::makeNodeGraph("GridSample", {{"X", t, x_shape, false, &x}, {"grid", t, grid_shape, false, &grid}},
                             attrsOf({{"mode", mode}, {"padding_mode", padding}, {"align_corners", align}}), 1, opset);
  expectAllPass("cuda.grid_sample", g, t);
}

TEST(CudaGridSample, EveryModeAndPaddingIn2D) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const char* mode : {"bilinear", "nearest", "bicubic"})
      for (const char* padding : {"zeros", "border", "reflection"})
        for (int64_t align : {0, 1}) expectSamples(t, {2, 3, 7, 5}, {2, 4, 6, 2}, mode, padding, align, 16);
}

TEST(CudaGridSample, VolumetricAndOneDimensionalUnderOpset20Names) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kDOUBLE})
    for (const char* mode : {"linear", "nearest", "cubic"})
      for (const char* padding : {"zeros", "border", "reflection"})
        for (int64_t align : {0, 1}) {
          expectSamples(t, {1, 2, 4, 5, 3}, {1, 3, 2, 4, 3}, mode, padding, align, 20);
          expectSamples(t, {2, 3, 9}, {2, 5, 1}, mode, padding, align, 20);
        }
}

}  // namespace
}  // namespace kiln
