// cuda.assorted against the reference: AffineGrid in 2-D and 3-D with and without
// align_corners (sizes of 1 included), float types; CenterCropPad cropping and padding odd
// and even differences over all axes and some, in several element sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

TEST(CudaAssorted, AffineGridIn2DAnd3D) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
    for (int64_t align : {0, 1}) {
      SCOPED_TRACE(std::string(toString(t)) + " align " + std::to_string(align));
      const ir::Tensor size2 = ir::Tensor::fromInt64({4}, Ints{2, 3, 5, 1});
      const ir::Tensor size3 = ir::Tensor::fromInt64({5}, Ints{2, 3, 4, 1, 6});
      gputest::expectAllPass(
          "cuda.assorted",
          testing::makeNodeGraph("AffineGrid", {in("theta", t, {2, 2, 3}), gputest::ints("size", size2)},
                                 attrsOf({{"align_corners", align}}), 1, 20),
          t);
      gputest::expectAllPass(
          "cuda.assorted",
          testing::makeNodeGraph("AffineGrid", {in("theta", t, {2, 3, 4}), gputest::ints("size", size3)},
                                 attrsOf({{"align_corners", align}}), 1, 20),
          t);
    }
}

TEST(CudaAssorted, CenterCropPadCropsAndPads) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor all = ir::Tensor::fromInt64({3}, Ints{4, 9, 2});  // crop odd, pad even, pad odd
  const ir::Tensor some = ir::Tensor::fromInt64({2}, Ints{2, 8});
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8, DataType::kBOOL}) {
    SCOPED_TRACE(std::string(toString(t)));
    gputest::expectAllPass(
        "cuda.assorted",
        testing::makeNodeGraph("CenterCropPad", {in("x", t, {7, 5, 1}), gputest::ints("shape", all)}, {}, 1, 18), t);
    gputest::expectAllPass(
        "cuda.assorted",
        testing::makeNodeGraph("CenterCropPad", {in("x", t, {3, 5, 6}), gputest::ints("shape", some)},
                               attrsOf({{"axes", Ints{0, -1}}}), 1, 18),
        t);
  }
}

}  // namespace
}  // namespace kiln
