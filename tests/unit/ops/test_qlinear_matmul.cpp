// QLinearMatMul on int8 and uint8 with broadcast batches, 1-D operands, per-tensor, per-row
// and per-column scales and zero points, float32 and float16 scales, against a plain loop here
// (dequantize, multiply, requantize with rounding half to even and saturation); and the shape
// rule's refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

Tensor integers(DataType type, ir::Shape shape, unsigned seed) {
  const bool is_unsigned = type == DataType::kUINT8;
  return randomTensor(type, std::move(shape), seed, is_unsigned ? 0.0 : -25.0, is_unsigned ? 50.0 : 25.0);
}

struct Operand {
  Tensor q, scale, zero;
};

//! The loop: y[.., i, j] = sat(rint(sum_s (a - za_i)(b - zb_j) * float(sa_i * sb_j / sy)) + zy)
//! for a [B, M, K] (za/sa one value or [M]), b [K, N] (zb/sb one value or [N]).
std::vector<int64_t> expected(const Operand& a, const Operand& b, double sy, int64_t zy, DataType yt, int64_t batches,
                              int64_t m, int64_t k, int64_t n) {
  const auto av = a.q.toInt64(), bv = b.q.toInt64(), za = a.zero.toInt64(), zb = b.zero.toInt64();
  const auto sa = a.scale.toDouble(), sb = b.scale.toDouble();
  const double lo = yt == DataType::kINT8 ? -128 : 0, hi = yt == DataType::kINT8 ? 127 : 255;
  std::vector<int64_t> want;
  for (int64_t e = 0; e < batches; ++e)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const size_t pa = za.size() == 1 ? 0 : i, pb = zb.size() == 1 ? 0 : j;
        int64_t sum = 0;
        for (int64_t s = 0; s < k; ++s) sum += (av[(e * m + i) * k + s] - za[pa]) * (bv[s * n + j] - zb[pb]);
        const double mult =
            static_cast<float>(static_cast<float>(sa[pa]) * static_cast<float>(sb[pb]) / static_cast<float>(sy));
        want.push_back(static_cast<int64_t>(std::clamp(std::nearbyint(sum * mult) + zy, lo, hi)));
      }
  return want;
}

TEST(QLinearMatMul, BatchedPerRowAndPerColumnOnInt8AndUint8) {
  for (DataType t : {DataType::kINT8, DataType::kUINT8}) {
    SCOPED_TRACE(toString(t));
    const Operand a{integers(t, {3, 5, 7}, 61), randomTensor(DataType::kFLOAT, {5}, 62, 0.01, 0.05),
                    integers(t, {5}, 63)};
    const Operand b{integers(t, {7, 9}, 64), randomTensor(DataType::kFLOAT, {9}, 65, 0.01, 0.05), integers(t, {9}, 66)};
    const Tensor sy = make(DataType::kFLOAT, {}, {0.02}), zy = make(t, {}, {t == DataType::kINT8 ? -3.0 : 120.0});
    const Tensor y = run1("QLinearMatMul", {a.q, a.scale, a.zero, b.q, b.scale, b.zero, sy, zy});
    ASSERT_EQ(y.type(), t);
    ASSERT_EQ(y.shape(), (ir::Shape{3, 5, 9}));
    EXPECT_EQ(y.toInt64(), expected(a, b, 0.02, zy.intAt(0), t, 3, 5, 7, 9));
  }
}

TEST(QLinearMatMul, PerTensorMixedTypesAndRankOneRowsScales) {
  // int8 a, uint8 b, uint8 y; a's per-row parameters given as [M, 1].
  const Operand a{integers(DataType::kINT8, {4, 3}, 71), randomTensor(DataType::kFLOAT, {4, 1}, 72, 0.01, 0.05),
                  integers(DataType::kINT8, {4, 1}, 73)};
  const Operand b{integers(DataType::kUINT8, {3, 6}, 74), make(DataType::kFLOAT, {}, {0.03}),
                  make(DataType::kUINT8, {}, {17})};
  const Tensor sy = make(DataType::kFLOAT, {1}, {0.05}), zy = make(DataType::kUINT8, {1}, {9});
  const Tensor y = run1("QLinearMatMul", {a.q, a.scale, a.zero, b.q, b.scale, b.zero, sy, zy});
  EXPECT_EQ(y.toInt64(), expected(a, b, 0.05, 9, DataType::kUINT8, 1, 4, 3, 6));
}

TEST(QLinearMatMul, OneDimensionalAAndSaturation) {
  const Tensor a = make(DataType::kUINT8, {3}, {200, 250, 255});
  const Tensor b = make(DataType::kUINT8, {3, 2}, {255, 0, 255, 1, 255, 2});
  const Tensor one = make(DataType::kFLOAT, {}, {1}), z = make(DataType::kUINT8, {}, {0});
  const Tensor y = runOp("QLinearMatMul", {a, one, z, b, one, z, one, make(DataType::kINT8, {}, {0})}, {}, 1, 10).at(0);
  ASSERT_EQ(y.shape(), (ir::Shape{2}));
  expectValues(y, {127, 127});  // 705 * 255 saturates; 250 + 510 = 760 too
  // Half way rounds to even: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2.
  const Tensor half = make(DataType::kFLOAT, {}, {0.5});
  const Tensor y2 = run1("QLinearMatMul", {make(DataType::kUINT8, {1, 1}, {1}), one, z,
                                           make(DataType::kUINT8, {1, 2}, {3, 5}), half, z, one, z});
  expectValues(y2, {2, 2});
}

TEST(QLinearMatMul, Float16ScalesRoundTheMultiplierInFloat16) {
  const Tensor a = integers(DataType::kUINT8, {2, 5}, 81), b = integers(DataType::kUINT8, {5, 3}, 82);
  const Tensor sa = make(DataType::kHALF, {}, {0.0123}), sb = make(DataType::kHALF, {}, {0.0456});
  const Tensor sy = make(DataType::kHALF, {}, {0.0789}), z = make(DataType::kUINT8, {}, {10});
  const Tensor y = run1("QLinearMatMul", {a, sa, z, b, sb, z, sy, z});
  const double mult = static_cast<float>(
      ir::Half(static_cast<float>(ir::Half(static_cast<float>(sa.at(0)) * static_cast<float>(sb.at(0)))) /
               static_cast<float>(sy.at(0))));
  const auto av = a.toInt64(), bv = b.toInt64();
  std::vector<int64_t> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      int64_t sum = 0;
      for (int s = 0; s < 5; ++s) sum += (av[i * 5 + s] - 10) * (bv[s * 3 + j] - 10);
      want.push_back(static_cast<int64_t>(std::clamp(std::nearbyint(sum * mult) + 10, 0.0, 255.0)));
    }
  EXPECT_EQ(y.toInt64(), want);
}

TEST(QLinearMatMul, RefusesMisfitParametersAndTypes) {
  const auto q = [](DataType t, ir::Shape s) { return info(t, std::move(s)); };
  const auto u8 = DataType::kUINT8;
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto code = [](std::vector<ir::TensorInfo> in, int opset = 21) {
    return errorCode([&] { infer("QLinearMatMul", in, {}, 1, opset); });
  };
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  EXPECT_EQ(code({q(u8, {2, 3}), f({}), q(u8, {}), q(u8, {3, 4}), f({}), q(u8, {}), f({}), q(u8, {})}), 0);
  EXPECT_EQ(code({q(u8, {2, 3}), f({}), q(u8, {}), q(u8, {3, 4}), f({}), q(u8, {}), f({4}), q(u8, {4})}),
            static_cast<int>(ErrorCode::kUnsupported));  // per-column y
  EXPECT_EQ(code({q(u8, {2, 3}), f({3}), q(u8, {3}), q(u8, {3, 4}), f({}), q(u8, {}), f({}), q(u8, {})}),
            invalid);  // a's per-row params have M = 2 values
  EXPECT_EQ(code({q(u8, {2, 3}), f({}), q(u8, {}), q(u8, {4, 4}), f({}), q(u8, {}), f({}), q(u8, {})}), invalid);
  EXPECT_EQ(code({q(u8, {2, 3}), f({}), q(DataType::kINT8, {}), q(u8, {3, 4}), f({}), q(u8, {}), f({}), q(u8, {})}),
            invalid);
  EXPECT_EQ(code({q(DataType::kINT16, {2, 3}), f({}), q(DataType::kINT16, {}), q(u8, {3, 4}), f({}), q(u8, {}), f({}),
                  q(u8, {})}),
            invalid);
  const auto h = [](ir::Shape s) { return info(DataType::kHALF, std::move(s)); };
  EXPECT_EQ(code({q(u8, {2, 3}), h({}), q(u8, {}), q(u8, {3, 4}), h({}), q(u8, {}), h({}), q(u8, {})}, 10), invalid);
  EXPECT_EQ(code({q(u8, {2, 3}), h({}), q(u8, {}), q(u8, {3, 4}), h({}), q(u8, {}), h({}), q(u8, {})}, 21), 0);
}

}  // namespace
}  // namespace kiln::ew_test
