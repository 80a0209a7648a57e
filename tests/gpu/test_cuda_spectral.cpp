// cuda.spectral against the reference: DFT forward and inverse, one-sided both ways, real and
// complex input, dft_length shorter and longer than the signal, the axis as an attribute
// (opset 19) and as an input (opset 20), at odd lengths; STFT with and without a window. In
// float, half and double (half's tolerance covers its rounding of the sums).
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

TEST(CudaSpectral, DftEveryVariant) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor len5 = ir::Tensor::fromInt64({}, Ints{5}), len12 = ir::Tensor::fromInt64({}, Ints{12});
  const ir::Tensor axis1 = ir::Tensor::fromInt64({}, Ints{1}), axis2 = ir::Tensor::fromInt64({}, Ints{2});
  for (DataType t : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF})
    for (int64_t c : {1, 2})
      for (int64_t inverse : {0, 1})
        for (int64_t onesided : {0, 1}) {
          // A one-sided forward transform takes a real signal, a one-sided inverse a complex half spectrum.
          if (onesided && (inverse ? c == 1 : c == 2)) continue;
          SCOPED_TRACE(std::string(toString(t)) + " c " + std::to_string(c) + " inverse " + std::to_string(inverse) +
                       " onesided " + std::to_string(onesided));
          const ir::Graph a = testing::makeNodeGraph("DFT", {in("x", t, {2, 9, 3, c})},
                                                     attrsOf({{"inverse", inverse}, {"onesided", onesided}}), 1, 19);
          gputest::expectAllPass("cuda.spectral", a, t);
          for (const ir::Tensor* len : {&len5, &len12})
            for (const ir::Tensor* axis : {&axis1, &axis2}) {
              const ir::Graph b = testing::makeNodeGraph(
                  "DFT", {in("x", t, {2, 7, 6, c}), gputest::ints("n", *len), gputest::ints("axis", *axis)},
                  attrsOf({{"inverse", inverse}, {"onesided", onesided}}), 1, 20);
              gputest::expectAllPass("cuda.spectral", b, t);
            }
        }
}

TEST(CudaSpectral, StftWithAndWithoutWindow) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor step = ir::Tensor::fromInt64({}, Ints{3}), frame = ir::Tensor::fromInt64({}, Ints{8});
  for (DataType t : {DataType::kFLOAT, DataType::kDOUBLE})
    for (int64_t c : {1, 2}) {
      SCOPED_TRACE(std::string(toString(t)) + " c " + std::to_string(c));
      const int64_t onesided = c == 1 ? 1 : 0;  // one-sided spectra are of real signals only
      const ir::Graph windowed =
          testing::makeNodeGraph("STFT", {in("x", t, {2, 29, c}), gputest::ints("step", step), in("window", t, {8})},
                                 attrsOf({{"onesided", onesided}}), 1, 17);
      gputest::expectAllPass("cuda.spectral", windowed, t);
      const ir::Graph plain = testing::makeNodeGraph("STFT",
                                                     {in("x", t, {2, 29, c}), gputest::ints("step", step),
                                                      testing::NodeInput{.name = ""}, gputest::ints("frame", frame)},
                                                     attrsOf({{"onesided", onesided}}), 1, 17);
      gputest::expectAllPass("cuda.spectral", plain, t);
    }
}

}  // namespace
}  // namespace kiln
