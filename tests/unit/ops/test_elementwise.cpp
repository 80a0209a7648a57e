// Broadcasting arithmetic: Add Sub Mul Div Pow Mod PRelu, Min Max Sum Mean, Where, and the
// broadcast loop they share.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/kernels/broadcast_loop.h"
#include "unit/ops/elementwise_test_util.h"

namespace kiln::ew_test {
namespace {

constexpr int kInvalid = static_cast<int>(ErrorCode::kInvalidModel);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Reference: element i of `in` broadcast to `out_shape`, by the simple index map.
std::vector<double> broadcastTo(const Tensor& in, const ir::Shape& out_shape) {
  auto index = cpu::broadcastIndex(in.shape(), out_shape);
  auto v = in.toDouble();
  std::vector<double> r;
  for (int64_t i : index) r.push_back(v[i]);
  return r;
}

TEST(BroadcastLoop, VisitsTheSameElementsAsTheIndexMap) {
  const std::vector<std::pair<ir::Shape, ir::Shape>> cases = {
      {{2, 3, 5, 7}, {3, 1, 1}}, {{2, 3, 5, 7}, {7}},   {{5, 1, 3}, {4, 1}}, {{1, 6}, {5, 1}},
      {{3, 4}, {3, 4}},          {{3, 4}, {}},          {{1, 1}, {1}},       {{2, 1, 3, 1, 5}, {2, 4, 1, 1, 5}},
  };
  for (const auto& [a, b] : cases) {
    ir::Shape out(std::max(a.size(), b.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t da = i + a.size() < out.size() ? 1 : a[i + a.size() - out.size()];
      int64_t db = i + b.size() < out.size() ? 1 : b[i + b.size() - out.size()];
      out[i] = std::max(da, db);
    }
    auto ia = cpu::broadcastIndex(a, out);
    auto ib = cpu::broadcastIndex(b, out);
    std::vector<int64_t> got_a(ia.size(), -1), got_b(ib.size(), -1);
    cpu::BroadcastLoop<2> loop(out, {&a, &b});
    loop.run([&](int64_t o, int64_t n, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st) {
      for (int64_t j = 0; j < n; ++j) {
        got_a[o + j] = off[0] + j * st[0];
        got_b[o + j] = off[1] + j * st[1];
      }
    });
    EXPECT_EQ(got_a, ia) << toString(a) << " with " << toString(b);
    EXPECT_EQ(got_b, ib) << toString(a) << " with " << toString(b);
  }
}

TEST(BinaryShape, BroadcastsKeepingSymbolicDims) {
  const int64_t batch = ir::kFirstSymbol;
  auto out = infer("Add", {info(DataType::kFLOAT, {batch, 3, 1}), info(DataType::kFLOAT, {4})});
  EXPECT_EQ(out[0].shape, (ir::Shape{batch, 3, 4}));
  EXPECT_EQ(out[0].type, DataType::kFLOAT);
  out = infer("Mul", {info(DataType::kINT32, {ir::kUnknownDim, 1}), info(DataType::kINT32, {2, 1, 5})});
  EXPECT_EQ(out[0].shape, (ir::Shape{2, ir::kUnknownDim, 5}));
  out = infer("Sub", {info(DataType::kHALF, {ir::kUnknownDim}), info(DataType::kHALF, {6})});
  EXPECT_EQ(out[0].shape, (ir::Shape{6}));
}

TEST(BinaryShape, RejectsIncompatibleShapesAndTypes) {
  EXPECT_EQ(errorCode([] { infer("Add", {info(DataType::kFLOAT, {2, 3}), info(DataType::kFLOAT, {4})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Div", {info(DataType::kFLOAT, {3}), info(DataType::kINT32, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Add", {info(DataType::kBOOL, {3}), info(DataType::kBOOL, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] {
              infer("Mod", {info(DataType::kINT32, {3}), info(DataType::kINT32, {3})}, attrs({{"fmod", int64_t{2}}}));
            }),
            kInvalid);
}

TEST(PowShape, OutputTakesTheBaseType) {
  auto out = infer("Pow", {info(DataType::kINT32, {2, 3}), info(DataType::kFLOAT, {3})});
  EXPECT_EQ(out[0].type, DataType::kINT32);
  EXPECT_EQ(out[0].shape, (ir::Shape{2, 3}));
}

TEST(Add, BroadcastsRandomOddShapes) {
  Tensor a = randomTensor(DataType::kFLOAT, {5, 7, 3}, 1);
  Tensor b = randomTensor(DataType::kFLOAT, {7, 1}, 2);
  Tensor out = run1("Add", {a, b});
  ASSERT_EQ(out.shape(), (ir::Shape{5, 7, 3}));
  auto va = a.toDouble();
  auto vb = broadcastTo(b, out.shape());
  std::vector<double> want;
  for (size_t i = 0; i < va.size(); ++i) want.push_back(static_cast<float>(va[i]) + static_cast<float>(vb[i]));
  expectNear(out, want, 1e-6);
}

TEST(Add, PerChannelBiasOnNchw) {
  Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 5, 7}, 3);
  Tensor bias = floats({3, 1, 1}, {10, 20, 30});
  Tensor out = run1("Add", {x, bias});
  auto vx = x.toDouble();
  std::vector<double> want;
  for (size_t i = 0; i < vx.size(); ++i) want.push_back(vx[i] + 10.0 * static_cast<double>((i / 35) % 3 + 1));
  expectNear(out, want, 1e-5);
}

TEST(Sub, SameShapeAndScalarOperands) {
  Tensor a = randomTensor(DataType::kDOUBLE, {4, 9}, 4);
  Tensor b = randomTensor(DataType::kDOUBLE, {4, 9}, 5);
  Tensor s = make(DataType::kDOUBLE, {}, {0.25});
  auto va = a.toDouble(), vb = b.toDouble();
  std::vector<double> want, want_scalar_first;
  for (size_t i = 0; i < va.size(); ++i) {
    want.push_back(va[i] - vb[i]);
    want_scalar_first.push_back(0.25 - va[i]);
  }
  expectNear(run1("Sub", {a, b}), want, 0);
  expectNear(run1("Sub", {s, a}), want_scalar_first, 0);
}

TEST(Mul, IntegerOverflowWrapsAround) {
  expectValues(run1("Mul", {make(DataType::kINT32, {2}, {65536, -3}), make(DataType::kINT32, {2}, {65536, 7})}),
               {0, -21});
  expectValues(run1("Add", {make(DataType::kINT8, {2}, {120, -128}), make(DataType::kINT8, {2}, {10, -1})}),
               {-126, 127});
  expectValues(run1("Sub", {make(DataType::kUINT8, {1}, {3}), make(DataType::kUINT8, {1}, {5})}), {254});
}

TEST(Add, HalfComputesInFloatAndRoundsOnce) {
  // 1 + 2^-11 is exactly halfway between two halves: ties to even gives 1.
  Tensor a = make(DataType::kHALF, {2}, {1.0, 1.0});
  Tensor b = make(DataType::kHALF, {2}, {1.0 / 2048, 3.0 / 2048});
  expectNear(run1("Add", {a, b}), {1.0, 1.0 + 2.0 / 1024}, 0);
  Tensor c = make(DataType::kBF16, {1}, {3.0});
  expectNear(run1("Mul", {c, c}), {9.0}, 0);
}

TEST(Div, IntegersTruncateTowardZero) {
  expectValues(run1("Div", {make(DataType::kINT32, {4}, {-7, 7, -7, 9}), make(DataType::kINT32, {4}, {2, -2, -2, 3})}),
               {-3, -3, 3, 3});
  expectValues(run1("Div", {make(DataType::kUINT8, {2}, {250, 7}), make(DataType::kUINT8, {2}, {3, 8})}), {83, 0});
  // Integer division by zero is undefined in ONNX; it must not crash.
  expectValues(run1("Div", {make(DataType::kINT64, {1}, {5}), make(DataType::kINT64, {1}, {0})}), {0});
}

TEST(Div, FloatsFollowIeee) {
  Tensor out = run1("Div", {floats({3}, {1, -1, 6}), floats({3}, {0, 4, 3})});
  auto v = out.toDouble();
  EXPECT_TRUE(std::isinf(v[0]) && v[0] > 0);
  EXPECT_EQ(v[1], -0.25);
  EXPECT_EQ(v[2], 2.0);
}

TEST(Mod, IntegersTakeTheDivisorsSignByDefault) {
  Tensor a = make(DataType::kINT32, {4}, {-7, 7, -7, 7});
  Tensor b = make(DataType::kINT32, {4}, {3, -3, -3, 3});
  expectValues(run1("Mod", {a, b}), {2, -2, -1, 1});
  expectValues(run1("Mod", {a, b}, attrs({{"fmod", int64_t{1}}})), {-1, 1, -1, 1});
  expectValues(run1("Mod", {make(DataType::kUINT16, {2}, {65535, 10}), make(DataType::kUINT16, {2}, {10, 65535})}),
               {5, 10});
}

TEST(Mod, FloatsWithFmodAndPythonRule) {
  Tensor a = floats({3}, {-4.5, 4.5, 5.0});
  Tensor b = floats({3}, {2.0, -2.0, 2.5});
  expectNear(run1("Mod", {a, b}, attrs({{"fmod", int64_t{1}}})), {-0.5, 0.5, 0.0}, 1e-6);
  expectNear(run1("Mod", {a, b}), {1.5, -1.5, 0.0}, 1e-6);
}

TEST(Pow, FloatBaseWithAnyExponentType) {
  Tensor x = floats({2, 3}, {1, 2, 3, -2, 0.5, 4});
  expectNear(run1("Pow", {x, floats({3}, {2, 0.5, -1})}), {1, std::sqrt(2.0), 1.0 / 3, 4, std::sqrt(0.5), 0.25}, 1e-6);
  expectNear(run1("Pow", {x, Tensor::scalarInt64(3)}), {1, 8, 27, -8, 0.125, 64}, 1e-6);
}

TEST(Pow, IntegerBase) {
  Tensor x = make(DataType::kINT32, {4}, {3, -2, 2, 7});
  expectValues(run1("Pow", {x, make(DataType::kINT32, {4}, {4, 3, -1, 0})}), {81, -8, 0, 1});
  // A float exponent computes in floating point and truncates like Cast.
  expectValues(run1("Pow", {x, make(DataType::kFLOAT, {4}, {0.5, 2, 0.5, 1.5})}), {1, 4, 1, 18});
  expectValues(run1("Pow", {make(DataType::kINT64, {1}, {3}), Tensor::scalarInt64(40)}), {-6289078614652622815});
}

TEST(PRelu, BroadcastsSlopeToInput) {
  Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 2, 2}, 6);
  Tensor slope = floats({3, 1, 1}, {0.1, 0.2, 0.3});
  Tensor out = run1("PRelu", {x, slope});
  ASSERT_EQ(out.shape(), x.shape());
  auto vx = x.toDouble();
  std::vector<double> want;
  for (size_t i = 0; i < vx.size(); ++i) want.push_back(vx[i] < 0 ? vx[i] * 0.1 * static_cast<double>((i / 4) % 3 + 1) : vx[i]);
  expectNear(out, want, 1e-6);
  expectValues(run1("PRelu", {make(DataType::kINT32, {3}, {-4, 0, 5}), make(DataType::kINT32, {1}, {3})}), {-12, 0, 5});
}

TEST(PRelu, SlopeMustBroadcastToInput) {
  EXPECT_EQ(errorCode([] { infer("PRelu", {info(DataType::kFLOAT, {2, 3}), info(DataType::kFLOAT, {4})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("PRelu", {info(DataType::kFLOAT, {3}), info(DataType::kFLOAT, {2, 3})}); }), kInvalid);
  auto out = infer("PRelu", {info(DataType::kFLOAT, {ir::kFirstSymbol, 3, 4}), info(DataType::kFLOAT, {3, 1})});
  EXPECT_EQ(out[0].shape, (ir::Shape{ir::kFirstSymbol, 3, 4}));
}

TEST(Variadic, ShapesBroadcastOverAllInputs) {
  auto out = infer("Max", {info(DataType::kFLOAT, {3}), info(DataType::kFLOAT, {2, 1}), info(DataType::kFLOAT, {1, 1, 3})});
  EXPECT_EQ(out[0].shape, (ir::Shape{1, 2, 3}));
  EXPECT_EQ(errorCode([] { infer("Sum", {info(DataType::kINT32, {3}), info(DataType::kINT32, {3})}); }), kInvalid);
  EXPECT_EQ(errorCode([] { infer("Min", {info(DataType::kFLOAT, {3}), info(DataType::kFLOAT, {4})}); }), kInvalid);
}

TEST(Variadic, MinMaxBroadcastAndPropagateNaN) {
  Tensor a = floats({3}, {1, 5, kNaN});
  Tensor b = floats({2, 1}, {2, 4});
  Tensor c = floats({2, 3}, {0, 9, 3, 3, 0, 1});
  Tensor mx = run1("Max", {a, b, c});
  ASSERT_EQ(mx.shape(), (ir::Shape{2, 3}));
  auto v = mx.toDouble();
  EXPECT_EQ(v[0], 2);
  EXPECT_EQ(v[1], 9);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], 4);
  EXPECT_EQ(v[4], 5);
  EXPECT_TRUE(std::isnan(v[5]));
  v = run1("Min", {a, b, c}).toDouble();
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 2);
  EXPECT_EQ(v[3], 1);
  EXPECT_EQ(v[4], 0);
  expectValues(run1("Max", {make(DataType::kUINT64, {2}, {1, 7})}), {1, 7});
  expectValues(run1("Min", {make(DataType::kINT8, {2}, {-5, 7}), make(DataType::kINT8, {1}, {3})}), {-5, 3});
}

TEST(Variadic, SumAndMeanAccumulateInDouble) {
  Tensor a = randomTensor(DataType::kFLOAT, {3, 5}, 7);
  Tensor b = randomTensor(DataType::kFLOAT, {5}, 8);
  Tensor c = randomTensor(DataType::kFLOAT, {3, 1}, 9);
  auto va = a.toDouble(), vb = broadcastTo(b, {3, 5}), vc = broadcastTo(c, {3, 5});
  std::vector<double> sum, mean;
  for (size_t i = 0; i < va.size(); ++i) {
    sum.push_back(va[i] + vb[i] + vc[i]);
    mean.push_back(sum.back() / 3);
  }
  expectNear(run1("Sum", {a, b, c}), sum, 1e-6);
  expectNear(run1("Mean", {a, b, c}), mean, 1e-6);
  // 2048 + 1 + 1 in half: pairwise rounding would give 2048, the exact sum is 2050.
  Tensor h = make(DataType::kHALF, {1}, {2048});
  Tensor one = make(DataType::kHALF, {1}, {1});
  expectNear(run1("Sum", {h, one, one}), {2050}, 0);
}

TEST(Where, BroadcastsConditionAndBranches) {
  Tensor cond = make(DataType::kBOOL, {2, 1}, {1, 0});
  Tensor x = make(DataType::kINT64, {3}, {1, 2, 3});
  Tensor y = make(DataType::kINT64, {}, {-1});
  Tensor out = run1("Where", {cond, x, y});
  ASSERT_EQ(out.shape(), (ir::Shape{2, 3}));
  expectValues(out, {1, 2, 3, -1, -1, -1});
  EXPECT_EQ(errorCode([] { infer("Where", {info(DataType::kFLOAT, {2}), info(DataType::kFLOAT, {2}), info(DataType::kFLOAT, {2})}); }),
            kInvalid);
  auto shape = infer("Where", {info(DataType::kBOOL, {ir::kFirstSymbol, 1}), info(DataType::kHALF, {4}),
                               info(DataType::kHALF, {1, 4})});
  EXPECT_EQ(shape[0].shape, (ir::Shape{ir::kFirstSymbol, 4}));
  EXPECT_EQ(shape[0].type, DataType::kHALF);
}

}  // namespace
}  // namespace kiln::ew_test
