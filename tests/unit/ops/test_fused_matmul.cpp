// FusedMatMul (domain "kiln"): its shape rule, and its reference kernel against a naive
// composition written out here (GEMM in double, then alpha, bias, activation, residual),
// also with an output_type (a folded Cast: 16-bit inputs, float32 Y).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "unit/ops/linalg_test_util.h"

namespace kiln::testing {
namespace {

using ir::Shape;
using ir::Tensor;

double activate(const std::string& act, double x) {
  if (act == "relu") return std::max(x, 0.0);
  if (act == "gelu_erf") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (act == "gelu_tanh") return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  return x;
}

//! act(alpha * A op(B) + bias) + residual, A's leading dims folded into M.
std::vector<double> naiveFused(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor* residual, bool trans_b,
                               double alpha, const std::string& act) {
  const int64_t k = a.shape().back(), m = a.numel() / k;
  const int64_t n = trans_b ? b.shape()[0] : b.shape()[1];
  const std::vector<double> av = a.toDouble(), bv = b.toDouble();
  std::vector<double> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += av[i * k + p] * bv[trans_b ? j * k + p : p * n + j];
      double v = alpha * s + (bias ? bias->at(j) : 0.0);
      y[i * n + j] = activate(act, v) + (residual ? residual->at(i * n + j) : 0.0);
    }
  return y;
}

Shape fusedShape(std::vector<ir::TensorInfo> inputs, ir::Attributes a = {}) {
  return inferShapes("FusedMatMul", inputs, std::move(a))[0].shape;
}

TEST(FusedMatMulShape, FoldsLeadingDimsAndKeepsSymbols) {
  const int64_t batch = ir::kFirstSymbol;
  EXPECT_EQ(fusedShape({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {33, 13})}), (Shape{7, 13}));
  EXPECT_EQ(fusedShape({info(DataType::kFLOAT, {batch, 5, 33}), info(DataType::kFLOAT, {13, 33}),
                        info(DataType::kFLOAT, {13})},
                       attrs({{"trans_b", int64_t{1}}})),
            (Shape{batch, 5, 13}));
}

TEST(FusedMatMulShape, RejectsBadOperandsNamingTheNode) {
  auto error = [](std::vector<ir::TensorInfo> inputs, ir::Attributes a = {}) {
    try {
      fusedShape(std::move(inputs), std::move(a));
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("FusedMatMul"), std::string::npos) << e.what();
      return static_cast<int>(e.code());
    }
    return 0;
  };
  const int invalid = static_cast<int>(ErrorCode::kInvalidModel);
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {32, 13})}), invalid);     // K
  EXPECT_EQ(error({info(DataType::kFLOAT, {33}), info(DataType::kFLOAT, {33, 13})}), invalid);        // rank 1
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {2, 33, 13})}), invalid);  // 3-D B
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {33, 13}), info(DataType::kFLOAT, {12})}),
            invalid);  // bias
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {33, 13}), info(DataType::kFLOAT, {13}),
                   info(DataType::kFLOAT, {1, 13})}),
            invalid);  // residual broadcasts
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kHALF, {33, 13})}), invalid);  // types
  EXPECT_EQ(error({info(DataType::kFLOAT, {7, 33}), info(DataType::kFLOAT, {33, 13})}, attrs({{"activation", std::string("silu")}})),
            invalid);
}

TEST(FusedMatMulShape, OutputTypeGivesYsType) {
  const auto y = inferShapes("FusedMatMul", {info(DataType::kHALF, {7, 33}), info(DataType::kHALF, {33, 13})},
                             attrs({{"output_type", int64_t{1}}}))[0];
  EXPECT_EQ(y.type, DataType::kFLOAT);
  EXPECT_EQ(y.shape, (Shape{7, 13}));
  // Without it, Y has A's type.
  EXPECT_EQ(inferShapes("FusedMatMul", {info(DataType::kBF16, {7, 33}), info(DataType::kBF16, {33, 13})})[0].type,
            DataType::kBF16);
  try {
    inferShapes("FusedMatMul", {info(DataType::kHALF, {7, 33}), info(DataType::kHALF, {33, 13})},
                attrs({{"output_type", int64_t{7}}}));
    ADD_FAILURE() << "an int64 output_type was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("output_type"), std::string::npos) << e.what();
  }
}

TEST(FusedMatMulReference, EqualsTheNaiveComposition) {
  struct Case {
    Shape a;
    int64_t n;
  };
  const Case cases[] = {{{7, 33}, 13}, {{1, 5}, 1}, {{2, 13, 7}, 33}, {{3, 1, 4, 9}, 5}};
  uint32_t seed = 1;
  for (const Case& c : cases)
    for (const char* act : {"none", "relu", "gelu_erf", "gelu_tanh"})
      for (bool trans_b : {false, true})
        for (int extras = 0; extras < 4; ++extras) {
          const bool with_bias = extras & 1, with_residual = extras & 2;
          const int64_t k = c.a.back();
          Shape y_shape = c.a;
          y_shape.back() = c.n;
          const Tensor a = randomTensor(DataType::kFLOAT, c.a, seed++, -2, 2);
          const Tensor b = randomTensor(DataType::kFLOAT, trans_b ? Shape{c.n, k} : Shape{k, c.n}, seed++);
          const Tensor bias = randomTensor(DataType::kFLOAT, {c.n}, seed++);
          const Tensor residual = randomTensor(DataType::kFLOAT, y_shape, seed++);
          std::vector<std::optional<Tensor>> inputs = {a, b};
          inputs.push_back(with_bias ? std::optional<Tensor>(bias) : std::nullopt);
          if (with_residual) inputs.push_back(residual);
          const double alpha = trans_b ? 0.75 : 1.0;
          const Tensor got = runNodeOutputs("FusedMatMul", inputs,
                                            attrs({{"trans_b", int64_t{trans_b}}, {"alpha", static_cast<float>(alpha)},
                                                   {"activation", std::string(act)}}))[0];
          SCOPED_TRACE(toString(c.a) + " n=" + std::to_string(c.n) + " " + act + " trans_b=" + std::to_string(trans_b) +
                       " bias=" + std::to_string(with_bias) + " residual=" + std::to_string(with_residual));
          EXPECT_EQ(got.shape(), y_shape);
          expectNear(got, naiveFused(a, b, with_bias ? &bias : nullptr, with_residual ? &residual : nullptr, trans_b,
                                     alpha, act),
                     1e-5, "FusedMatMul", /*relative=*/true);
        }
}

TEST(FusedMatMulReference, RunsInFloat16AndBFloat16) {
  for (DataType t : {DataType::kHALF, DataType::kBF16}) {
    const Tensor a = randomTensor(t, {5, 17}, 3), b = randomTensor(t, {17, 9}, 4), bias = randomTensor(t, {9}, 5);
    const Tensor got =
        runNodeOutputs("FusedMatMul", {a, b, bias}, attrs({{"activation", std::string("gelu_erf")}}))[0];
    EXPECT_EQ(got.type(), t);
    expectNear(got, naiveFused(a, b, &bias, nullptr, false, 1.0, "gelu_erf"), 1e-2, "16-bit", /*relative=*/true);
  }
}

TEST(FusedMatMulReference, WritesFloat32FromFloat16AndBFloat16Inputs) {
  // Odd sizes, every epilogue input: Y is rounded once, from the double accumulator to float32.
  uint32_t seed = 40;
  for (DataType t : {DataType::kHALF, DataType::kBF16})
    for (const Shape& a_shape : {Shape{5, 17}, Shape{3, 7, 33}, Shape{1, 1}})
      for (bool trans_b : {false, true}) {
        const int64_t k = a_shape.back(), n = 13;
        Shape y_shape = a_shape;
        y_shape.back() = n;
        const Tensor a = randomTensor(t, a_shape, seed++, -2, 2);
        const Tensor b = randomTensor(t, trans_b ? Shape{n, k} : Shape{k, n}, seed++);
        const Tensor bias = randomTensor(t, {n}, seed++), residual = randomTensor(t, y_shape, seed++);
        const Tensor got = runNodeOutputs("FusedMatMul", {a, b, bias, residual},
                                          attrs({{"trans_b", int64_t{trans_b}},
                                                 {"alpha", 0.5f},
                                                 {"activation", std::string("gelu_tanh")},
                                                 {"output_type", int64_t{1}}}))[0];
        SCOPED_TRACE(std::string(toString(t)) + " " + toString(a_shape) + " trans_b=" + std::to_string(trans_b));
        EXPECT_EQ(got.type(), DataType::kFLOAT);
        EXPECT_EQ(got.shape(), y_shape);
        expectNear(got, naiveFused(a, b, &bias, &residual, trans_b, 0.5, "gelu_tanh"), 1e-6, "float32 Y",
                   /*relative=*/true);
      }
}

}  // namespace
}  // namespace kiln::testing
