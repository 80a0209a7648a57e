// BitwiseAnd / BitwiseOr / BitwiseXor / BitwiseNot on signed and unsigned integers (with
// broadcasting), BitCast (bits kept, same shape; widths must match), and CumProd (inclusive,
// exclusive, reversed, along any axis) against straightforward loops here.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

TEST(Bitwise, BinaryOpsOnEveryIntegerWidthWithBroadcast) {
  for (DataType t : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32,
                     DataType::kUINT32, DataType::kINT64, DataType::kUINT64}) {
    SCOPED_TRACE(toString(t));
    const Tensor a = make(t, {2, 3}, {5, 12, 7, 100, 1, 0});
    const Tensor b = make(t, {3}, {3, 10, 6});
    const std::vector<int64_t> av = a.toInt64(), bv = b.toInt64();
    std::vector<int64_t> want_and, want_or, want_xor;
    for (size_t i = 0; i < av.size(); ++i) {
      const int64_t x = av[i], y = bv[i % 3];
      want_and.push_back(x & y), want_or.push_back(x | y), want_xor.push_back(x ^ y);
    }
    expectValues(runOp("BitwiseAnd", {a, b}).at(0), want_and);
    expectValues(runOp("BitwiseOr", {a, b}).at(0), want_or);
    expectValues(runOp("BitwiseXor", {a, b}).at(0), want_xor);
  }
  // Signed values: two's complement bits.
  expectValues(run1("BitwiseAnd", {make(DataType::kINT8, {2}, {-1, -128}), make(DataType::kINT8, {2}, {85, 127})}),
               {85, 0});
}

TEST(Bitwise, NotFlipsEveryBit) {
  expectValues(run1("BitwiseNot", {make(DataType::kINT16, {3}, {0, -1, 5})}), {-1, 0, -6});
  expectValues(run1("BitwiseNot", {make(DataType::kUINT8, {3}, {0, 255, 170})}), {255, 0, 85});
  expectValues(run1("BitwiseNot", {make(DataType::kUINT32, {1}, {1})}), {4294967294});
}

TEST(Bitwise, RefusesFloatsAndMixedTypes) {
  EXPECT_THROW(infer("BitwiseAnd", {info(DataType::kFLOAT, {2}), info(DataType::kFLOAT, {2})}), Error);
  EXPECT_THROW(infer("BitwiseOr", {info(DataType::kINT32, {2}), info(DataType::kINT64, {2})}), Error);
  EXPECT_THROW(infer("BitwiseNot", {info(DataType::kBOOL, {2})}), Error);
}

ir::Attributes to(int64_t onnx_type) { return attrs({{"to", onnx_type}}); }

TEST(BitCast, KeepsTheBitsAndTheShape) {
  const Tensor f = make(DataType::kFLOAT, {2, 2}, {1.0, -2.5, 0.15625, 3e38});
  const Tensor i = runOp("BitCast", {f}, to(6), 1, 26).at(0);  // int32
  ASSERT_EQ(i.type(), DataType::kINT32);
  ASSERT_EQ(i.shape(), (ir::Shape{2, 2}));
  for (int k = 0; k < 4; ++k)
    EXPECT_EQ(static_cast<int32_t>(i.intAt(k)), std::bit_cast<int32_t>(f.values<float>()[k])) << k;
  // And back.
  const Tensor back = runOp("BitCast", {i}, to(1), 1, 26).at(0);
  EXPECT_EQ(std::memcmp(back.raw(), f.raw(), f.byteSize()), 0);
  // uint8 -> int8 wraps the top bit; a scalar keeps its rank 0.
  expectValues(runOp("BitCast", {make(DataType::kUINT8, {3}, {0, 127, 200})}, to(3), 1, 26).at(0), {0, 127, -56});
  EXPECT_EQ(runOp("BitCast", {make(DataType::kFLOAT, {}, {1.0})}, to(12), 1, 26).at(0).intAt(0), 0x3f800000);
}

TEST(BitCast, RefusesDifferentWidthsAndUnknownTypes) {
  EXPECT_THROW(infer("BitCast", {info(DataType::kFLOAT, {2})}, to(7), 1, 26), Error);  // 32 -> 64 bits
  EXPECT_THROW(infer("BitCast", {info(DataType::kINT8, {2})}, to(99), 1, 26), Error);
  EXPECT_EQ(ir::findSchema("BitCast")->since_opset, 26);
}

TEST(CumProd, RunningProductsAlongAnAxis) {
  // x [2, 3, 2], axis 1: products over the middle dim, inclusive / exclusive, forward / reversed.
  const Tensor x = make(DataType::kFLOAT, {2, 3, 2}, {1, 2, 3, 4, 5, 6, -1, 0.5, 2, 3, 0.25, -2});
  const std::vector<double> v = x.toDouble();
  for (bool exclusive : {false, true})
    for (bool reverse : {false, true}) {
      SCOPED_TRACE(std::string(exclusive ? "exclusive" : "inclusive") + (reverse ? " reversed" : ""));
      std::vector<double> want(v.size());
      for (int o = 0; o < 2; ++o)
        for (int j = 0; j < 2; ++j) {
          double acc = 1;
          for (int step = 0; step < 3; ++step) {
            const int k = reverse ? 2 - step : step;
            const size_t at = static_cast<size_t>((o * 3 + k) * 2 + j);
            if (exclusive) want[at] = acc;
            acc *= v[at];
            if (!exclusive) want[at] = acc;
          }
        }
      const Tensor got = runOp("CumProd", {x, Tensor::scalarInt64(-2)},
                               attrs({{"exclusive", int64_t{exclusive}}, {"reverse", int64_t{reverse}}}), 1, 26)
                             .at(0);
      EXPECT_EQ(got.toDouble(), want);
    }
  expectValues(runOp("CumProd", {make(DataType::kINT64, {4}, {2, -3, 4, 1}), Tensor::scalarInt64(0)}, {}, 1, 26).at(0),
               {2, -6, -24, -24});
}

}  // namespace
}  // namespace kiln::ew_test
