// cuda.conv and cuda.gemm against the reference: convolutions with groups, strides, pads,
// auto_pad, dilations and bias (constant or runtime weights, 2-D and 1-D, several tiles),
// MatMul with batches, broadcast batch dims and 1-D operands, Gemm with transA/transB, alpha,
// beta and every broadcast form of C; fp32/fp16/bf16 at odd sizes; refit of the weights.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::in;
using gputest::Ints;

ir::Graph conv(DataType t, Ints x, Ints w, bool bias, std::map<std::string, ir::AttributeValue> attrs,
               bool constant = true) {
  std::vector<testing::NodeInput> inputs = {in("X", t, std::move(x)), in("W", t, w, constant)};
  if (bias) inputs.push_back(in("B", t, {w[0]}, constant));
  return testing::makeNodeGraph("Conv", inputs, attrsOf(std::move(attrs)));
}

TEST(CudaConv, OddSizesGroupsStridesDilations) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    SCOPED_TRACE(std::string(toString(t)));
    expectAllPass("cuda.conv", conv(t, {1, 3, 7, 9}, {5, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}), t);
    expectAllPass("cuda.conv", conv(t, {1, 3, 7, 9}, {5, 3, 3, 3}, false, {}), t);
    expectAllPass("cuda.conv", conv(t, {2, 4, 9, 8}, {6, 2, 3, 3}, true, {{"group", int64_t{2}}, {"pads", Ints{1, 0, 1, 2}}}), t);
    expectAllPass("cuda.conv", conv(t, {1, 3, 11, 10}, {4, 3, 3, 2}, true, {{"strides", Ints{2, 2}}}), t);
    expectAllPass("cuda.conv", conv(t, {1, 2, 12, 13}, {3, 2, 3, 3}, true,
                                    {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}), t);
    expectAllPass("cuda.conv", conv(t, {2, 6, 8, 7}, {6, 1, 3, 3}, true,  // depthwise
                                    {{"group", int64_t{6}}, {"strides", Ints{2, 1}}, {"pads", Ints{1, 1, 1, 1}}}), t);
    expectAllPass("cuda.conv", conv(t, {1, 5, 9, 9}, {7, 5, 1, 1}, true, {}), t);  // pointwise
  }
}

TEST(CudaConv, AutoPadOneDimensionalAndRuntimeWeights) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    for (const char* pad : {"SAME_UPPER", "SAME_LOWER", "VALID"})
      expectAllPass("cuda.conv", conv(t, {1, 3, 10, 9}, {4, 3, 3, 4}, true,
                                      {{"auto_pad", std::string(pad)}, {"strides", Ints{2, 2}}}), t);
    expectAllPass("cuda.conv", conv(t, {2, 3, 17}, {5, 3, 3}, true, {{"pads", Ints{1, 1}}, {"strides", Ints{2}}}), t);
    expectAllPass("cuda.conv", conv(t, {1, 4, 7, 9}, {6, 2, 3, 3}, true, {{"group", int64_t{2}}}, false), t);
  }
}

TEST(CudaConv, SeveralTilesInEachDirection) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // 70 output channels (two row tiles), 2*20*20 = 800 columns (13 column tiles), K = 144.
  expectAllPass("cuda.conv", conv(DataType::kFLOAT, {2, 16, 20, 20}, {70, 16, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}),
                DataType::kFLOAT, testing::Tolerance{2e-5, 2e-5});
  expectAllPass("cuda.conv", conv(DataType::kHALF, {2, 16, 20, 20}, {70, 8, 3, 3}, true,
                                  {{"pads", Ints{1, 1, 1, 1}}, {"group", int64_t{2}}}), DataType::kHALF);
}

TEST(CudaConv, RefitUploadsNewWeights) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  gputest::expectRefitFollows("cuda.conv", conv(DataType::kFLOAT, {1, 3, 7, 9}, {5, 3, 3, 3}, true, {}), "W");
  gputest::expectRefitFollows("cuda.conv", conv(DataType::kFLOAT, {1, 3, 7, 9}, {5, 3, 3, 3}, true, {}), "B");
}

ir::Graph matmul(DataType t, Ints a, Ints b, bool const_b = false) {
  return testing::makeNodeGraph("MatMul", {in("A", t, std::move(a)), in("B", t, std::move(b), const_b)}, {});
}

TEST(CudaGemm, MatMulShapes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    SCOPED_TRACE(std::string(toString(t)));
    expectAllPass("cuda.gemm", matmul(t, {17, 33}, {33, 65}), t);
    expectAllPass("cuda.gemm", matmul(t, {17, 33}, {33, 65}, true), t);       // constant B
    expectAllPass("cuda.gemm", matmul(t, {3, 17, 33}, {33, 65}, true), t);    // batched A
    expectAllPass("cuda.gemm", matmul(t, {2, 1, 5, 9}, {3, 9, 7}), t);        // broadcast batches
    expectAllPass("cuda.gemm", matmul(t, {4, 1, 6, 5}, {1, 3, 5, 2}), t);
    expectAllPass("cuda.gemm", matmul(t, {33}, {3, 33, 19}), t);              // 1-D A
    expectAllPass("cuda.gemm", matmul(t, {5, 17, 33}, {33}), t);              // 1-D B
    expectAllPass("cuda.gemm", matmul(t, {33}, {33}), t);                     // dot product
    expectAllPass("cuda.gemm", matmul(t, {1, 1}, {1, 1}), t);
  }
}

TEST(CudaGemm, MatMulSeveralTiles) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  expectAllPass("cuda.gemm", matmul(DataType::kFLOAT, {130, 150}, {150, 70}), DataType::kFLOAT,
                testing::Tolerance{2e-5, 2e-5});
  expectAllPass("cuda.gemm", matmul(DataType::kHALF, {2, 129, 64}, {2, 64, 131}), DataType::kHALF);
  expectAllPass("cuda.gemm", matmul(DataType::kBF16, {65, 200}, {200, 66}, true), DataType::kBF16);
}

ir::Graph gemm(DataType t, Ints a, Ints b, std::optional<Ints> c, int64_t ta, int64_t tb, float alpha, float beta,
               bool const_b = false) {
  std::vector<testing::NodeInput> inputs = {in("A", t, std::move(a)), in("B", t, std::move(b), const_b)};
  if (c) inputs.push_back(in("C", t, *c));
  return testing::makeNodeGraph(
      "Gemm", inputs, attrsOf({{"transA", ta}, {"transB", tb}, {"alpha", alpha}, {"beta", beta}}));
}

TEST(CudaGemm, GemmTransposesAndBroadcastC) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    SCOPED_TRACE(std::string(toString(t)));
    expectAllPass("cuda.gemm", gemm(t, {17, 33}, {33, 65}, Ints{17, 65}, 0, 0, 1.0f, 1.0f), t);
    expectAllPass("cuda.gemm", gemm(t, {33, 17}, {33, 65}, Ints{65}, 1, 0, 0.5f, 2.0f, true), t);
    expectAllPass("cuda.gemm", gemm(t, {17, 33}, {65, 33}, Ints{17, 1}, 0, 1, 1.5f, -1.0f, true), t);
    expectAllPass("cuda.gemm", gemm(t, {33, 17}, {65, 33}, Ints{}, 1, 1, 1.0f, 0.5f), t);
    expectAllPass("cuda.gemm", gemm(t, {17, 33}, {33, 65}, Ints{1, 65}, 0, 0, 1.0f, 0.0f), t);
    expectAllPass("cuda.gemm", gemm(t, {17, 33}, {33, 65}, std::nullopt, 0, 0, 2.0f, 1.0f), t);
  }
}

TEST(CudaGemm, RefitUploadsNewWeights) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  gputest::expectRefitFollows("cuda.gemm", matmul(DataType::kFLOAT, {5, 17, 33}, {33, 19}, true), "B");
  gputest::expectRefitFollows("cuda.gemm", gemm(DataType::kFLOAT, {17, 33}, {19, 33}, Ints{19}, 0, 1, 1.5f, 1.0f, true), "B");
}

}  // namespace
}  // namespace kiln
