// NonZero, Compress, Unique and NonMaxSuppression on the CPU reference: output sizes follow
// the values (the shape rules compute them when the values are known), against results
// worked out by hand; without the values the data-dependent dims are unknown.
#include <gtest/gtest.h>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::infer;
using nn_testing::info;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

TEST(NonZero, IndicesOfTheNonZeroElementsPerDim) {
  auto y = runNode("NonZero", {tensorOf({2, 3}, {0, 1, 0, 2, 0, 3})}, attrsOf("NonZero", {}), 1, 13);
  EXPECT_EQ(y[0].shape(), (ir::Shape{2, 3}));
  EXPECT_EQ(y[0].toInt64(), (Ints{0, 1, 1, 1, 0, 2}));  // rows 0 1 1, columns 1 0 2
  EXPECT_EQ(infer("NonZero", {info(DataType::kFLOAT, {2, 3})}, attrsOf("NonZero", {}), 1, 13)[0].shape, (Ints{2, -1}));
}

TEST(Compress, KeepsTheSlicesWhoseConditionHolds) {
  const ir::Tensor x = tensorOf({3, 2}, {1, 2, 3, 4, 5, 6});
  const ir::Tensor cond = tensorOf({3}, {1, 0, 1}, DataType::kBOOL);
  auto rows = runNode("Compress", {x, cond}, attrsOf("Compress", {{"axis", int64_t{0}}}), 1, 11);
  expectNear(rows[0], {1, 2, 5, 6}, 0);
  auto flat = runNode("Compress", {x, tensorOf({4}, {0, 1, 1, 0}, DataType::kBOOL)}, attrsOf("Compress", {}), 1, 11);
  expectNear(flat[0], {2, 3}, 0);  // the first four elements, two kept; the rest dropped
}

TEST(Unique, SortedUnsortedAndAlongAnAxis) {
  const ir::Tensor x = tensorOf({6}, {2, 1, 1, 3, 4, 3});
  auto s = runNode("Unique", {x}, attrsOf("Unique", {}), 4, 11);
  expectNear(s[0], {1, 2, 3, 4}, 0);
  EXPECT_EQ(s[1].toInt64(), (Ints{1, 0, 3, 4}));
  EXPECT_EQ(s[2].toInt64(), (Ints{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(s[3].toInt64(), (Ints{2, 1, 2, 1}));
  auto u = runNode("Unique", {x}, attrsOf("Unique", {{"sorted", int64_t{0}}}), 4, 11);
  expectNear(u[0], {2, 1, 3, 4}, 0);
  EXPECT_EQ(u[2].toInt64(), (Ints{0, 1, 1, 2, 3, 2}));
  // Rows of [[1, 0], [0, 1], [1, 0]] along axis 0: (0, 1) sorts before (1, 0).
  auto rows =
      runNode("Unique", {tensorOf({3, 2}, {1, 0, 0, 1, 1, 0})}, attrsOf("Unique", {{"axis", int64_t{0}}}), 4, 11);
  expectNear(rows[0], {0, 1, 1, 0}, 0);
  EXPECT_EQ(rows[2].toInt64(), (Ints{1, 0, 1}));
  EXPECT_EQ(rows[3].toInt64(), (Ints{1, 2}));
}

// Three boxes of one class: 1 overlaps 0 with IoU 0.81 (suppressed at 0.5), 2 is apart; a score
// threshold drops 2; max_output_boxes_per_class 1 keeps the best only.
TEST(NonMaxSuppression, GreedySelectionByScore) {
  const ir::Tensor boxes = tensorOf({1, 3, 4}, {0, 0, 1, 1, 0, 0, 0.9, 0.9, 5, 5, 6, 6});
  const ir::Tensor scores = tensorOf({1, 1, 3}, {0.8, 0.9, 0.3});
  auto run = [&](int64_t max_out, double score_threshold) {
    return runNode("NonMaxSuppression",
                   {boxes, scores, ir::Tensor::fromInt64({1}, Ints{max_out}), tensorOf({1}, {0.5}),
                    tensorOf({1}, {score_threshold})},
                   attrsOf("NonMaxSuppression", {}), 1, 11)[0];
  };
  EXPECT_EQ(run(10, 0.0).toInt64(), (Ints{0, 0, 1, 0, 0, 2}));  // box 1 (the higher score), then 2
  EXPECT_EQ(run(10, 0.5).toInt64(), (Ints{0, 0, 1}));
  EXPECT_EQ(run(1, 0.0).toInt64(), (Ints{0, 0, 1}));
}

}  // namespace
}  // namespace kiln
