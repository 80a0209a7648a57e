// Cast, CastLike, Identity, Dropout.
#include <gtest/gtest.h>

#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

constexpr int kInvalid = static_cast<int>(ErrorCode::kInvalidModel);
constexpr int kUnsupported = static_cast<int>(ErrorCode::kUnsupported);

ir::Attributes to(int64_t onnx_type) { return attrs({{"to", onnx_type}}); }

TEST(CastShape, TargetTypeFromOnnxNumber) {
  const int64_t sym = ir::kFirstSymbol;
  auto out = infer("Cast", {info(DataType::kFLOAT, {sym, 3})}, to(7));
  EXPECT_EQ(out[0].type, DataType::kINT64);
  EXPECT_EQ(out[0].shape, (ir::Shape{sym, 3}));
  EXPECT_EQ(infer("Cast", {info(DataType::kFLOAT, {1})}, to(16))[0].type, DataType::kBF16);
  EXPECT_EQ(infer("Cast", {info(DataType::kFLOAT, {1})}, to(9))[0].type, DataType::kBOOL);
  EXPECT_EQ(errorCode([] { infer("Cast", {info(DataType::kFLOAT, {1})}, to(8)); }), kUnsupported);   // string
  EXPECT_EQ(errorCode([] { infer("Cast", {info(DataType::kFLOAT, {1})}, to(17)); }), kUnsupported);  // float8
  EXPECT_EQ(errorCode([] { infer("Cast", {info(DataType::kFLOAT, {1})}, to(99)); }), kInvalid);
  EXPECT_EQ(infer("CastLike", {info(DataType::kINT8, {2, 2}), info(DataType::kHALF, {})})[0].type, DataType::kHALF);
}

TEST(Cast, FloatToIntegerTruncatesTowardZero) {
  Tensor x = floats({5}, {-2.7, -0.5, 0.5, 2.7, 100.9});
  expectValues(run1("Cast", {x}, to(6)), {-2, 0, 0, 2, 100});
  expectValues(run1("Cast", {x}, to(9)), {1, 1, 1, 1, 1});
  expectValues(run1("Cast", {floats({2}, {0, -0.0})}, to(9)), {0, 0});
}

TEST(Cast, FromBoolAndBetweenFloatTypes) {
  Tensor b = make(DataType::kBOOL, {3}, {1, 0, 1});
  expectNear(run1("Cast", {b}, to(1)), {1, 0, 1}, 0);
  Tensor x = randomTensor(DataType::kDOUBLE, {3, 7}, 31);
  Tensor h = run1("Cast", {x}, to(10));
  EXPECT_EQ(h.type(), DataType::kHALF);
  auto vx = x.toDouble();
  auto vh = h.toDouble();
  for (size_t i = 0; i < vx.size(); ++i) EXPECT_NEAR(vh[i], vx[i], 2e-3) << i;
  Tensor back = run1("Cast", {h}, to(11));
  EXPECT_EQ(back.toDouble(), vh);
  expectValues(run1("Cast", {make(DataType::kINT32, {2}, {300, -1})}, to(2)), {44, 255});  // wraps modulo 256
}

TEST(CastLike, TakesTheSecondInputsType) {
  Tensor out = run1("CastLike", {floats({2}, {1.9, -3.2}), make(DataType::kINT16, {}, {0})});
  EXPECT_EQ(out.type(), DataType::kINT16);
  expectValues(out, {1, -3});
}

TEST(Identity, CopiesAnyType) {
  Tensor x = randomTensor(DataType::kBF16, {2, 3}, 32);
  Tensor out = run1("Identity", {x});
  EXPECT_EQ(out.type(), DataType::kBF16);
  EXPECT_EQ(out.toDouble(), x.toDouble());
}

TEST(Dropout, InferenceIsIdentityWithAllTrueMask) {
  Tensor x = randomTensor(DataType::kFLOAT, {3, 5}, 33);
  auto outs = runOp("Dropout", {x, floats({}, {0.3})}, {}, 2);
  EXPECT_EQ(outs[0].toDouble(), x.toDouble());
  EXPECT_EQ(outs[1].type(), DataType::kBOOL);
  EXPECT_EQ(outs[1].toInt64(), std::vector<int64_t>(15, 1));
  outs = runOp("Dropout", {x, floats({}, {0.3}), make(DataType::kBOOL, {}, {0})}, {}, 1);
  EXPECT_EQ(outs[0].toDouble(), x.toDouble());
}

TEST(Dropout, Opset11RatioAttributeBecomesAnInput) {
  Tensor x = randomTensor(DataType::kHALF, {4}, 34);
  auto outs = runOp("Dropout", {x}, attrs({{"ratio", 0.2f}}), 2, 11);
  EXPECT_EQ(outs[0].toDouble(), x.toDouble());
  EXPECT_EQ(outs[1].toInt64(), std::vector<int64_t>(4, 1));
}

TEST(Dropout, RandomTrainingModeIsUnsupported) {
  Tensor x = floats({2}, {1, 2});
  Tensor yes = make(DataType::kBOOL, {}, {1});
  // Known at build time: the shape rule refuses (a ratio above 0, or the default 0.5); only
  // known at run time: the kernel does.
  ir::TensorInfo t = info(DataType::kBOOL, {});
  t.value = std::make_shared<const Tensor>(yes);
  ir::TensorInfo half = info(DataType::kFLOAT, {});
  half.value = std::make_shared<const Tensor>(floats({}, {0.5}));
  EXPECT_EQ(errorCode([&] { infer("Dropout", {info(DataType::kFLOAT, {2}), half, t}); }), kUnsupported);
  EXPECT_EQ(errorCode([&] { runOp("Dropout", {x, floats({}, {0.5}), yes}); }), kUnsupported);
}

// Training with ratio 0 drops nothing and scales by 1: the data and an all-true mask.
TEST(Dropout, TrainingWithRatioZeroIsTheIdentity) {
  Tensor x = floats({3}, {1, -2, 3});
  auto out = runOp("Dropout", {x, floats({}, {0}), make(DataType::kBOOL, {}, {1})}, {}, 2);
  EXPECT_EQ(out[0].toDouble(), (std::vector<double>{1, -2, 3}));
  EXPECT_EQ(out[1].toDouble(), (std::vector<double>{1, 1, 1}));
}

}  // namespace
}  // namespace kiln::ew_test
