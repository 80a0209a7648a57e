// Shape rule and reference kernel of Resize.
#include "unit/ops/movement_test_util.h"

namespace kiln::mv_test {
namespace {

In data(Shape s) { return In{DataType::kFLOAT, std::move(s)}; }
Tensor scales(std::vector<double> v) { return floats({static_cast<int64_t>(v.size())}, v); }

TEST(Resize, ShapeFromScalesSizesAndSymbols) {
  EXPECT_EQ(inferShape("Resize", {data({kBatch, 3, 5, 7}), In{DataType::kFLOAT, {0}}, known(scales({1, 1, 2, 0.5}))}),
            (Shape{kBatch, 3, 10, 3}));
  EXPECT_EQ(
      inferShape("Resize",
                 {data({kBatch, 3, 5, 7}), In{DataType::kFLOAT, {0}}, In{DataType::kFLOAT, {0}}, known(ints({4, 9}))},
                 attrs({{"axes", std::vector<int64_t>{2, 3}}})),
      (Shape{kBatch, 3, 4, 9}));
  EXPECT_EQ(inferShape("Resize", {data({1, 3, 5, 7}), In{DataType::kFLOAT, {0}}, In{DataType::kFLOAT, {4}}}),
            (Shape{kU, kU, kU, kU}));
  EXPECT_EQ(
      inferShape(
          "Resize", {data({1, 1, 4, 8}), In{DataType::kFLOAT, {0}}, In{DataType::kFLOAT, {0}}, known(ints({2, 2}))},
          attrs({{"axes", std::vector<int64_t>{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}})),
      (Shape{1, 1, 1, 2}));
  EXPECT_EQ(
      errorCode([] {
        inferShape("Resize", {data({1, 4}), In{DataType::kFLOAT, {0}}, known(scales({1, 2})), known(ints({1, 8}))});
      }),
      ErrorCode::kInvalidModel);
}

// Antialiased linear downsampling by 2: the triangle filter stretched to 4 taps, weights
// (0.125, 0.375, 0.375, 0.125) around x_in = 0.5 and 2.5 (edges clamp); without antialias, the
// two neighbours only. Upsampling is unchanged by antialias.
TEST(Resize, AntialiasWidensTheFilterWhenDownsampling) {
  Tensor x = floats({1, 1, 1, 4}, {0, 1, 2, 3});
  const auto linear = [](int64_t antialias) {
    return attrs({{"mode", std::string("linear")}, {"antialias", antialias}});
  };
  EXPECT_EQ(run1("Resize", {x, std::nullopt, scales({1, 1, 1, 0.5})}, linear(1)).toDouble(),
            (std::vector<double>{0.625, 2.375}));
  EXPECT_EQ(run1("Resize", {x, std::nullopt, scales({1, 1, 1, 0.5})}, linear(0)).toDouble(),
            (std::vector<double>{0.5, 2.5}));
  EXPECT_EQ(run1("Resize", {x, std::nullopt, scales({1, 1, 1, 2})}, linear(1)).toDouble(),
            run1("Resize", {x, std::nullopt, scales({1, 1, 1, 2})}, linear(0)).toDouble());
}

TEST(Resize, NearestUpsampleRepeats) {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor y = run1("Resize", {x, std::nullopt, scales({1, 1, 2, 3})});
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(y.toDouble(),
            (std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
}

TEST(Resize, LinearHalfPixelMatchesHandComputed) {
  Tensor x = floats({1, 1, 1, 2}, {1, 3});
  Tensor y = run1("Resize", {x, std::nullopt, scales({1, 1, 1, 2})}, attrs({{"mode", std::string("linear")}}));
  // half_pixel: x_in = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (edges clamp).
  EXPECT_EQ(y.toDouble(), (std::vector<double>{1, 1.5, 2.5, 3}));
  Tensor ac =
      run1("Resize", {x, std::nullopt, std::nullopt, ints({1, 1, 1, 3})},
           attrs({{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("align_corners")}}));
  EXPECT_EQ(ac.toDouble(), (std::vector<double>{1, 2, 3}));
}

TEST(Resize, CubicKeepsConstantsAndIdentity) {
  Tensor c(DataType::kFLOAT, {1, 1, 3, 5});
  std::vector<double> ones(15, 2.5);
  c = floats({1, 1, 3, 5}, ones);
  Tensor y = run1("Resize", {c, std::nullopt, scales({1, 1, 1.7, 0.6})}, attrs({{"mode", std::string("cubic")}}));
  for (double v : y.toDouble()) EXPECT_NEAR(v, 2.5, 1e-9);
  Tensor r = randomFloats({1, 2, 3, 5});
  Tensor same = run1("Resize", {r, std::nullopt, scales({1, 1, 1, 1})}, attrs({{"mode", std::string("cubic")}}));
  EXPECT_EQ(same.toDouble(), r.toDouble());
}

TEST(Resize, TfCropAndResizeExtrapolates) {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor roi = floats({8}, {0, 0, 0, 0, 1, 1, 1, 2});
  Tensor y = run1("Resize", {x, roi, std::nullopt, ints({1, 1, 2, 3})},
                  attrs({{"mode", std::string("linear")},
                         {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                         {"extrapolation_value", 10.0f}}));
  // Width: x_in = x * 2 * 1 / 2 = 0, 1, 2 -> the last is outside.
  EXPECT_EQ(y.toDouble(), (std::vector<double>{1, 2, 10, 3, 4, 10}));
}

TEST(Resize, NearestModesOnIntegers) {
  Tensor x = iota(DataType::kINT32, {1, 4});
  auto run = [&](const char* mode) {
    return run1("Resize", {x, std::nullopt, std::nullopt, ints({1, 3})},
                attrs({{"nearest_mode", std::string(mode)},
                       {"coordinate_transformation_mode", std::string("asymmetric")}}))
        .toInt64();
  };
  // asymmetric: x_in = x * 4 / 3 = 0, 1.33, 2.67.
  EXPECT_EQ(run("floor"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(run("ceil"), (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(run("round_prefer_floor"), (std::vector<int64_t>{0, 1, 3}));
}

}  // namespace
}  // namespace kiln::mv_test
