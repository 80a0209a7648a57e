// Reduce*, ArgMax/ArgMin and CumSum: shape rules, opset normalization and reference kernels.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/linalg_test_util.h"

namespace kiln::testing {
namespace {

using ir::Shape;
using ir::Tensor;

Shape reduceShape(const std::string& op, Shape in, std::optional<std::vector<int64_t>> axes, int64_t keepdims = 1,
                  int64_t noop = 0) {
  std::vector<ir::TensorInfo> inputs{info(DataType::kFLOAT, in)};
  if (axes) inputs.push_back(constInfo(int64s({static_cast<int64_t>(axes->size())}, *axes)));
  return inferShapes(op, inputs, attrs({{"keepdims", keepdims}, {"noop_with_empty_axes", noop}}))[0].shape;
}

TEST(ReduceShape, AxesKeepdimsAndEmptyAxes) {
  EXPECT_EQ(reduceShape("ReduceSum", {2, 3, 4}, std::vector<int64_t>{1}), (Shape{2, 1, 4}));
  EXPECT_EQ(reduceShape("ReduceMean", {2, 3, 4}, std::vector<int64_t>{-1, 0}, 0), (Shape{3}));
  EXPECT_EQ(reduceShape("ReduceMax", {2, 3, 4}, std::nullopt, 1), (Shape{1, 1, 1}));
  EXPECT_EQ(reduceShape("ReduceMax", {2, 3, 4}, std::nullopt, 0), Shape{});
  EXPECT_EQ(reduceShape("ReduceSum", {2, 3, 4}, std::vector<int64_t>{}, 0), Shape{});
  EXPECT_EQ(reduceShape("ReduceSum", {2, 3, 4}, std::vector<int64_t>{}, 0, 1), (Shape{2, 3, 4}));
  const int64_t b = ir::kFirstSymbol;
  EXPECT_EQ(reduceShape("ReduceMean", {b, ir::kUnknownDim, 768}, std::vector<int64_t>{-1}), (Shape{b, ir::kUnknownDim, 1}));
}

TEST(ReduceShape, AxesKnownOnlyAtRunTimeGiveRank) {
  auto out = inferShapes("ReduceSum", {info(DataType::kFLOAT, {2, 3, 4}), info(DataType::kINT64, {2})},
                         attrs({{"keepdims", int64_t{0}}}))[0];
  EXPECT_EQ(out.shape, (Shape{ir::kUnknownDim}));
}

TEST(ReduceShape, RejectsBadAxes) {
  try {
    reduceShape("ReduceSum", {2, 3}, std::vector<int64_t>{2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
  EXPECT_THROW(reduceShape("ReduceSum", {2, 3}, std::vector<int64_t>{1, -1}), Error);
}

TEST(ReduceNormalize, OldOpsetAxesAttributeBecomesInput) {
  Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 1);
  OneNode old("ReduceMean", {x}, attrs({{"axes", std::vector<int64_t>{2, 1}}, {"keepdims", int64_t{0}}}), 1, 13);
  ASSERT_EQ(old.graph.nodes[0].inputs.size(), 2u);
  EXPECT_FALSE(old.graph.nodes[0].attrs.has("axes"));
  Tensor y = old.run1();
  EXPECT_EQ(y.shape(), (Shape{2}));
  auto v = x.toDouble();
  for (int i = 0; i < 2; ++i) {
    double s = 0;
    for (int j = 0; j < 12; ++j) s += v[i * 12 + j];
    EXPECT_NEAR(y.at(i), s / 12, 1e-6);
  }
  // ReduceSum took axes as an input already at 13; opset 11 uses the attribute.
  OneNode sum11("ReduceSum", {x}, attrs({{"axes", std::vector<int64_t>{0}}}), 1, 11);
  EXPECT_EQ(sum11.run1().shape(), (Shape{1, 3, 4}));
  OneNode sum13("ReduceSum", {x}, attrs({{"keepdims", int64_t{0}}}), 1, 13);
  EXPECT_EQ(sum13.graph.nodes[0].inputs.size(), 1u);
  EXPECT_EQ(sum13.run1().shape(), Shape{});
}

// Reduces x [2,3,4] over axis 1 (keepdims 0) with every Reduce op, checked against a loop.
TEST(ReduceKernel, EveryOpOverMiddleAxis) {
  Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 2, 0.1, 2.0);
  auto v = x.toDouble();
  struct Case {
    const char* op;
    double init;
    double (*step)(double acc, double x);
    double (*finish)(double acc, double n);
  };
  const Case cases[] = {
      {"ReduceSum", 0, [](double a, double e) { return a + e; }, [](double a, double) { return a; }},
      {"ReduceMean", 0, [](double a, double e) { return a + e; }, [](double a, double n) { return a / n; }},
      {"ReduceMax", -1e30, [](double a, double e) { return std::max(a, e); }, [](double a, double) { return a; }},
      {"ReduceMin", 1e30, [](double a, double e) { return std::min(a, e); }, [](double a, double) { return a; }},
      {"ReduceProd", 1, [](double a, double e) { return a * e; }, [](double a, double) { return a; }},
      {"ReduceL1", 0, [](double a, double e) { return a + std::fabs(e); }, [](double a, double) { return a; }},
      {"ReduceL2", 0, [](double a, double e) { return a + e * e; }, [](double a, double) { return std::sqrt(a); }},
      {"ReduceLogSum", 0, [](double a, double e) { return a + e; }, [](double a, double) { return std::log(a); }},
      {"ReduceLogSumExp", 0, [](double a, double e) { return a + std::exp(e); },
       [](double a, double) { return std::log(a); }},
      {"ReduceSumSquare", 0, [](double a, double e) { return a + e * e; }, [](double a, double) { return a; }},
  };
  for (const Case& c : cases) {
    Tensor y = OneNode(c.op, {x, int64s({1}, {1})}, attrs({{"keepdims", int64_t{0}}}), 1, 18, {false, true}).run1();
    ASSERT_EQ(y.shape(), (Shape{2, 4})) << c.op;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) {
        double acc = c.init;
        for (int j = 0; j < 3; ++j) acc = c.step(acc, v[(i * 3 + j) * 4 + k]);
        EXPECT_NEAR(y.at(i * 4 + k), c.finish(acc, 3), 1e-5) << c.op;
      }
  }
}

TEST(ReduceKernel, AllAxesNoopAndNegativeAxes) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  expectNear(OneNode("ReduceSum", {x}).run1(), {21}, 1e-9);
  Tensor same = OneNode("ReduceSum", {x, int64s({0}, {})}, attrs({{"noop_with_empty_axes", int64_t{1}}})).run1();
  expectNear(same, {1, 2, 3, 4, 5, 6}, 0);
  Tensor last = OneNode("ReduceMax", {x, int64s({1}, {-1})}).run1();
  EXPECT_EQ(last.shape(), (Shape{2, 1}));
  expectNear(last, {3, 6}, 0);
  expectNear(OneNode("ReduceMin", {x, int64s({2}, {0, 1})}, attrs({{"keepdims", int64_t{0}}})).run1(), {1}, 0);
}

TEST(ReduceKernel, LogSumExpIsStableForLargeValues) {
  Tensor x = ir::Tensor::fromDouble(DataType::kDOUBLE, {1, 3}, std::vector<double>{1000, 1000, 999});
  Tensor y = OneNode("ReduceLogSumExp", {x, int64s({1}, {1})}).run1();
  EXPECT_NEAR(y.at(0), 1000 + std::log(2 + std::exp(-1.0)), 1e-9);
}

TEST(ReduceKernel, IntegerAndHalfTypes) {
  Tensor xi = ir::Tensor::fromDouble(DataType::kINT32, {2, 2}, std::vector<double>{-3, 4, 5, -7});
  EXPECT_EQ(OneNode("ReduceSum", {xi, int64s({1}, {1})}).run1().toInt64(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(OneNode("ReduceL1", {xi, int64s({1}, {0})}).run1().toInt64(), (std::vector<int64_t>{8, 11}));
  EXPECT_EQ(OneNode("ReduceProd", {xi}).run1().toInt64(), (std::vector<int64_t>{420}));
  EXPECT_EQ(OneNode("ReduceMax", {xi}).run1().toInt64(), (std::vector<int64_t>{5}));
  Tensor xh = randomTensor(DataType::kHALF, {4, 5}, 3);
  auto v = xh.toDouble();
  Tensor y = OneNode("ReduceMean", {xh, int64s({1}, {0})}, attrs({{"keepdims", int64_t{0}}})).run1();
  EXPECT_EQ(y.type(), DataType::kHALF);
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(y.at(j), (v[j] + v[5 + j] + v[10 + j] + v[15 + j]) / 4, 2e-3);
}

TEST(ReduceKernel, OddShapeManyAxes) {
  Tensor x = randomTensor(DataType::kFLOAT, {3, 5, 2, 7}, 4);
  auto v = x.toDouble();
  Tensor y = OneNode("ReduceSum", {x, int64s({2}, {0, 2})}).run1();
  ASSERT_EQ(y.shape(), (Shape{1, 5, 1, 7}));
  for (int j = 0; j < 5; ++j)
    for (int l = 0; l < 7; ++l) {
      double s = 0;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 2; ++k) s += v[((i * 5 + j) * 2 + k) * 7 + l];
      EXPECT_NEAR(y.at(j * 7 + l), s, 1e-5);
    }
}

TEST(ArgMaxShape, AxisAndKeepdims) {
  auto shape = [](Shape in, int64_t axis, int64_t keep) {
    auto out = inferShapes("ArgMax", {info(DataType::kFLOAT, in)}, attrs({{"axis", axis}, {"keepdims", keep}}))[0];
    EXPECT_EQ(out.type, DataType::kINT64);
    return out.shape;
  };
  EXPECT_EQ(shape({2, 3, 4}, 1, 1), (Shape{2, 1, 4}));
  EXPECT_EQ(shape({2, 3, 4}, -1, 0), (Shape{2, 3}));
  EXPECT_EQ(shape({ir::kFirstSymbol, 3}, 1, 0), (Shape{ir::kFirstSymbol}));
  EXPECT_THROW(shape({2, 3}, 2, 1), Error);
}

TEST(ArgMaxKernel, TiesAndSelectLastIndex) {
  Tensor x = floats({2, 3}, {2, 5, 5, 7, 1, 7});
  EXPECT_EQ(OneNode("ArgMax", {x}, attrs({{"axis", int64_t{1}}})).run1().toInt64(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(OneNode("ArgMax", {x}, attrs({{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}})).run1().toInt64(),
            (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(OneNode("ArgMin", {x}, attrs({{"axis", int64_t{0}}, {"keepdims", int64_t{0}}})).run1().toInt64(),
            (std::vector<int64_t>{0, 1, 0}));
  Tensor r = randomTensor(DataType::kFLOAT, {3, 4, 5}, 5);
  auto v = r.toDouble();
  Tensor y = OneNode("ArgMin", {r}, attrs({{"axis", int64_t{-2}}})).run1();
  ASSERT_EQ(y.shape(), (Shape{3, 1, 5}));
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k) {
      int best = 0;
      for (int j = 1; j < 4; ++j)
        if (v[(i * 4 + j) * 5 + k] < v[(i * 4 + best) * 5 + k]) best = j;
      EXPECT_EQ(y.intAt(i * 5 + k), best);
    }
}

TEST(CumSumKernel, ExclusiveReverseAndAxes) {
  Tensor x = floats({5}, {1, 2, 3, 4, 5});
  Tensor axis0 = ir::Tensor::fromDouble(DataType::kINT32, {}, std::vector<double>{0});
  expectNear(OneNode("CumSum", {x, axis0}).run1(), {1, 3, 6, 10, 15}, 0);
  expectNear(OneNode("CumSum", {x, axis0}, attrs({{"exclusive", int64_t{1}}})).run1(), {0, 1, 3, 6, 10}, 0);
  expectNear(OneNode("CumSum", {x, axis0}, attrs({{"reverse", int64_t{1}}})).run1(), {15, 14, 12, 9, 5}, 0);
  expectNear(OneNode("CumSum", {x, axis0}, attrs({{"reverse", int64_t{1}}, {"exclusive", int64_t{1}}})).run1(),
             {14, 12, 9, 5, 0}, 0);
  Tensor m = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  expectNear(OneNode("CumSum", {m, int64s({1}, {0})}).run1(), {1, 2, 3, 5, 7, 9}, 0);
  expectNear(OneNode("CumSum", {m, int64s({1}, {-1})}).run1(), {1, 3, 6, 4, 9, 15}, 0);
  Tensor xi = ir::Tensor::fromDouble(DataType::kINT64, {3}, std::vector<double>{4, -1, 2});
  EXPECT_EQ(OneNode("CumSum", {xi, axis0}).run1().toInt64(), (std::vector<int64_t>{4, 3, 5}));
}

TEST(CumSumShape, RejectsBadAxis) {
  EXPECT_THROW(inferShapes("CumSum", {info(DataType::kFLOAT, {2, 3}), constInfo(int64s({1}, {2}))}), Error);
  EXPECT_THROW(inferShapes("CumSum", {info(DataType::kFLOAT, {2, 3}), info(DataType::kINT64, {2})}), Error);
}

}  // namespace
}  // namespace kiln::testing
