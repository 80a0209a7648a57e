// "cuda.linalg" against the CPU reference: Det of single and batched matrices (1 x 1 to
// 16 x 16, singular ones too) in every float type, ReverseSequence time-major and
// batch-major, and TensorScatter linear / circular, over several element sizes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.linalg", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

TEST(CudaLinalg, DetMatchesSingleAndBatchedMatrices) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16})
    for (const ir::Shape& shape : {ir::Shape{1, 1}, ir::Shape{3, 3}, ir::Shape{2, 4, 5, 5}, ir::Shape{7, 16, 16}}) {
      ir::Tensor x = testing::randomTensor(type, shape, 11, -1.0, 1.0);
      ir::Graph g = testing::makeNodeGraph("Det", {{"x", type, shape, false, &x}}, {});
      expectProviderMatches(g, type, "Det " + std::string(toString(type)) + " " + toString(shape));
    }
  // A singular matrix (two equal rows): exactly 0.
  ir::Tensor x = ir::Tensor::fromDouble(DataType::kFLOAT, {3, 3}, std::vector<double>{1, 2, 3, 1, 2, 3, 4, 5, 7});
  expectProviderMatches(testing::makeNodeGraph("Det", {{"x", DataType::kFLOAT, {3, 3}, false, &x}}, {}),
                        DataType::kFLOAT, "Det singular");
}

TEST(CudaLinalg, ReverseSequenceMatchesBothLayouts) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8})
    for (int64_t batch_axis : {0, 1}) {
      const int64_t steps = 5, batch = 4;
      const ir::Shape shape = batch_axis == 1 ? ir::Shape{steps, batch, 3} : ir::Shape{batch, steps, 3};
      ir::Tensor lens = ir::Tensor::fromInt64({batch}, std::vector<int64_t>{5, 0, 3, 1});
      ir::Attributes a;
      a.set("batch_axis", batch_axis);
      a.set("time_axis", 1 - batch_axis);
      ir::Graph g = testing::makeNodeGraph("ReverseSequence",
                                           {{"x", type, shape}, {"lens", DataType::kINT64, {batch}, false, &lens}}, a);
      expectProviderMatches(
          g, type, "ReverseSequence " + std::string(toString(type)) + " batch_axis " + std::to_string(batch_axis));
    }
}

TEST(CudaLinalg, TensorScatterMatchesLinearAndCircular) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape past, update;
    int64_t axis;
    std::string mode;
    std::vector<int64_t> writes;  // empty: no write_indices input
  };
  const Case cases[] = {
      {{2, 3, 8, 5}, {2, 3, 2, 5}, -2, "linear", {1, 6}},
      {{2, 3, 8, 5}, {2, 3, 3, 5}, -2, "linear", {}},
      {{3, 7, 4}, {3, 3, 4}, 1, "circular", {5, 0, 6}},
      {{2, 4, 3}, {2, 4, 3}, 1, "circular", {3, 1}},  // the whole cache, wrapping
      {{2, 5, 6}, {2, 5, 2}, 2, "linear", {4, 0}},
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kINT8})
    for (const Case& c : cases) {
      ir::Attributes a;
      a.set("axis", c.axis);
      a.set("mode", c.mode);
      std::vector<testing::NodeInput> inputs = {{"past", type, c.past}, {"update", type, c.update}};
      const ir::Tensor writes =
          ir::Tensor::fromInt64({static_cast<int64_t>(c.writes.size())}, c.writes);  // one per batch entry
      if (!c.writes.empty()) inputs.push_back({"writes", DataType::kINT64, {c.past[0]}, false, &writes});
      ir::Graph g = testing::makeNodeGraph("TensorScatter", inputs, a, 1, 24);
      expectProviderMatches(g, type,
                            "TensorScatter " + c.mode + " " + std::string(toString(type)) + " " + toString(c.past));
    }
}

}  // namespace
}  // namespace kiln
