// cuda.pool against the reference: MaxPool and AveragePool with strides, explicit and auto
// pads, ceil_mode, dilations and count_include_pad, 2-D and 1-D; GlobalAveragePool and
// GlobalMaxPool over small (a warp per plane) and large (a block per plane) planes; fp32/
// fp16/bf16 at odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::in;
using gputest::Ints;

ir::Graph pool(const std::string& op, DataType t, Ints x, std::map<std::string, ir::AttributeValue> attrs) {
  return testing::makeNodeGraph(op, {in("X", t, std::move(x))}, attrsOf(std::move(attrs)));
}

TEST(CudaPool, MaxAndAverageWithStridesAndPads) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const char* op : {"MaxPool", "AveragePool"}) {
      SCOPED_TRACE(op);
      expectAllPass("cuda.pool", pool(op, t, {1, 3, 13, 11}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}},
                                                              {"pads", Ints{1, 1, 1, 1}}}), t);
      expectAllPass("cuda.pool", pool(op, t, {2, 2, 9, 10}, {{"kernel_shape", Ints{2, 3}}}), t);
      expectAllPass("cuda.pool", pool(op, t, {1, 4, 12, 7}, {{"kernel_shape", Ints{3, 2}}, {"strides", Ints{1, 2}},
                                                             {"pads", Ints{0, 1, 2, 0}}}), t);
    }
}

TEST(CudaPool, CeilModeAndCountIncludePad) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    for (int64_t include : {0, 1}) {
      expectAllPass("cuda.pool", pool("AveragePool", t, {1, 2, 10, 11},
                                      {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}},
                                       {"pads", Ints{1, 1, 1, 1}}, {"ceil_mode", int64_t{1}},
                                       {"count_include_pad", include}}), t);
      expectAllPass("cuda.pool", pool("AveragePool", t, {2, 3, 7, 9},
                                      {{"kernel_shape", Ints{3, 2}}, {"pads", Ints{1, 0, 1, 1}},
                                       {"count_include_pad", include}}), t);
    }
    expectAllPass("cuda.pool", pool("MaxPool", t, {1, 3, 10, 11},
                                    {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}), t);
  }
}

TEST(CudaPool, AutoPadAndDilations) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    for (const char* pad : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
      SCOPED_TRACE(pad);
      expectAllPass("cuda.pool", pool("MaxPool", t, {1, 3, 11, 8},
                                      {{"kernel_shape", Ints{3, 2}}, {"strides", Ints{2, 2}}, {"auto_pad", std::string(pad)}}), t);
      expectAllPass("cuda.pool", pool("AveragePool", t, {2, 2, 9, 9},
                                      {{"kernel_shape", Ints{4, 3}}, {"strides", Ints{2, 1}}, {"auto_pad", std::string(pad)}}), t);
    }
    expectAllPass("cuda.pool", pool("MaxPool", t, {1, 2, 13, 12},
                                    {{"kernel_shape", Ints{3, 3}}, {"dilations", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}), t);
    expectAllPass("cuda.pool", pool("MaxPool", t, {1, 2, 12, 12},
                                    {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 3}}, {"strides", Ints{2, 2}}}), t);
  }
}

TEST(CudaPool, OneDimensional) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const char* op : {"MaxPool", "AveragePool"})
      expectAllPass("cuda.pool", pool(op, t, {2, 3, 17}, {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}), t);
}

TEST(CudaPool, GlobalPools) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      SCOPED_TRACE(op);
      expectAllPass("cuda.pool", pool(op, t, {2, 5, 7, 9}, {}), t);
      expectAllPass("cuda.pool", pool(op, t, {1, 3, 60, 61}, {}), t);   // a block per plane
      expectAllPass("cuda.pool", pool(op, t, {1, 2, 4, 5, 6}, {}), t);  // 3-D
      expectAllPass("cuda.pool", pool(op, t, {3, 4, 1}, {}), t);
    }
}

TEST(CudaPool, MaxPoolIndicesHaveNoCandidate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  gputest::expectNoCandidate("cuda.pool", testing::makeNodeGraph("MaxPool", {in("X", DataType::kFLOAT, {1, 1, 4, 4})},
                                                                 attrsOf({{"kernel_shape", Ints{2, 2}}}), 2));
}

}  // namespace
}  // namespace kiln
