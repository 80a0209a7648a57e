// cuda.norm_general against the reference: BatchNormalization with statistics given at run
// time and in training mode (the batch's statistics, running_mean / running_var outputs), and
// LpNormalization (p 1 and 2, first, middle and last axis), in float, half, bfloat16 and
// double, at odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::Ints;

const DataType kTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE};

ir::Graph batchNorm(DataType t, const Ints& shape, bool training, const ir::Tensor& x, const ir::Tensor& scale,
                    const ir::Tensor& bias, const ir::Tensor& mean, const ir::Tensor& var) {
  const Ints c = {shape[1]};
  ir::Attributes a = attrsOf({{"epsilon", 1e-3f}, {"momentum", 0.8f}, {"training_mode", int64_t{training ? 1 : 0}}});
  ir::Graph g = testing::makeNodeGraph("BatchNormalization",
                                       {{"x", t, shape, false, &x},
                                        {"s", t, c, false, &scale},
                                        {"b", t, c, false, &bias},
                                        {"m", t, c, false, &mean},
                                        {"v", t, c, false, &var}},
                                       a, training ? 3 : 1, 15);
  return g;
}

TEST(CudaNormGeneral, BatchNormalizationWithRunTimeAndBatchStatistics) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : kTypes)
    for (const Ints& shape : {Ints{2, 3, 4, 5}, Ints{3, 7}, Ints{1, 5, 9, 3, 2}})
      for (bool training : {false, true}) {
        SCOPED_TRACE(std::string(toString(t)) + " " + toString(ir::Shape(shape)) + (training ? " training" : ""));
        const Ints c = {shape[1]};
        const ir::Tensor x = testing::randomTensor(t, shape, 1, -2.0, 3.0);
        const ir::Tensor scale = testing::randomTensor(t, c, 2, 0.5, 1.5);
        const ir::Tensor bias = testing::randomTensor(t, c, 3);
        const ir::Tensor mean = testing::randomTensor(t, c, 4);
        const ir::Tensor var = testing::randomTensor(t, c, 5, 0.2, 2.0);  // variances are positive
        expectAllPass("cuda.norm_general", batchNorm(t, shape, training, x, scale, bias, mean, var), t);
      }
}

TEST(CudaNormGeneral, LpNormalizationAlongAnyAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : kTypes)
    for (int64_t p : {1, 2})
      for (int64_t axis : {0, 1, -1}) {
        SCOPED_TRACE(std::string(toString(t)) + " p " + std::to_string(p) + " axis " + std::to_string(axis));
        ir::Graph g = testing::makeNodeGraph("LpNormalization", {gputest::in("x", t, {3, 17, 5})},
                                             attrsOf({{"p", p}, {"axis", axis}}));
        expectAllPass("cuda.norm_general", g, t);
      }
}

}  // namespace
}  // namespace kiln
