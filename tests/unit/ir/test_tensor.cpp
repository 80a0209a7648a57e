#include <gtest/gtest.h>

#include <cmath>

#include "ir/half.h"
#include "ir/tensor.h"

namespace kiln::ir {

TEST(Half, RoundTripsRepresentableValues) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-8f}) EXPECT_EQ(float(Half(v)), v) << v;
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(float(Half(1.0f + 1.0f / 4096.0f)), 1.0f);
  EXPECT_EQ(float(Half(1.0f + 3.0f / 2048.0f)), 1.0f + 2.0f / 1024.0f);
  EXPECT_TRUE(std::isinf(float(Half(1e6f))));
}

TEST(BFloat16, KeepsUpperBitsRounded) {
  EXPECT_EQ(float(BFloat16(1.0f)), 1.0f);
  EXPECT_EQ(float(BFloat16(3.140625f)), 3.140625f);
  EXPECT_NEAR(float(BFloat16(3.14159f)), 3.14159f, 0.02f);
}

TEST(Tensor, CastFollowsOnnxSemantics) {
  std::vector<double> v{-1.7, 0.0, 2.9};
  Tensor t = Tensor::fromDouble(DataType::kFLOAT, {3}, v);
  EXPECT_EQ(t.cast(DataType::kINT32).toInt64(), (std::vector<int64_t>{-1, 0, 2}));
  Tensor b = t.cast(DataType::kBOOL);
  EXPECT_EQ(b.toInt64(), (std::vector<int64_t>{1, 0, 1}));
}

TEST(Tensor, RejectsWrongElementView) {
  Tensor t(DataType::kFLOAT, {2, 2});
  EXPECT_THROW(t.values<double>(), Error);
}

}  // namespace kiln::ir

namespace kiln::ir {
TEST(Tensor, ViewSharesMemoryAndCopiesOwn) {
  std::vector<float> buffer{1, 2, 3, 4};
  Tensor v = Tensor::view(DataType::kFLOAT, {2, 2}, buffer.data());
  v.values<float>()[0] = 7;
  EXPECT_EQ(buffer[0], 7);
  Tensor copy = v;
  copy.values<float>()[1] = 9;
  EXPECT_EQ(buffer[1], 2);
  Tensor moved = std::move(copy);
  EXPECT_EQ(moved.values<float>()[1], 9);
  Tensor empty(DataType::kFLOAT, {0, 3});
  Tensor empty_copy = empty;
  EXPECT_EQ(empty_copy.numel(), 0);
}
}  // namespace kiln::ir
