// Unary math and activation operators.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

constexpr int kInvalid = static_cast<int>(ErrorCode::kInvalidModel);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Runs `op` on random float data in [lo, hi) of an odd shape and compares with `want`.
void checkFloatOp(const std::string& op, const std::function<double(double)>& want, double lo, double hi,
                  ir::Attributes a = {}) {
  for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
    Tensor x = randomTensor(type, {3, 7, 5}, 11, lo, hi);
    Tensor out = run1(op, {x}, a);
    ASSERT_EQ(out.type(), type) << op;
    ASSERT_EQ(out.shape(), x.shape()) << op;
    auto vx = x.toDouble();
    auto vo = out.toDouble();
    double rel = type == DataType::kHALF ? 1e-3 : type == DataType::kFLOAT ? 1e-6 : 1e-12;
    for (size_t i = 0; i < vx.size(); ++i) {
      double w = want(vx[i]);
      EXPECT_NEAR(vo[i], w, rel * std::max(1.0, std::abs(w))) << op << " " << toString(type) << " x=" << vx[i];
    }
  }
}

TEST(UnaryMath, MatchesTheStandardLibrary) {
  checkFloatOp("Reciprocal", [](double x) { return 1 / x; }, 0.5, 4);
  checkFloatOp("Sqrt", [](double x) { return std::sqrt(x); }, 0, 9);
  checkFloatOp("Exp", [](double x) { return std::exp(x); }, -4, 4);
  checkFloatOp("Log", [](double x) { return std::log(x); }, 0.01, 9);
  checkFloatOp("Erf", [](double x) { return std::erf(x); }, -3, 3);
  checkFloatOp("Tanh", [](double x) { return std::tanh(x); }, -3, 3);
  checkFloatOp("Sin", [](double x) { return std::sin(x); }, -3, 3);
  checkFloatOp("Cos", [](double x) { return std::cos(x); }, -3, 3);
  checkFloatOp("Tan", [](double x) { return std::tan(x); }, -1.2, 1.2);
  checkFloatOp("Asin", [](double x) { return std::asin(x); }, -1, 1);
  checkFloatOp("Acos", [](double x) { return std::acos(x); }, -1, 1);
  checkFloatOp("Atan", [](double x) { return std::atan(x); }, -5, 5);
  checkFloatOp("Sinh", [](double x) { return std::sinh(x); }, -3, 3);
  checkFloatOp("Cosh", [](double x) { return std::cosh(x); }, -3, 3);
  checkFloatOp("Asinh", [](double x) { return std::asinh(x); }, -5, 5);
  checkFloatOp("Acosh", [](double x) { return std::acosh(x); }, 1, 6);
  checkFloatOp("Atanh", [](double x) { return std::atanh(x); }, -0.95, 0.95);
  checkFloatOp("Floor", [](double x) { return std::floor(x); }, -5, 5);
  checkFloatOp("Ceil", [](double x) { return std::ceil(x); }, -5, 5);
  checkFloatOp("Neg", [](double x) { return -x; }, -5, 5);
  checkFloatOp("Abs", [](double x) { return std::abs(x); }, -5, 5);
}

TEST(Activations, MatchTheirFormulas) {
  checkFloatOp("Relu", [](double x) { return std::max(x, 0.0); }, -3, 3);
  checkFloatOp("Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -8, 8);
  checkFloatOp("Softplus", [](double x) { return std::log(std::exp(x) + 1); }, -8, 8);
  checkFloatOp("Softsign", [](double x) { return x / (1 + std::abs(x)); }, -8, 8);
  checkFloatOp("LeakyRelu", [](double x) { return x < 0 ? 0.01f * x : x; }, -3, 3);
  checkFloatOp("LeakyRelu", [](double x) { return x < 0 ? 0.3f * x : x; }, -3, 3, attrs({{"alpha", 0.3f}}));
  checkFloatOp("Elu", [](double x) { return x < 0 ? 2.0 * (std::exp(x) - 1) : x; }, -3, 3, attrs({{"alpha", 2.0f}}));
  checkFloatOp("Selu", [](double x) {
    const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;  // float attributes
    return x > 0 ? gamma * x : gamma * (alpha * std::exp(x) - alpha);
  }, -3, 3);
  checkFloatOp("Celu", [](double x) { return std::max(0.0, x) + std::min(0.0, 1.5 * (std::exp(x / 1.5) - 1)); }, -3, 3,
               attrs({{"alpha", 1.5f}}));
  checkFloatOp("ThresholdedRelu", [](double x) { return x > 1 ? x : 0; }, -3, 3);
  checkFloatOp("HardSigmoid", [](double x) { return std::clamp(0.2f * x + 0.5f, 0.0, 1.0); }, -5, 5);
  checkFloatOp("HardSigmoid", [](double x) { return std::clamp(0.5f * x + 0.6f, 0.0, 1.0); }, -5, 5,
               attrs({{"alpha", 0.5f}, {"beta", 0.6f}}));
  checkFloatOp("HardSwish", [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }, -5, 5);
  checkFloatOp(
      "Swish", [](double x) { return x / (1 + std::exp(-x)); }, -8, 8);
  checkFloatOp(
      "Swish", [](double x) { return x / (1 + std::exp(-0.5f * x)); }, -8, 8, attrs({{"alpha", 0.5f}}));
  checkFloatOp(
      "Mish", [](double x) { return x * std::tanh(std::log(1 + std::exp(x))); }, -8, 8);
  checkFloatOp("Gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -4, 4);
  checkFloatOp("Gelu", [](double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
  }, -4, 4, attrs({{"approximate", std::string("tanh")}}));
}

TEST(Activations, StayFiniteForLargeInputs) {
  expectNear(run1("Sigmoid", {floats({2}, {-1000, 1000})}), {0, 1}, 0);
  expectNear(run1("Softplus", {floats({2}, {-1000, 1000})}), {0, 1000}, 0);
}

TEST(Round, HalvesRoundToEven) {
  expectNear(run1("Round", {floats({7}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6})}), {0, 2, 2, 0, -2, 2, -3}, 0);
}

TEST(Sign, AllNumericTypes) {
  expectNear(run1("Sign", {floats({4}, {-2.5, 0, 3, -0.0})}), {-1, 0, 1, 0}, 0);
  expectValues(run1("Sign", {make(DataType::kINT16, {3}, {-7, 0, 9})}), {-1, 0, 1});
  expectValues(run1("Sign", {make(DataType::kUINT8, {2}, {0, 200})}), {0, 1});
  EXPECT_TRUE(std::isnan(run1("Sign", {floats({1}, {kNaN})}).at(0)));
}

TEST(IntegerUnary, ReluAbsNegOnIntegers) {
  expectValues(run1("Relu", {make(DataType::kINT8, {3}, {-5, 0, 7})}), {0, 0, 7});
  expectValues(run1("Abs", {make(DataType::kINT8, {3}, {-128, -3, 4})}), {-128, 3, 4});  // -128 wraps
  expectValues(run1("Abs", {make(DataType::kUINT32, {1}, {4000000000.0})}), {4000000000});
  expectValues(run1("Neg", {make(DataType::kINT64, {2}, {5, -9})}), {-5, 9});
  EXPECT_TRUE(std::isnan(run1("Relu", {floats({1}, {kNaN})}).at(0)));
}

TEST(Clip, OptionalBoundsOnAllNumericTypes) {
  Tensor x = floats({5}, {-3, -1, 0, 2, 5});
  Tensor lo = floats({}, {-1.5});
  Tensor hi = floats({}, {1.5});
  expectNear(runOp("Clip", {x, lo, hi})[0], {-1.5, -1, 0, 1.5, 1.5}, 0);
  expectNear(runOp("Clip", {x, lo}, {})[0], {-1.5, -1, 0, 2, 5}, 0);
  expectNear(runOp("Clip", {x, lo, hi}, {}, 1, 21, {1})[0], {-3, -1, 0, 1.5, 1.5}, 0);
  expectNear(run1("Clip", {x}), {-3, -1, 0, 2, 5}, 0);
  // min > max: everything becomes max.
  expectNear(runOp("Clip", {x, hi, lo})[0], {-1.5, -1.5, -1.5, -1.5, -1.5}, 0);
  Tensor xi = make(DataType::kINT8, {4}, {-128, -5, 5, 127});
  expectValues(runOp("Clip", {xi, make(DataType::kINT8, {}, {-10})})[0], {-10, -5, 5, 127});
  expectValues(runOp("Clip", {xi, xi, make(DataType::kINT8, {}, {0})}, {}, 1, 21, {1})[0], {-128, -5, 0, 0});
  Tensor nan = run1("Clip", {floats({1}, {kNaN})});
  EXPECT_TRUE(std::isnan(nan.at(0)));
}

TEST(UnaryShape, KeepsSymbolicShapeAndChecksTypes) {
  auto out = infer("Sigmoid", {info(DataType::kHALF, {ir::kFirstSymbol, 3, ir::kUnknownDim})});
  EXPECT_EQ(out[0].shape, (ir::Shape{ir::kFirstSymbol, 3, ir::kUnknownDim}));
  EXPECT_EQ(out[0].type, DataType::kHALF);
  EXPECT_EQ(errorCode([] { infer("Sqrt", {info(DataType::kINT32, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Neg", {info(DataType::kUINT8, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Abs", {info(DataType::kBOOL, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Gelu", {info(DataType::kFLOAT, {3})}, attrs({{"approximate", std::string("fast")}})); }),
            kInvalid);
  EXPECT_EQ(errorCode([] { infer("Clip", {info(DataType::kFLOAT, {3}), info(DataType::kFLOAT, {2})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Clip", {info(DataType::kFLOAT, {3}), info(DataType::kINT32, {})}); }), kInvalid);
  EXPECT_EQ(infer("Clip", {info(DataType::kFLOAT, {3}), info(DataType::kFLOAT, {1})})[0].shape, (ir::Shape{3}));
}

TEST(UnaryShape, NewerOpsStartAtTheirFirstOpset) {
  EXPECT_EQ(ir::findSchema("Gelu")->since_opset, 20);
  EXPECT_EQ(ir::findSchema("HardSwish")->since_opset, 14);
  EXPECT_EQ(ir::findSchema("Celu")->since_opset, 12);
  EXPECT_EQ(ir::findSchema("Swish")->since_opset, 24);
}

}  // namespace
}  // namespace kiln::ew_test
