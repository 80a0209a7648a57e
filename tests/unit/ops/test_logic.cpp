// Comparison and logic operators, IsNaN, IsInf, BitShift.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

constexpr int kInvalid = static_cast<int>(ErrorCode::kInvalidModel);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(CompareShape, OutputIsBoolBroadcast) {
  auto out = infer("Less", {info(DataType::kFLOAT, {ir::kFirstSymbol, 1}), info(DataType::kFLOAT, {4})});
  EXPECT_EQ(out[0].type, DataType::kBOOL);
  EXPECT_EQ(out[0].shape, (ir::Shape{ir::kFirstSymbol, 4}));
  EXPECT_EQ(errorCode([] { infer("Equal", {info(DataType::kFLOAT, {3}), info(DataType::kINT64, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Greater", {info(DataType::kBOOL, {3}), info(DataType::kBOOL, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("And", {info(DataType::kINT32, {3}), info(DataType::kINT32, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Or", {info(DataType::kBOOL, {2}), info(DataType::kBOOL, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("IsNaN", {info(DataType::kINT32, {3})}); }), kInvalid);
  EXPECT_EQ(infer("IsInf", {info(DataType::kHALF, {ir::kUnknownDim})})[0].type, DataType::kBOOL);
}

TEST(Compare, RandomBroadcastAgainstDirectComparison) {
  Tensor a = randomTensor(DataType::kFLOAT, {3, 5}, 21);
  Tensor b = randomTensor(DataType::kFLOAT, {5}, 22);
  auto va = a.toDouble(), vb = b.toDouble();
  auto less = run1("Less", {a, b}).toInt64();
  auto ge = run1("GreaterOrEqual", {a, b}).toInt64();
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(less[i], va[i] < vb[i % 5]) << i;
    EXPECT_EQ(ge[i], va[i] >= vb[i % 5]) << i;
  }
}

TEST(Compare, AllFiveOnHandPickedValues) {
  Tensor a = make(DataType::kINT64, {4}, {1, 2, 3, -4});
  Tensor b = make(DataType::kINT64, {}, {2});
  expectValues(run1("Equal", {a, b}), {0, 1, 0, 0});
  expectValues(run1("Less", {a, b}), {1, 0, 0, 1});
  expectValues(run1("Greater", {a, b}), {0, 0, 1, 0});
  expectValues(run1("LessOrEqual", {a, b}), {1, 1, 0, 1});
  expectValues(run1("GreaterOrEqual", {a, b}), {0, 1, 1, 0});
  Tensor h = make(DataType::kHALF, {3}, {0.5, kNaN, -1});
  expectValues(run1("Equal", {h, h}), {1, 0, 1});  // NaN != NaN
  expectValues(run1("Equal", {make(DataType::kBOOL, {2}, {1, 0}), make(DataType::kBOOL, {1}, {0})}), {0, 1});
  expectValues(run1("Greater", {make(DataType::kUINT64, {1}, {1e19}), make(DataType::kUINT64, {1}, {1})}), {1});
}

TEST(Logic, TruthTablesWithBroadcast) {
  Tensor a = make(DataType::kBOOL, {2, 2}, {0, 0, 1, 1});
  Tensor b = make(DataType::kBOOL, {2}, {0, 1});
  expectValues(run1("And", {a, b}), {0, 0, 0, 1});
  expectValues(run1("Or", {a, b}), {0, 1, 1, 1});
  expectValues(run1("Xor", {a, b}), {0, 1, 1, 0});
  expectValues(run1("Not", {a}), {1, 1, 0, 0});
}

TEST(IsNaNAndIsInf, DetectSpecialValues) {
  Tensor x = floats({5}, {1, kNaN, kInf, -kInf, 0});
  expectValues(run1("IsNaN", {x}), {0, 1, 0, 0, 0});
  expectValues(run1("IsInf", {x}), {0, 0, 1, 1, 0});
  expectValues(run1("IsInf", {x}, attrs({{"detect_negative", int64_t{0}}})), {0, 0, 1, 0, 0});
  expectValues(run1("IsInf", {x}, attrs({{"detect_positive", int64_t{0}}})), {0, 0, 0, 1, 0});
  expectValues(run1("IsNaN", {make(DataType::kHALF, {2}, {kNaN, 3})}), {1, 0});
}

TEST(BitShift, LeftAndRightOnUnsigned) {
  Tensor x = make(DataType::kUINT8, {3}, {16, 4, 1});
  Tensor n = make(DataType::kUINT8, {3}, {1, 2, 9});
  expectValues(run1("BitShift", {x, n}, attrs({{"direction", std::string("RIGHT")}})), {8, 1, 0});
  expectValues(run1("BitShift", {x, n}, attrs({{"direction", std::string("LEFT")}})), {32, 16, 0});
  expectValues(run1("BitShift", {make(DataType::kUINT64, {1}, {1}), make(DataType::kUINT64, {}, {40})},
                    attrs({{"direction", std::string("LEFT")}})),
               {int64_t{1} << 40});
  EXPECT_EQ(errorCode([] {
              infer("BitShift", {info(DataType::kINT32, {3}), info(DataType::kINT32, {3})},
                    attrs({{"direction", std::string("LEFT")}}));
            }),
            kInvalid);
  EXPECT_EQ(errorCode([] {
              infer("BitShift", {info(DataType::kUINT8, {3}), info(DataType::kUINT8, {3})},
                    attrs({{"direction", std::string("UP")}}));
            }),
            kInvalid);
}

}  // namespace
}  // namespace kiln::ew_test
