// cuda.pool_nd against the reference: MaxPool (with Indices in both storage orders),
// AveragePool (count_include_pad on and off) and LpPool over one, two and three spatial dims,
// with strides, dilations, pads and ceil_mode, in float types and (MaxPool) integer types,
// at odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::in;
using gputest::Ints;

ir::Graph pool(const std::string& op, DataType t, Ints shape, const std::map<std::string, ir::AttributeValue>& attrs,
               int outputs = 1) {
  return testing::makeNodeGraph(op, {in("X", t, std::move(shape))}, attrsOf(attrs), outputs);
}

TEST(CudaPoolNd, ThreeSpatialDimsInEveryFloatType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
    SCOPED_TRACE(std::string(toString(t)));
    expectAllPass("cuda.pool_nd", pool("MaxPool", t, {2, 3, 7, 6, 5}, {{"kernel_shape", Ints{3, 2, 2}}}), t);
    expectAllPass("cuda.pool_nd",
                  pool("MaxPool", t, {1, 2, 9, 8, 7},
                       {{"kernel_shape", Ints{2, 2, 2}},
                        {"dilations", Ints{2, 2, 1}},
                        {"strides", Ints{1, 2, 2}},
                        {"ceil_mode", int64_t{1}}}),
                  t);
    for (int64_t include : {0, 1})
      expectAllPass("cuda.pool_nd",
                    pool("AveragePool", t, {2, 3, 7, 6, 5},
                         {{"kernel_shape", Ints{3, 3, 2}},
                          {"pads", Ints{1, 1, 0, 1, 0, 1}},
                          {"strides", Ints{2, 1, 2}},
                          {"count_include_pad", include}}),
                    t);
    expectAllPass("cuda.pool_nd",
                  pool("AveragePool", t, {1, 2, 9, 9, 9},
                       {{"kernel_shape", Ints{2, 2, 2}},
                        {"dilations", Ints{2, 2, 2}},
                        {"ceil_mode", int64_t{1}},
                        {"strides", Ints{2, 2, 2}}}),
                  t);
  }
}

TEST(CudaPoolNd, LpPoolInOneTwoAndThreeDims) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
    for (int64_t p : {1, 2, 3}) {
      SCOPED_TRACE(std::string(toString(t)) + " p " + std::to_string(p));
      expectAllPass("cuda.pool_nd", pool("LpPool", t, {2, 3, 17}, {{"kernel_shape", Ints{3}}, {"p", p}}), t);
      expectAllPass(
          "cuda.pool_nd",
          pool("LpPool", t, {2, 3, 9, 7}, {{"kernel_shape", Ints{2, 3}}, {"p", p}, {"pads", Ints{1, 0, 0, 1}}}), t);
      expectAllPass("cuda.pool_nd", pool("LpPool", t, {1, 2, 5, 6, 7}, {{"kernel_shape", Ints{2, 2, 2}}, {"p", p}}), t);
    }
}

TEST(CudaPoolNd, MaxPoolOfIntegerTypes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kINT8, DataType::kUINT8}) {  // the integer types MaxPool takes
    SCOPED_TRACE(std::string(toString(t)));
    expectAllPass("cuda.pool_nd",
                  pool("MaxPool", t, {2, 3, 11, 9}, {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}), t);
    expectAllPass("cuda.pool_nd", pool("MaxPool", t, {2, 3, 13}, {{"kernel_shape", Ints{4}}, {"strides", Ints{3}}}), t);
  }
}

TEST(CudaPoolNd, MaxPoolIndicesInBothStorageOrders) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (int64_t order : {0, 1}) {
    SCOPED_TRACE("storage_order " + std::to_string(order));
    expectAllPass("cuda.pool_nd",
                  pool("MaxPool", DataType::kFLOAT, {2, 3, 9, 7},
                       {{"kernel_shape", Ints{3, 2}},
                        {"strides", Ints{2, 2}},
                        {"pads", Ints{1, 0, 1, 1}},
                        {"storage_order", order}},
                       2),
                  DataType::kFLOAT);
    expectAllPass("cuda.pool_nd",
                  pool("MaxPool", DataType::kHALF, {1, 2, 5, 6, 7},
                       {{"kernel_shape", Ints{2, 3, 2}}, {"storage_order", order}}, 2),
                  DataType::kHALF);
  }
}

}  // namespace
}  // namespace kiln
