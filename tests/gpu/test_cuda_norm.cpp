// cuda.softmax and cuda.norm against the reference: Softmax/LogSoftmax along the last axis
// (warp and block rows), a middle and the first axis (strided), and the pre-13 flattened form;
// LayerNormalization (axes, broadcast Scale/B, constant or not, the Mean/InvStdDev outputs),
// BatchNormalization (folded constants, refit) and InstanceNormalization; fp32/fp16/bf16.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::in;
using gputest::Ints;

ir::Graph softmax(const std::string& op, DataType t, Ints shape, int64_t axis, int opset = 21) {
  return testing::makeNodeGraph(op, {in("X", t, std::move(shape))}, attrsOf({{"axis", axis}}), 1, opset);
}

TEST(CudaSoftmax, AlongTheLastAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      SCOPED_TRACE(op);
      expectAllPass("cuda.softmax", softmax(op, t, {5, 37}, -1), t);        // a warp per row
      expectAllPass("cuda.softmax", softmax(op, t, {2, 3, 1}, -1), t);      // rows of one
      expectAllPass("cuda.softmax", softmax(op, t, {3, 1500}, 1), t);       // a block per row
      expectAllPass("cuda.softmax", softmax(op, t, {1, 2, 1024}, 2), t);    // the warp/block boundary
    }
}

TEST(CudaSoftmax, AlongAStridedAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      SCOPED_TRACE(op);
      expectAllPass("cuda.softmax", softmax(op, t, {3, 17, 5}, 1), t);
      expectAllPass("cuda.softmax", softmax(op, t, {19, 4, 3}, 0), t);
      expectAllPass("cuda.softmax", softmax(op, t, {2, 3, 4, 5}, -3), t);
    }
}

TEST(CudaSoftmax, Opset11FlattensAtTheAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.softmax", softmax("Softmax", t, {2, 3, 4, 5}, 1, 11), t);
    expectAllPass("cuda.softmax", softmax("LogSoftmax", t, {6, 7, 3}, 2, 11), t);
  }
}

ir::Graph layerNorm(DataType t, Ints x, Ints scale, std::optional<Ints> bias, int64_t axis, int outputs = 1,
                    bool constant = true) {
  std::vector<testing::NodeInput> inputs = {in("X", t, std::move(x)), in("Scale", t, std::move(scale), constant)};
  if (bias) inputs.push_back(in("B", t, *bias, constant));
  return testing::makeNodeGraph("LayerNormalization", inputs, attrsOf({{"axis", axis}, {"epsilon", 1e-5f}}), outputs);
}

TEST(CudaNorm, LayerNormalizationRowsAndAxes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.norm", layerNorm(t, {4, 7, 33}, {33}, Ints{33}, -1), t);
    expectAllPass("cuda.norm", layerNorm(t, {3, 4, 5}, {4, 5}, std::nullopt, 1), t);
    expectAllPass("cuda.norm", layerNorm(t, {3, 4, 5}, {5}, Ints{1, 5}, 1), t);  // broadcast Scale/B
    expectAllPass("cuda.norm", layerNorm(t, {2, 1500}, {1500}, Ints{1500}, -1), t);  // a block per row
    expectAllPass("cuda.norm", layerNorm(t, {6, 9}, {9}, Ints{9}, 1, 1, false), t);  // Scale/B not constant
  }
}

TEST(CudaNorm, LayerNormalizationVectorizedRows) {
  // Rows of whole 16-byte vectors with a per-element Scale/B take the register-resident
  // warp kernel (4 or 8 vectors per lane); the odd row counts check the last block's tail.
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.norm", layerNorm(t, {2, 13, 768}, {768}, Ints{768}, -1), t);  // BERT-base rows
    expectAllPass("cuda.norm", layerNorm(t, {5, 64}, {64}, std::nullopt, -1), t);
    expectAllPass("cuda.norm", layerNorm(t, {3, 2048}, {2048}, Ints{2048}, -1), t);  // 8 vectors per lane (fp16)
    expectAllPass("cuda.norm", layerNorm(t, {9, 1024}, {1024}, Ints{1024}, -1, 3), t);  // with Mean/InvStdDev
    expectAllPass("cuda.norm", layerNorm(t, {6, 16}, {16}, Ints{16}, 1, 1, false), t);  // Scale/B not constant
  }
}

TEST(CudaNorm, LayerNormalizationWritesMeanAndInvStdDev) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.norm", layerNorm(t, {5, 3, 17}, {3, 17}, Ints{17}, 1, 3), t);
    expectAllPass("cuda.norm", layerNorm(t, {2, 1200}, {1200}, std::nullopt, -1, 3), t);
  }
}

//! BatchNormalization with constant statistics; the variance is positive.
struct BatchNormCase {
  ir::Tensor var;
  ir::Graph graph;
  BatchNormCase(DataType t, Ints x) {
    const int64_t c = x[1];
    var = testing::randomTensor(t, {c}, 77, 0.2, 2.0);
    graph = testing::makeNodeGraph(
        "BatchNormalization",
        {in("X", t, x), in("scale", t, {c}, true), in("B", t, {c}, true), in("mean", t, {c}, true),
         testing::NodeInput{.name = "var", .type = t, .shape = {c}, .value = &var}},
        attrsOf({{"epsilon", 1e-3f}}));
  }
};

TEST(CudaNorm, BatchNormalizationInference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.norm", BatchNormCase(t, {2, 5, 7, 3}).graph, t);
    expectAllPass("cuda.norm", BatchNormCase(t, {4, 6}).graph, t);
    expectAllPass("cuda.norm", BatchNormCase(t, {1, 3, 11}).graph, t);
  }
}

TEST(CudaNorm, BatchNormalizationRefitFoldsNewStatistics) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  gputest::expectRefitFollows("cuda.norm", BatchNormCase(DataType::kFLOAT, {2, 5, 7, 3}).graph, "var");
  gputest::expectRefitFollows("cuda.norm", BatchNormCase(DataType::kFLOAT, {2, 5, 7, 3}).graph, "scale");
}

TEST(CudaNorm, BatchNormalizationWithRuntimeStatisticsHasNoCandidate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const DataType t = DataType::kFLOAT;
  gputest::expectNoCandidate(
      "cuda.norm", testing::makeNodeGraph("BatchNormalization",
                                          {in("X", t, {2, 3, 4}), in("scale", t, {3}), in("B", t, {3}),
                                           in("mean", t, {3}), in("var", t, {3})},
                                          attrsOf({})));
}

TEST(CudaNorm, InstanceNormalization) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    for (bool constant : {true, false}) {
      expectAllPass("cuda.norm",
                    testing::makeNodeGraph("InstanceNormalization",
                                           {in("X", t, {2, 3, 9, 11}), in("scale", t, {3}, constant),
                                            in("B", t, {3}, constant)},
                                           attrsOf({{"epsilon", 1e-5f}})),
                    t);
    }
    expectAllPass("cuda.norm",
                  testing::makeNodeGraph("InstanceNormalization",
                                         {in("X", t, {1, 2, 40, 41}), in("scale", t, {2}, true), in("B", t, {2}, true)},
                                         attrsOf({})),
                  t);
    expectAllPass("cuda.norm",
                  testing::makeNodeGraph("InstanceNormalization",
                                         {in("X", t, {3, 4, 7}), in("scale", t, {4}, true), in("B", t, {4}, true)},
                                         attrsOf({})),
                  t);
  }
}

}  // namespace
}  // namespace kiln
