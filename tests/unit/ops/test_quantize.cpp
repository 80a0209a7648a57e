// QuantizeLinear and DequantizeLinear per tensor, per axis and blocked, on every integer type
// kiln stores, against the formulas computed here; rounding half to even, saturation, and the
// shape rule's refusals (float8/4-bit types, granularities the opset lacks, misfit scales).
// DynamicQuantizeLinear against its definition's float32 steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

//! Positive scales in [0.01, 0.1).
Tensor scales(ir::Shape shape, unsigned seed, DataType type = DataType::kFLOAT) {
  return randomTensor(type, std::move(shape), seed, 0.01, 0.1);
}
//! Random integers of `type`: [0, 200] unsigned, [-100, 100] signed.
Tensor integers(DataType type, ir::Shape shape, unsigned seed) {
  const bool is_unsigned = type == DataType::kUINT8 || type == DataType::kUINT16;
  return randomTensor(type, std::move(shape), seed, is_unsigned ? 0.0 : -20.0, 40.0 - (is_unsigned ? 0.0 : 20.0));
}

std::pair<double, double> limits(DataType t) {
  switch (t) {
    case DataType::kINT8: return {-128, 127};
    case DataType::kUINT8: return {0, 255};
    case DataType::kINT16: return {-32768, 32767};
    default: return {0, 65535};
  }
}

//! saturate(round_half_even(x / s) + z) with the division in float32, as a float32 scale sets.
std::vector<int64_t> quantize(const Tensor& x, const std::vector<double>& s, const std::vector<int64_t>& z, DataType to,
                              const std::function<size_t(size_t)>& scale_of) {
  const auto xv = x.toDouble();
  const auto [lo, hi] = limits(to);
  std::vector<int64_t> want;
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t k = scale_of(i);
    const float q = std::nearbyint(static_cast<float>(xv[i]) / static_cast<float>(s[k]));
    want.push_back(static_cast<int64_t>(std::clamp(static_cast<double>(q) + static_cast<double>(z[k]), lo, hi)));
  }
  return want;
}

TEST(QuantizeLinear, PerAxisOnEveryIntegerTypeAgainstTheFormula) {
  for (DataType t : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16}) {
    SCOPED_TRACE(toString(t));
    const Tensor x = randomTensor(DataType::kFLOAT, {3, 5, 7}, 11);
    const Tensor s = scales({5}, 12), z = integers(t, {5}, 13);
    const Tensor y = run1("QuantizeLinear", {x, s, z}, attrs({{"axis", int64_t{-2}}}));
    ASSERT_EQ(y.type(), t);
    EXPECT_EQ(y.toInt64(), quantize(x, s.toDouble(), z.toInt64(), t, [](size_t i) { return (i / 7) % 5; }));
  }
}

TEST(QuantizeLinear, BlockedWithAPartialLastBlock) {
  const Tensor x = randomTensor(DataType::kFLOAT, {4, 7, 3}, 21);
  const Tensor s = scales({4, 3, 3}, 22), z = integers(DataType::kINT16, {4, 3, 3}, 23);
  const Tensor y = run1("QuantizeLinear", {x, s, z}, attrs({{"axis", int64_t{1}}, {"block_size", int64_t{3}}}));
  const auto scale_of = [](size_t i) { return ((i / 21) * 3 + ((i / 3) % 7) / 3) * 3 + i % 3; };
  EXPECT_EQ(y.toInt64(), quantize(x, s.toDouble(), z.toInt64(), DataType::kINT16, scale_of));
}

TEST(QuantizeLinear, OutputDtypeWithoutZeroPointAndPerTensorScale) {
  const Tensor x = randomTensor(DataType::kFLOAT, {5, 3}, 31);
  const Tensor s = make(DataType::kFLOAT, {}, {0.003});
  const Tensor y = runOp("QuantizeLinear", {x, s}, attrs({{"output_dtype", int64_t{5}}})).at(0);  // int16
  ASSERT_EQ(y.type(), DataType::kINT16);
  EXPECT_EQ(y.toInt64(), quantize(x, {0.003}, {0}, DataType::kINT16, [](size_t) { return 0; }));
  // No zero point and no output_dtype: uint8.
  EXPECT_EQ(run1("QuantizeLinear", {x, s}).type(), DataType::kUINT8);
}

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
  const Tensor x = make(DataType::kFLOAT, {8}, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 300, -300});
  const Tensor s = make(DataType::kFLOAT, {}, {1});
  expectValues(run1("QuantizeLinear", {x, s, make(DataType::kINT8, {}, {0})}), {0, 2, 2, 0, -2, -2, 127, -128});
  expectValues(run1("QuantizeLinear", {x, s, make(DataType::kUINT8, {}, {3})}), {3, 5, 5, 3, 1, 1, 255, 0});
}

TEST(QuantizeLinear, Int32InputAndFloat16Scale) {
  const Tensor x = make(DataType::kINT32, {5}, {-7, 0, 9, 1001, 33});
  const Tensor s = make(DataType::kHALF, {}, {2.0});
  expectValues(run1("QuantizeLinear", {x, s, make(DataType::kINT8, {}, {-1})}), {-5, -1, 3, 127, 15});
}

TEST(DequantizeLinear, PerAxisAndBlockedAgainstTheFormula) {
  for (DataType t : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16}) {
    SCOPED_TRACE(toString(t));
    const Tensor x = integers(t, {3, 5, 7}, 40);
    const Tensor s = scales({7}, 41), z = integers(t, {7}, 43);
    const auto xv = x.toInt64(), zv = z.toInt64();
    const auto sv = s.toDouble();
    std::vector<double> want;
    for (size_t i = 0; i < xv.size(); ++i)
      want.push_back(static_cast<float>(xv[i] - zv[i % 7]) * static_cast<float>(sv[i % 7]));
    const Tensor y = run1("DequantizeLinear", {x, s, z}, attrs({{"axis", int64_t{2}}}));
    ASSERT_EQ(y.type(), DataType::kFLOAT);
    expectNear(y, want, 1e-6);
  }
  const Tensor x = integers(DataType::kINT8, {5, 4}, 44);
  const Tensor s = scales({2, 4}, 42), z = integers(DataType::kINT8, {2, 4}, 45);
  const auto xv = x.toInt64(), zv = z.toInt64();
  const auto sv = s.toDouble();
  std::vector<double> want;
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t k = (i / 4) / 3 * 4 + i % 4;  // blocks of 3 rows along axis 0
    want.push_back(static_cast<float>(xv[i] - zv[k]) * static_cast<float>(sv[k]));
  }
  expectNear(run1("DequantizeLinear", {x, s, z}, attrs({{"axis", int64_t{0}}, {"block_size", int64_t{3}}})), want,
             1e-6);
}

TEST(DequantizeLinear, Int32WithoutZeroPointAndOutputDtype) {
  const Tensor x = make(DataType::kINT32, {4}, {-100000, 3, 0, 77777});
  const Tensor s = make(DataType::kFLOAT, {}, {0.25});
  expectNear(runOp("DequantizeLinear", {x, s}).at(0), {-25000, 0.75, 0, 19444.25}, 1e-7);
  const Tensor h = runOp("DequantizeLinear", {x, s}, attrs({{"output_dtype", int64_t{11}}}), 1, 23).at(0);
  EXPECT_EQ(h.type(), DataType::kDOUBLE);
  expectNear(h, {-25000, 0.75, 0, 19444.25}, 1e-12);
}

TEST(Quantization, RefusesTypesKilnLacksAndMisfitScales) {
  const auto unsupported = static_cast<int>(ErrorCode::kUnsupported);
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto code = [](const std::string& op, std::vector<ir::TensorInfo> in, ir::Attributes a, int opset = 21) {
    return errorCode([&] { infer(op, in, std::move(a), 1, opset); });
  };
  for (int64_t float8 : {17, 19, 21, 22, 23}) {  // e4m3fn, e5m2, uint4, int4, float4e2m1
    EXPECT_EQ(code("QuantizeLinear", {f({4}), f({})}, attrs({{"output_dtype", float8}}), 23), unsupported) << float8;
    EXPECT_EQ(code("DequantizeLinear", {info(DataType::kINT8, {4}), f({})}, attrs({{"output_dtype", float8}}), 23),
              unsupported);
  }
  EXPECT_EQ(code("QuantizeLinear", {f({4}), f({})}, attrs({{"precision", int64_t{19}}}), 25), unsupported);
  EXPECT_EQ(code("QuantizeLinear", {f({2, 4}), f({4})}, {}, 10), invalid);  // per axis in opset 10
  EXPECT_EQ(code("QuantizeLinear", {f({2, 4}), f({3})}, {}), invalid);      // 3 scales for 4
  EXPECT_EQ(code("QuantizeLinear", {f({2, 6}), f({2, 3})}, attrs({{"block_size", int64_t{3}}})), invalid);  // 6/3=2
  EXPECT_EQ(code("QuantizeLinear", {f({2, 6}), f({2, 2})}, attrs({{"block_size", int64_t{3}}}), 19), invalid);
  EXPECT_EQ(code("QuantizeLinear", {f({4}), f({}), info(DataType::kINT8, {})}, attrs({{"output_dtype", int64_t{2}}})),
            invalid);  // uint8 vs an int8 zero point
  EXPECT_EQ(code("QuantizeLinear", {f({4}), f({}), info(DataType::kINT32, {})}, {}), invalid);
  EXPECT_EQ(code("DequantizeLinear", {info(DataType::kINT8, {4}), f({}), info(DataType::kUINT8, {})}, {}), invalid);
  EXPECT_EQ(code("DequantizeLinear", {f({4}), f({})}, {}), invalid);
  EXPECT_EQ(code("QuantizeLinear", {f({2, 6}), f({2, 2})}, attrs({{"block_size", int64_t{3}}})), 0);
}

//! DynamicQuantizeLinear's definition, step by step in float32: (y, scale, zero point).
std::tuple<std::vector<int64_t>, float, int64_t> dynamicQuantize(const std::vector<double>& x) {
  float lo = 0, hi = 0;
  for (double v : x) lo = std::min(lo, static_cast<float>(v)), hi = std::max(hi, static_cast<float>(v));
  const float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  const float zero = std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f));
  std::vector<int64_t> y;
  for (double v : x)
    y.push_back(static_cast<int64_t>(std::clamp(std::nearbyint(static_cast<float>(v) / scale) + zero, 0.0f, 255.0f)));
  return {y, scale, static_cast<int64_t>(zero)};
}

TEST(DynamicQuantizeLinear, RandomRangesAgainstTheDefinition) {
  for (auto [lo, hi] : {std::pair{-3.0, 2.0}, std::pair{0.5, 4.0}, std::pair{-6.0, -1.0}}) {
    SCOPED_TRACE(lo);
    const Tensor x = randomTensor(DataType::kFLOAT, {3, 7, 5}, 51, lo, hi);
    const auto out = runOp("DynamicQuantizeLinear", {x}, {}, 3, 11);
    const auto [y, scale, zero] = dynamicQuantize(x.toDouble());
    ASSERT_EQ(out[0].type(), DataType::kUINT8);
    EXPECT_EQ(out[0].shape(), x.shape());
    EXPECT_EQ(out[0].toInt64(), y);
    EXPECT_EQ(out[1].values<float>()[0], scale);
    EXPECT_EQ(out[2].toInt64(), std::vector<int64_t>{zero});
  }
}

TEST(DynamicQuantizeLinear, AllZerosAndNonFloatInput) {
  const auto out = runOp("DynamicQuantizeLinear", {make(DataType::kFLOAT, {3}, {0, 0, 0})}, {}, 3, 11);
  expectValues(out[0], {0, 0, 0});
  EXPECT_EQ(out[1].values<float>()[0], 1.0f / 255.0f);
  expectValues(out[2], {0});
  EXPECT_EQ(errorCode([] { infer("DynamicQuantizeLinear", {info(DataType::kHALF, {3})}, {}, 3, 11); }),
            static_cast<int>(ErrorCode::kInvalidModel));
}

}  // namespace
}  // namespace kiln::ew_test
