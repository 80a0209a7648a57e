#include <gtest/gtest.h>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::randomTensor;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

//! Softmax over groups of `length` elements spaced `inner` apart.
std::vector<double> softmaxWant(const std::vector<double>& v, int64_t length, int64_t inner, bool log) {
  std::vector<double> out(v.size());
  for (size_t o = 0; o < v.size() / (length * inner); ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0.0;
      for (int64_t k = 0; k < length; ++k) sum += std::exp(v[(o * length + k) * inner + i]);
      for (int64_t k = 0; k < length; ++k) {
        const size_t at = (o * length + k) * inner + i;
        out[at] = log ? v[at] - std::log(sum) : std::exp(v[at]) / sum;
      }
    }
  return out;
}

TEST(Softmax, AlongOneAxisSinceOpset13) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 1, -3, 3);
  expectNear(runNode("Softmax", {x}, attrsOf("Softmax", {{"axis", int64_t{1}}}))[0], softmaxWant(x.toDouble(), 3, 4, false), 1e-6);
  expectNear(runNode("Softmax", {x}, attrsOf("Softmax", {}))[0], softmaxWant(x.toDouble(), 4, 1, false), 1e-6);
  expectNear(runNode("LogSoftmax", {x}, attrsOf("LogSoftmax", {{"axis", int64_t{0}}}))[0], softmaxWant(x.toDouble(), 2, 12, true),
             1e-6);
}

TEST(Softmax, Opset11FlattensAtAxis) {
  ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 2, -3, 3);
  // axis 1 (the old default): one softmax over each batch row of 12.
  expectNear(runNode("Softmax", {x}, attrsOf("Softmax", {}), 1, 11)[0], softmaxWant(x.toDouble(), 12, 1, false), 1e-6);
  expectNear(runNode("LogSoftmax", {x}, attrsOf("LogSoftmax", {{"axis", int64_t{0}}}), 1, 12)[0],
             softmaxWant(x.toDouble(), 24, 1, true), 1e-6);
}

TEST(Softmax, LargeValuesStayFinite) {
  auto y = runNode("Softmax", {tensorOf({1, 3}, {1000, 1001, 1002})}, attrsOf("Softmax", {}));
  expectNear(y[0], softmaxWant({0, 1, 2}, 3, 1, false), 1e-6);
  auto l = runNode("LogSoftmax", {tensorOf({1, 3}, {1000, 1001, 1002}, DataType::kHALF)}, attrsOf("LogSoftmax", {}));
  expectNear(l[0], softmaxWant({0, 1, 2}, 3, 1, true), 2e-3);
}

TEST(Hardmax, MarksFirstMaximumAlongAxis) {
  auto y = runNode("Hardmax", {tensorOf({2, 4}, {3, 7, 7, 1, -1, -5, -0.5, -2})}, attrsOf("Hardmax", {}));
  expectNear(y[0], {0, 1, 0, 0, 0, 0, 1, 0}, 0);
  auto a0 = runNode("Hardmax", {tensorOf({2, 2}, {1, 5, 2, 5})}, attrsOf("Hardmax", {{"axis", int64_t{0}}}));
  expectNear(a0[0], {0, 1, 1, 0}, 0);
}

TEST(Hardmax, Opset11FlattensAtAxis) {
  auto y = runNode("Hardmax", {tensorOf({2, 2, 2}, {1, 2, 9, 3, 4, 8, 5, 6})}, attrsOf("Hardmax", {}), 1, 11);
  expectNear(y[0], {0, 0, 1, 0, 0, 1, 0, 0}, 0);
}

TEST(SoftmaxShape, SameShapeAndAxisChecks) {
  auto out = nn_testing::infer("Softmax", {info(DataType::kFLOAT, {-2, 5, -1})}, attrsOf("Softmax", {{"axis", int64_t{-2}}}));
  EXPECT_EQ(out[0].shape, (Ints{-2, 5, -1}));
  EXPECT_EQ(nn_testing::inferError("Softmax", {info(DataType::kFLOAT, {2, 3})}, attrsOf("Softmax", {{"axis", int64_t{2}}})),
            static_cast<int>(ErrorCode::kInvalidModel));
  EXPECT_EQ(nn_testing::inferError("Hardmax", {info(DataType::kINT32, {2, 3})}, attrsOf("Hardmax", {})),
            static_cast<int>(ErrorCode::kUnsupported));
}

}  // namespace
}  // namespace kiln
