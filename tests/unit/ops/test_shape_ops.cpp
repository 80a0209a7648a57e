// Shape rules and reference kernels of Reshape, Flatten, Squeeze, Unsqueeze, Expand, Shape,
// Size, ConstantOfShape, Range and Constant.
#include "unit/ops/movement_test_util.h"

namespace kiln::mv_test {
namespace {

In data(Shape s) { return In{DataType::kFLOAT, std::move(s)}; }

TEST(Reshape, ZeroCopiesSymbolicDimAndMinusOneInfersRest) {
  EXPECT_EQ(inferShape("Reshape", {data({kBatch, 3, 4}), known(ints({0, -1}))}), (Shape{kBatch, 12}));
  EXPECT_EQ(inferShape("Reshape", {data({kBatch, 12}), known(ints({-1, 3, 4}))}), (Shape{kBatch, 3, 4}));
  EXPECT_EQ(inferShape("Reshape", {data({kBatch, kSeq, 4}), known(ints({-1, 4}))}), (Shape{kU, 4}));
}

TEST(Reshape, AllowZeroKeepsZeroAsDimension) {
  EXPECT_EQ(inferShape("Reshape", {data({0, 3}), known(ints({3, 0}))}, attrs({{"allowzero", int64_t{1}}})),
            (Shape{3, 0}));
  EXPECT_EQ(inferShape("Reshape", {data({2, 3}), known(ints({0, 3}))}), (Shape{2, 3}));
}

TEST(Reshape, UnknownShapeValueGivesRankOnly) {
  EXPECT_EQ(inferShape("Reshape", {data({kBatch, 6}), In{DataType::kINT64, {3}}}), (Shape{kU, kU, kU}));
}

TEST(Reshape, RejectsBadTargets) {
  EXPECT_EQ(errorCode([] { inferShape("Reshape", {data({2, 3}), known(ints({4, -1}))}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(errorCode([] { inferShape("Reshape", {data({2, 3}), known(ints({-1, -1}))}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(errorCode([] { inferShape("Reshape", {data({2, 3}), known(ints({5}))}); }), ErrorCode::kInvalidModel);
}

TEST(Reshape, KernelKeepsElementOrder) {
  Tensor x = randomFloats({2, 3, 5});
  Tensor y = run1("Reshape", {x, ints({5, -1})});
  EXPECT_EQ(y.shape(), (Shape{5, 6}));
  EXPECT_EQ(y.toDouble(), x.toDouble());
}

TEST(Flatten, SplitsAtAxisAndKeepsSingleSymbol) {
  EXPECT_EQ(inferShape("Flatten", {data({kBatch, 3, 4})}), (Shape{kBatch, 12}));
  EXPECT_EQ(inferShape("Flatten", {data({kBatch, 3, 4})}, attrs({{"axis", int64_t{0}}})), (Shape{1, kU}));
  EXPECT_EQ(inferShape("Flatten", {data({2, 3, 4})}, attrs({{"axis", int64_t{-1}}})), (Shape{6, 4}));
  EXPECT_EQ(errorCode([] {
              inferShape("Flatten", {data({2, 3})}, attrs({{"axis", int64_t{3}}}));
            }),
            ErrorCode::kInvalidModel);
}

TEST(Squeeze, AxesInputAndDefault) {
  EXPECT_EQ(inferShape("Squeeze", {data({1, kBatch, 1, 3}), known(ints({0, -2}))}), (Shape{kBatch, 3}));
  EXPECT_EQ(inferShape("Squeeze", {data({1, 4, 1})}), (Shape{4}));
  EXPECT_EQ(errorCode([] { inferShape("Squeeze", {data({2, 3}), known(ints({0}))}); }), ErrorCode::kInvalidModel);
}

TEST(Unsqueeze, InsertsOnesAtOutputAxes) {
  EXPECT_EQ(inferShape("Unsqueeze", {data({kBatch, 3}), known(ints({0, -1}))}), (Shape{1, kBatch, 3, 1}));
  EXPECT_EQ(inferShape("Unsqueeze", {data({2, 3}), In{DataType::kINT64, {2}}}), (Shape{kU, kU, kU, kU}));
  EXPECT_EQ(errorCode([] { inferShape("Unsqueeze", {data({2}), known(ints({1, 1}))}); }), ErrorCode::kInvalidModel);
}

TEST(Unsqueeze, Opset11AttributeBecomesInput) {
  Tensor x = randomFloats({3, 2});
  std::vector<Tensor> y = runOp("Unsqueeze", {x}, attrs({{"axes", std::vector<int64_t>{1}}}), 1, 11);
  EXPECT_EQ(y[0].shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(y[0].toDouble(), x.toDouble());
  std::vector<Tensor> s = runOp("Squeeze", {y[0]}, attrs({{"axes", std::vector<int64_t>{1}}}), 1, 11);
  EXPECT_EQ(s[0].shape(), (Shape{3, 2}));
}

TEST(Expand, BroadcastsBothWays) {
  EXPECT_EQ(inferShape("Expand", {data({3, 1}), known(ints({2, 1, 4}))}), (Shape{2, 3, 4}));
  EXPECT_EQ(inferShape("Expand", {data({kBatch, 1}), known(ints({1, 5}))}), (Shape{kBatch, 5}));
  EXPECT_EQ(errorCode([] { inferShape("Expand", {data({3, 2}), known(ints({4}))}); }), ErrorCode::kInvalidModel);
  Tensor x = floats({3, 1}, {1, 2, 3});
  Tensor y = run1("Expand", {x, ints({2, 1, 2})});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(y.toDouble(), (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(Shape, StartEndClampAndKernel) {
  EXPECT_EQ(inferShape("Shape", {data({kBatch, 3, 4})}), (Shape{3}));
  EXPECT_EQ(inferShape("Shape", {data({2, 3, 4})}, attrs({{"start", int64_t{-2}}, {"end", int64_t{10}}})), (Shape{2}));
  Tensor y = run1("Shape", {randomFloats({2, 3, 4})}, attrs({{"start", int64_t{1}}}));
  EXPECT_EQ(y.toInt64(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(run1("Size", {randomFloats({2, 3, 5})}).toInt64(), (std::vector<int64_t>{30}));
}

TEST(ConstantOfShape, FillsWithValueAttribute) {
  Tensor v = Tensor::fromInt64({1}, std::vector<int64_t>{7});
  Tensor y = run1("ConstantOfShape", {ints({2, 3})}, attrs({{"value", v}}));
  EXPECT_EQ(y.type(), DataType::kINT64);
  EXPECT_EQ(y.toInt64(), std::vector<int64_t>(6, 7));
  EXPECT_EQ(run1("ConstantOfShape", {ints({0})}).numel(), 0);
  EXPECT_EQ(inferShape("ConstantOfShape", {In{DataType::kINT64, {2}}}), (Shape{kU, kU}));
}

TEST(Range, CountsAndValuesForIntAndFloat) {
  Tensor y = run1("Range", {Tensor::scalarInt64(10), Tensor::scalarInt64(-3), Tensor::scalarInt64(-4)});
  EXPECT_EQ(y.toInt64(), (std::vector<int64_t>{10, 6, 2, -2}));
  auto scalar = [](double v) { return Tensor::fromDouble(DataType::kFLOAT, {}, std::span<const double>(&v, 1)); };
  Tensor f = run1("Range", {scalar(1), scalar(2), scalar(0.3)});
  ASSERT_EQ(f.numel(), 4);
  EXPECT_NEAR(f.at(3), 1.9, 1e-6);
  EXPECT_EQ(inferShape("Range", {In{DataType::kINT64, {}}, In{DataType::kINT64, {}}, In{DataType::kINT64, {}}}),
            (Shape{kU}));
  // float16 and bfloat16 (Range-27): 1 to 2 by 0.25, exact in both.
  for (DataType t : {DataType::kHALF, DataType::kBF16}) {
    auto half = [t](double v) { return Tensor::fromDouble(t, {}, std::span<const double>(&v, 1)); };
    Tensor h = run1("Range", {half(1), half(2), half(0.25)});
    EXPECT_EQ(h.type(), t);
    EXPECT_EQ(h.toDouble(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  }
}

TEST(Constant, ValueAttributesAndUnsupportedForms) {
  EXPECT_EQ(runOp("Constant", {}, attrs({{"value_ints", std::vector<int64_t>{4, 5}}}))[0].toInt64(),
            (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(runOp("Constant", {}, attrs({{"value_float", 2.5f}}))[0].at(0), 2.5);
  Tensor t = randomFloats({2, 2});
  EXPECT_EQ(runOp("Constant", {}, attrs({{"value", t}}))[0].toDouble(), t.toDouble());
  EXPECT_EQ(errorCode([] {
              infer("Constant", {}, attrs({{"value_string", std::string("x")}}));
            }),
            ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace kiln::mv_test
