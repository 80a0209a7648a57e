// Shape rule and reference kernels of HannWindow, HammingWindow and BlackmanWindow.
#include <cmath>
#include <numbers>

#include "unit/ops/movement_test_util.h"

namespace kiln::mv_test {
namespace {

std::vector<double> expected(int64_t size, bool periodic, double a0, double a1, double a2) {
  const double n1 = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> w;
  for (int64_t i = 0; i < size; ++i) {
    const double x = 2.0 * std::numbers::pi * static_cast<double>(i) / n1;
    w.push_back(a0 - a1 * std::cos(x) + a2 * std::cos(2.0 * x));
  }
  return w;
}

void expectWindow(const Tensor& t, const std::vector<double>& want) {
  ASSERT_EQ(t.shape(), (Shape{static_cast<int64_t>(want.size())}));
  const std::vector<double> got = t.toDouble();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(SignalWindows, PeriodicAndSymmetricWindowsMatchTheirFormulas) {
  const Tensor size = Tensor::scalarInt64(10);
  expectWindow(run1("HannWindow", {size}), expected(10, true, 0.5, 0.5, 0));
  expectWindow(run1("HannWindow", {size}, attrs({{"periodic", int64_t{0}}})), expected(10, false, 0.5, 0.5, 0));
  expectWindow(run1("HammingWindow", {size}), expected(10, true, 25.0 / 46, 21.0 / 46, 0));
  expectWindow(run1("BlackmanWindow", {size}, attrs({{"periodic", int64_t{0}}})), expected(10, false, 0.42, 0.5, 0.08));
  const Tensor as_double = run1("HannWindow", {size}, attrs({{"output_datatype", int64_t{11}}}));
  EXPECT_EQ(as_double.type(), DataType::kDOUBLE);
}

TEST(SignalWindows, TheLengthFollowsFromTheSizeValue) {
  EXPECT_EQ(inferShape("HannWindow", {known(Tensor::scalarInt64(7))}), (Shape{7}));
  EXPECT_EQ(inferShape("HannWindow", {In{DataType::kINT64, {}}}), (Shape{ir::kUnknownDim}));
  EXPECT_EQ(errorCode([] { inferShape("HammingWindow", {known(Tensor::scalarInt64(-1))}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(errorCode([] { inferShape("BlackmanWindow", {In{DataType::kFLOAT, {}}}); }), ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace kiln::mv_test
