// cuda.scan against the reference: CumSum and CumProd with the axis as a run-time input and as
// a constant (negative too), exclusive and reverse, in float, half, double and integer types;
// Trilu with k at run time (positive, negative, beyond the matrix) for upper and lower;
// EyeLike with k and dtype. Odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"
#include "ir/onnx_types.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

TEST(CudaScan, CumulativeOpsEveryTypeAndFlag) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"CumSum", "CumProd"})
    for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64,
                       DataType::kUINT32, DataType::kUINT64})
      for (int64_t axis : {0, 1, -1})
        for (int64_t exclusive : {0, 1})
          for (int64_t reverse : {0, 1})
            for (bool run_time : {false, true}) {
              SCOPED_TRACE(std::string(op) + " " + std::string(toString(t)) + " axis " + std::to_string(axis) +
                           (exclusive ? " exclusive" : "") + (reverse ? " reverse" : "") +
                           (run_time ? " run-time axis" : ""));
              const Ints shape = {3, 5, 4};
              // Products stay small: values near 1 (floats) or in [-2, 2] (integers).
              const bool is_float = isFloatingPoint(t);
              const ir::Tensor x = testing::randomTensor(t, shape, 3, is_float ? 0.5 : -2.0, is_float ? 1.5 : 2.0);
              const ir::Tensor a = ir::Tensor::fromInt64({}, Ints{axis}).cast(DataType::kINT32);
              ir::Graph g = testing::makeNodeGraph(
                  op, {{"x", t, shape, false, &x}, {"axis", DataType::kINT32, {}, !run_time, &a}},
                  attrsOf({{"exclusive", exclusive}, {"reverse", reverse}}), 1, 26);
              gputest::expectAllPass("cuda.scan", g, t);
            }
}

TEST(CudaScan, TriluWithKAtRunTime) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kINT64, DataType::kHALF, DataType::kUINT8})
    for (int64_t upper : {0, 1})
      for (int64_t k : {-7, -1, 0, 2, 9}) {
        SCOPED_TRACE(std::string(toString(t)) + " upper " + std::to_string(upper) + " k " + std::to_string(k));
        const ir::Tensor kv = ir::Tensor::fromInt64({}, Ints{k});
        ir::Graph g = testing::makeNodeGraph("Trilu", {in("x", t, {2, 5, 7}), {"k", DataType::kINT64, {}, false, &kv}},
                                             attrsOf({{"upper", upper}}), 1, 14);
        gputest::expectAllPass("cuda.scan", g, t);
      }
}

TEST(CudaScan, EyeLikeWithKAndDtype) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (int64_t k : {-2, 0, 3})
    for (DataType t : {DataType::kFLOAT, DataType::kINT32, DataType::kDOUBLE, DataType::kBOOL}) {
      SCOPED_TRACE(std::string(toString(t)) + " k " + std::to_string(k));
      ir::Graph g = testing::makeNodeGraph("EyeLike", {in("x", DataType::kFLOAT, {4, 6})},
                                           attrsOf({{"k", k}, {"dtype", ir::toOnnxType(t)}}), 1, 9);
      gputest::expectAllPass("cuda.scan", g, t);
    }
}

}  // namespace
}  // namespace kiln
