// DFT and STFT reference kernels and shape rules against transforms worked out by hand:
// x = [1, 2, 3, 4] has the spectrum [10, -2 + 2i, -2, -2 - 2i].
#include <gtest/gtest.h>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::infer;
using nn_testing::info;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

//! runNode with the inputs at `absent` left out.
std::vector<ir::Tensor> runWithAbsent(const std::string& op, const std::vector<ir::Tensor>& inputs,
                                      const std::vector<int>& absent, const ir::Attributes& attrs, int opset) {
  return testing::runNodeOutputs(op, testing::optionalInputs(inputs, absent), attrs, 1, opset);
}

TEST(DFT, ForwardOnesidedInverseAndLength) {
  const ir::Tensor x = tensorOf({1, 4, 1}, {1, 2, 3, 4});
  const ir::Tensor axis = ir::Tensor::fromInt64({}, Ints{1});
  auto full = runWithAbsent("DFT", {x, ir::Tensor(), axis}, {1}, attrsOf("DFT", {}), 20);
  expectNear(full[0], {10, 0, -2, 2, -2, 0, -2, -2}, 1e-9);
  auto half = runNode("DFT", {x}, attrsOf("DFT", {{"onesided", int64_t{1}}}), 1, 19);  // axis attribute 1
  EXPECT_EQ(half[0].shape(), (ir::Shape{1, 3, 2}));
  expectNear(half[0], {10, 0, -2, 2, -2, 0}, 1e-9);
  auto back = runNode("DFT", {full[0]}, attrsOf("DFT", {{"inverse", int64_t{1}}}), 1, 19);
  expectNear(back[0], {1, 0, 2, 0, 3, 0, 4, 0}, 1e-9);
  auto real = runNode("DFT", {half[0]}, attrsOf("DFT", {{"inverse", int64_t{1}}, {"onesided", int64_t{1}}}), 1, 19);
  EXPECT_EQ(real[0].shape(), (ir::Shape{1, 4, 1}));
  expectNear(real[0], {1, 2, 3, 4}, 1e-9);
  auto cut = runNode("DFT", {x, ir::Tensor::fromInt64({}, Ints{2}), axis}, attrsOf("DFT", {}), 1, 20);
  EXPECT_EQ(cut[0].shape(), (ir::Shape{1, 2, 2}));
  expectNear(cut[0], {3, 0, -1, 0}, 1e-9);
}

TEST(DFT, UnknownAxisLeavesTheSignalDimsUnknown) {
  // dft_length and axis given at run time: which dim changes, and to what, is not known.
  auto out =
      infer("DFT", {info(DataType::kFLOAT, {2, 8, 6, 1}), info(DataType::kINT64, {}), info(DataType::kINT64, {})},
            attrsOf("DFT", {}), 1, 20);
  EXPECT_EQ(out[0].shape, (Ints{2, -1, -1, 2}));
}

TEST(STFT, FramesWithAndWithoutAWindow) {
  const ir::Tensor x = tensorOf({1, 6, 1}, {1, 2, 3, 4, 5, 6});
  const ir::Tensor step = ir::Tensor::fromInt64({}, Ints{2});
  auto plain =
      runWithAbsent("STFT", {x, step, ir::Tensor(), ir::Tensor::fromInt64({}, Ints{4})}, {2}, attrsOf("STFT", {}), 17);
  EXPECT_EQ(plain[0].shape(), (ir::Shape{1, 2, 3, 2}));
  expectNear(plain[0], {10, 0, -2, 2, -2, 0, 18, 0, -2, 2, -2, 0}, 1e-9);
  auto windowed = runNode("STFT", {x, step, tensorOf({4}, {0, 1, 1, 0})}, attrsOf("STFT", {}), 1, 17);
  expectNear(windowed[0], {5, 0, -3, -2, 1, 0, 9, 0, -5, -4, 1, 0}, 1e-9);
}

}  // namespace
}  // namespace kiln
