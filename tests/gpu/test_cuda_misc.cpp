// "cuda.misc" against the CPU reference: unary math (Sign, Round, Softsign, ThresholdedRelu,
// Celu, inverse / hyperbolic trigonometry), IsNaN / IsInf, Trilu, CumSum, TopK, OneHot,
// Range and ConstantOfShape, in fp32 / fp16 / bf16 and integer types, at odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};

void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.misc", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

std::string label(const std::string& op, DataType type, const ir::Shape& shape) {
  return op + " " + std::string(toString(type)) + " " + toString(shape);
}

ir::Tensor scalar(int64_t v) { return ir::Tensor::fromInt64({1}, std::vector<int64_t>{v}); }

TEST(CudaMisc, UnaryMathMatchesInEveryFloatType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // Values in (0.1, 0.9) keep every op in its domain (Acosh gets x + 1.5, below).
  const char* ops[] = {"Sign", "Round", "Softsign", "ThresholdedRelu", "Celu", "Acos", "Asin", "Asinh",
                       "Atan", "Atanh", "Cosh", "Sinh", "Tan"};
  for (DataType type : kFloatTypes)
    for (const ir::Shape& shape : {ir::Shape{37}, ir::Shape{3, 5, 7}})
      for (const char* op : ops) {
        ir::Attributes a;
        if (std::string(op) == "ThresholdedRelu") a.set("alpha", 0.25f);
        if (std::string(op) == "Celu") a.set("alpha", 0.7f);
        ir::Tensor x = testing::randomTensor(type, shape, 3, std::string(op) == "Round" ? -3.0 : -0.9, std::string(op) == "Round" ? 3.0 : 0.9);
        ir::Graph g = testing::makeNodeGraph(op, {{"x", type, shape, false, &x}}, a);
        expectProviderMatches(g, type, label(op, type, shape));
      }
  ir::Tensor x = testing::randomTensor(DataType::kFLOAT, {41}, 4, 1.1, 5.0);
  expectProviderMatches(testing::makeNodeGraph("Acosh", {{"x", DataType::kFLOAT, {41}, false, &x}}, {}), DataType::kFLOAT, "Acosh");
  for (DataType type : {DataType::kINT32, DataType::kINT64}) {
    ir::Graph g = testing::makeNodeGraph("Sign", {{"x", type, {5, 9}}}, {});
    expectProviderMatches(g, type, label("Sign", type, {5, 9}));
  }
}

TEST(CudaMisc, IsNaNAndIsInfSeeSpecialValues) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v = {1.0, -inf, nan, 0.0, inf, -2.5, nan, 3.0, -0.0, inf, -inf};
  for (DataType type : kFloatTypes) {
    ir::Tensor x = ir::Tensor::fromDouble(type, {11}, v);
    expectProviderMatches(testing::makeNodeGraph("IsNaN", {{"x", type, {11}, false, &x}}, {}), DataType::kBOOL, "IsNaN");
    for (int64_t neg : {0, 1})
      for (int64_t pos : {0, 1}) {
        ir::Attributes a;
        a.set("detect_negative", neg);
        a.set("detect_positive", pos);
        expectProviderMatches(testing::makeNodeGraph("IsInf", {{"x", type, {11}, false, &x}}, a), DataType::kBOOL, "IsInf");
      }
  }
}

TEST(CudaMisc, TriluKeepsTheRightTriangle) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT64})
    for (const ir::Shape& shape : {ir::Shape{5, 7}, ir::Shape{2, 3, 9, 4}})
      for (int64_t upper : {0, 1})
        for (int64_t k : {-2, 0, 1, 5}) {
          ir::Tensor kt = scalar(k);
          ir::Attributes a;
          a.set("upper", upper);
          ir::Graph g = testing::makeNodeGraph("Trilu", {{"x", type, shape}, {"k", DataType::kINT64, {1}, false, &kt}}, a);
          expectProviderMatches(g, type, label("Trilu upper " + std::to_string(upper) + " k " + std::to_string(k), type, shape));
        }
}

TEST(CudaMisc, CumSumOnEveryAxisExclusiveAndReverse) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape shape = {3, 17, 5};
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64})
    for (int64_t axis : {0, 1, -1})
      for (int64_t exclusive : {0, 1})
        for (int64_t reverse : {0, 1}) {
          ir::Tensor ax = scalar(axis);
          ir::Attributes a;
          a.set("exclusive", exclusive);
          a.set("reverse", reverse);
          ir::Tensor x = testing::randomTensor(type, shape, 9, 0.0, 1.0);  // sums far from zero
          ir::Graph g = testing::makeNodeGraph("CumSum", {{"x", type, shape, false, &x}, {"axis", DataType::kINT64, {1}, false, &ax}}, a);
          expectProviderMatches(g, type, label("CumSum axis " + std::to_string(axis), type, shape));
        }
}

TEST(CudaMisc, TopKLargestAndSmallestWithTies) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape shape;
    int64_t axis, k;
  };
  const Case cases[] = {{{4, 33}, -1, 5}, {{4, 33}, 1, 33}, {{6, 7, 3}, 1, 2}, {{9, 4}, 0, 1}, {{2, 100}, -1, 0}};
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT32})
    for (const Case& c : cases)
      for (int64_t largest : {0, 1}) {
        ir::Tensor k = scalar(c.k);
        ir::Attributes a;
        a.set("axis", c.axis);
        a.set("largest", largest);
        // Few distinct values: many ties, broken by the lower index.
        ir::Tensor x = testing::randomTensor(type, c.shape, 21, -4.0, 4.0);
        if (type != DataType::kINT32) x = x.cast(DataType::kINT32).cast(type);
        ir::Graph g = testing::makeNodeGraph("TopK", {{"x", type, c.shape, false, &x}, {"k", DataType::kINT64, {1}, false, &k}}, a, 2);
        expectProviderMatches(g, type, label("TopK k " + std::to_string(c.k) + " largest " + std::to_string(largest), type, c.shape));
      }
}

TEST(CudaMisc, OneHotOnEveryAxisWithNegativeIndices) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  std::vector<int64_t> iv = {0, 3, -1, 4, -5, 2, 1, 0, -2, 4, 3, 3, 0, -4, 2};
  for (DataType index_type : {DataType::kINT64, DataType::kINT32, DataType::kFLOAT})
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64})
      for (int64_t axis : {-1, 0, 1}) {
        ir::Tensor idx = ir::Tensor::fromInt64({3, 5}, iv);
        if (index_type != DataType::kINT64) idx = idx.cast(index_type);
        ir::Tensor depth = scalar(5);
        ir::Attributes a;
        a.set("axis", axis);
        ir::Graph g = testing::makeNodeGraph(
            "OneHot", {{"i", index_type, {3, 5}, false, &idx}, {"depth", DataType::kINT64, {1}, false, &depth}, {"values", type, {2}}}, a);
        expectProviderMatches(g, type, label("OneHot axis " + std::to_string(axis), type, {3, 5}));
      }
}

TEST(CudaMisc, RangeAndConstantOfShapeFillEveryElement) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kINT32, DataType::kINT64}) {
    const double start = type == DataType::kFLOAT ? -1.5 : -3, limit = 40, delta = type == DataType::kFLOAT ? 0.75 : 3;
    ir::Tensor s = ir::Tensor::fromDouble(type, {}, std::vector<double>{start});
    ir::Tensor l = ir::Tensor::fromDouble(type, {}, std::vector<double>{limit});
    ir::Tensor d = ir::Tensor::fromDouble(type, {}, std::vector<double>{delta});
    ir::Graph g = testing::makeNodeGraph("Range", {{"s", type, {}, false, &s}, {"l", type, {}, false, &l}, {"d", type, {}, false, &d}}, {});
    expectProviderMatches(g, type, label("Range", type, {}));
  }
  ir::Tensor shape = ir::Tensor::fromInt64({3}, std::vector<int64_t>{3, 7, 5});
  expectProviderMatches(testing::makeNodeGraph("ConstantOfShape", {{"shape", DataType::kINT64, {3}, false, &shape}}, {}),
                        DataType::kFLOAT, "ConstantOfShape default");
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL}) {
    ir::Attributes a;
    a.set("value", ir::Tensor::fromDouble(type, {1}, std::vector<double>{1.0}));
    expectProviderMatches(testing::makeNodeGraph("ConstantOfShape", {{"shape", DataType::kINT64, {3}, false, &shape}}, a), type,
                          label("ConstantOfShape", type, {3, 7, 5}));
  }
}

}  // namespace
}  // namespace kiln
