#include <gtest/gtest.h>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::randomTensor;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

std::vector<int64_t> unravel(int64_t i, const Ints& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

int64_t volume(const Ints& s, size_t from = 0) {
  int64_t v = 1;
  for (size_t i = from; i < s.size(); ++i) v *= s[i];
  return v;
}

// Direct definition of Conv: y[n, oc, o] = b[oc] + sum_{ic in group, k} x[n, ic, o*s - pb + k*d] w[oc, ic, k].
std::vector<double> naiveConv(const ir::Tensor& x, const ir::Tensor& w, const std::vector<double>& b, const Ints& strides,
                              const Ints& dil, const Ints& pads_begin, const Ints& out_sp, int64_t group) {
  const Ints xs = x.shape(), ws = w.shape();
  const Ints in_sp(xs.begin() + 2, xs.end()), k_sp(ws.begin() + 2, ws.end());
  const int64_t oc_total = ws[0], cg = ws[1], ocg = oc_total / group;
  const std::vector<double> xv = x.toDouble(), wv = w.toDouble();
  std::vector<double> y(xs[0] * oc_total * volume(out_sp));
  int64_t at = 0;
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t oc = 0; oc < oc_total; ++oc)
      for (int64_t p = 0; p < volume(out_sp); ++p, ++at) {
        const Ints o = unravel(p, out_sp);
        double acc = b.empty() ? 0.0 : b[oc];
        for (int64_t ic = 0; ic < cg; ++ic)
          for (int64_t q = 0; q < volume(k_sp); ++q) {
            const Ints k = unravel(q, k_sp);
            int64_t flat = 0;
            bool inside = true;
            for (size_t d = 0; d < in_sp.size(); ++d) {
              const int64_t c = o[d] * strides[d] - pads_begin[d] + k[d] * dil[d];
              inside = inside && c >= 0 && c < in_sp[d];
              flat = flat * in_sp[d] + c;
            }
            if (!inside) continue;
            const int64_t channel = (oc / ocg) * cg + ic;
            acc += xv[(n * xs[1] + channel) * volume(in_sp) + flat] * wv[(oc * cg + ic) * volume(k_sp) + q];
          }
        y[at] = acc;
      }
  return y;
}

// Direct definition of ConvTranspose: scatter x[n, ic, i] w[ic, oc, k] to y[n, oc, i*s - pb + k*d].
std::vector<double> naiveConvTranspose(const ir::Tensor& x, const ir::Tensor& w, const Ints& strides, const Ints& dil,
                                       const Ints& pads_begin, const Ints& out_sp, int64_t group) {
  const Ints xs = x.shape(), ws = w.shape();
  const Ints in_sp(xs.begin() + 2, xs.end()), k_sp(ws.begin() + 2, ws.end());
  const int64_t cg = xs[1] / group, ocg = ws[1], oc_total = ocg * group;
  const std::vector<double> xv = x.toDouble(), wv = w.toDouble();
  std::vector<double> y(xs[0] * oc_total * volume(out_sp), 0.0);
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t ic = 0; ic < xs[1]; ++ic)
      for (int64_t p = 0; p < volume(in_sp); ++p) {
        const Ints i = unravel(p, in_sp);
        for (int64_t oc = 0; oc < ocg; ++oc)
          for (int64_t q = 0; q < volume(k_sp); ++q) {
            const Ints k = unravel(q, k_sp);
            int64_t flat = 0;
            bool inside = true;
            for (size_t d = 0; d < in_sp.size(); ++d) {
              const int64_t c = i[d] * strides[d] - pads_begin[d] + k[d] * dil[d];
              inside = inside && c >= 0 && c < out_sp[d];
              flat = flat * out_sp[d] + c;
            }
            if (!inside) continue;
            const int64_t channel = (ic / cg) * ocg + oc;
            y[(n * oc_total + channel) * volume(out_sp) + flat] +=
                xv[(n * xs[1] + ic) * volume(in_sp) + p] * wv[(ic * ocg + oc) * volume(k_sp) + q];
          }
      }
  return y;
}

TEST(ConvShape, KeepsSymbolicBatchAndComputesSpatialDims) {
  auto out = nn_testing::infer("Conv", {info(DataType::kFLOAT, {-2, 6, 11, 10}), info(DataType::kFLOAT, {4, 3, 3, 2})},
                               attrsOf("Conv", {{"group", int64_t{2}}, {"strides", Ints{2, 1}},
                                                {"pads", Ints{1, 0, 1, 1}}, {"dilations", Ints{1, 2}}}));
  EXPECT_EQ(out[0].shape, (Ints{-2, 4, 6, 9}));
}

TEST(ConvShape, UnknownSpatialDimStaysUnknown) {
  auto out = nn_testing::infer("Conv", {info(DataType::kFLOAT, {1, 3, -1, 8}), info(DataType::kFLOAT, {5, 3, 3, 3})},
                               attrsOf("Conv", {}));
  EXPECT_EQ(out[0].shape, (Ints{1, 5, -1, 6}));
}

TEST(ConvShape, AutoPadSameAndValid) {
  auto same = nn_testing::infer("Conv", {info(DataType::kFLOAT, {1, 1, 7, 8}), info(DataType::kFLOAT, {2, 1, 3, 3})},
                                attrsOf("Conv", {{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{2, 2}}}));
  EXPECT_EQ(same[0].shape, (Ints{1, 2, 4, 4}));
  auto valid = nn_testing::infer("Conv", {info(DataType::kFLOAT, {1, 1, 7, 8}), info(DataType::kFLOAT, {2, 1, 3, 3})},
                                 attrsOf("Conv", {{"auto_pad", std::string("VALID")}, {"strides", Ints{2, 2}}}));
  EXPECT_EQ(valid[0].shape, (Ints{1, 2, 3, 3}));
}

TEST(ConvShape, RejectsInconsistentChannelsAndRanks) {
  const int invalid = static_cast<int>(ErrorCode::kInvalidModel);
  EXPECT_EQ(nn_testing::inferError("Conv", {info(DataType::kFLOAT, {1, 4, 5, 5}), info(DataType::kFLOAT, {2, 3, 3, 3})},
                                   attrsOf("Conv", {})),
            invalid);
  EXPECT_EQ(nn_testing::inferError("Conv", {info(DataType::kFLOAT, {1, 3, 5, 5}), info(DataType::kFLOAT, {2, 3, 3})},
                                   attrsOf("Conv", {})),
            invalid);
  EXPECT_EQ(nn_testing::inferError("Conv", {info(DataType::kFLOAT, {1, 3, 2, 2}), info(DataType::kFLOAT, {2, 3, 3, 3})},
                                   attrsOf("Conv", {})),
            invalid);
  EXPECT_EQ(nn_testing::inferError("Conv",
                                   {info(DataType::kFLOAT, {1, 3, 5, 5}), info(DataType::kFLOAT, {2, 3, 3, 3}),
                                    info(DataType::kFLOAT, {3})},
                                   attrsOf("Conv", {})),
            invalid);
  EXPECT_EQ(nn_testing::inferError("Conv", {info(DataType::kFLOAT, {1, 3, 5, 5}), info(DataType::kFLOAT, {2, 3, 3, 3})},
                                   attrsOf("Conv", {{"pads", Ints{1, 1}}})),
            invalid);
}

TEST(ConvShape, IntegerInputIsUnsupported) {
  EXPECT_EQ(nn_testing::inferError("Conv", {info(DataType::kINT32, {1, 3, 5, 5}), info(DataType::kINT32, {2, 3, 3, 3})},
                                   attrsOf("Conv", {})),
            static_cast<int>(ErrorCode::kUnsupported));
}

TEST(Conv, MatchesOnnxBasicExampleWithPadding) {
  std::vector<double> x(25);
  for (int i = 0; i < 25; ++i) x[i] = i;
  auto y = runNode("Conv", {tensorOf({1, 1, 5, 5}, x), tensorOf({1, 1, 3, 3}, std::vector<double>(9, 1.0))},
                   attrsOf("Conv", {{"pads", Ints{1, 1, 1, 1}}}));
  expectNear(y[0], {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84},
             1e-6);
}

struct ConvCase {
  Ints x, w;
  Ints strides, dil, pads;  // pads: begin..., end...
  int64_t group;
  bool bias;
};

void checkConv(const ConvCase& c, DataType type, double tol, uint32_t seed) {
  const size_t nd = c.x.size() - 2;
  ir::Tensor x = randomTensor(type, c.x, seed);
  ir::Tensor w = randomTensor(type, c.w, seed + 1);
  ir::Tensor b = randomTensor(type, {c.w[0]}, seed + 2);
  std::vector<ir::Tensor> inputs{x, w};
  if (c.bias) inputs.push_back(b);
  auto y = runNode("Conv", inputs,
                   attrsOf("Conv", {{"strides", c.strides}, {"dilations", c.dil}, {"pads", c.pads}, {"group", c.group}}));
  Ints out_sp;
  for (size_t d = 0; d < nd; ++d)
    out_sp.push_back((c.x[d + 2] + c.pads[d] + c.pads[d + nd] - (c.w[d + 2] - 1) * c.dil[d] - 1) / c.strides[d] + 1);
  Ints want_shape{c.x[0], c.w[0]};
  want_shape.insert(want_shape.end(), out_sp.begin(), out_sp.end());
  ASSERT_EQ(y[0].shape(), want_shape);
  const Ints pads_begin(c.pads.begin(), c.pads.begin() + nd);
  expectNear(y[0], naiveConv(x, w, c.bias ? b.toDouble() : std::vector<double>{}, c.strides, c.dil, pads_begin, out_sp, c.group),
             tol);
}

TEST(Conv, RandomCasesMatchDirectDefinition) {
  const std::vector<ConvCase> cases{
      {{1, 3, 7, 9}, {5, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, true},
      {{2, 4, 11, 6}, {6, 2, 3, 2}, {2, 1}, {1, 2}, {1, 0, 2, 1}, 2, true},           // group, dilation, asymmetric pads
      {{1, 6, 9, 9}, {6, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 6, false},           // depthwise
      {{1, 5, 13}, {7, 5, 4}, {3}, {2}, {2, 1}, 1, true},                             // 1-D
      {{1, 2, 5, 4, 6}, {3, 2, 2, 3, 2}, {1, 2, 1}, {2, 1, 1}, {0, 1, 1, 1, 0, 1}, 1, true},  // 3-D
      {{1, 17, 5, 5}, {9, 17, 1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, true},          // 1x1, odd channels
      {{1, 3, 40, 37}, {8, 3, 7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, 1, true},          // several pixel tiles
  };
  uint32_t seed = 10;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "x " << toString(c.x) << " w " << toString(c.w));
    checkConv(c, DataType::kFLOAT, 1e-5, seed += 3);
  }
}

TEST(Conv, DoubleAndHalfTypes) {
  const ConvCase c{{1, 4, 6, 5}, {4, 2, 3, 3}, {1, 2}, {1, 1}, {1, 1, 0, 1}, 2, true};
  checkConv(c, DataType::kDOUBLE, 1e-12, 3);
  checkConv(c, DataType::kHALF, 4e-3, 4);
}

TEST(Conv, AutoPadSameUpperPutsExtraPadAtEnd) {
  // 1-D, input 4, kernel 2, stride 1: total pad 1 goes at the end with SAME_UPPER, start with SAME_LOWER.
  const ir::Tensor x = tensorOf({1, 1, 4}, {1, 2, 3, 4});
  const ir::Tensor w = tensorOf({1, 1, 2}, {1, 10});
  auto upper = runNode("Conv", {x, w}, attrsOf("Conv", {{"auto_pad", std::string("SAME_UPPER")}}));
  expectNear(upper[0], {21, 32, 43, 4}, 1e-6);
  auto lower = runNode("Conv", {x, w}, attrsOf("Conv", {{"auto_pad", std::string("SAME_LOWER")}}));
  expectNear(lower[0], {10, 21, 32, 43}, 1e-6);
}

TEST(ConvTransposeShape, OutputPaddingAndSymbolicBatch) {
  auto out = nn_testing::infer(
      "ConvTranspose", {info(DataType::kFLOAT, {-2, 1, 3, 3}), info(DataType::kFLOAT, {1, 2, 3, 3})},
      attrsOf("ConvTranspose", {{"strides", Ints{3, 2}}, {"output_padding", Ints{1, 1}}}));
  EXPECT_EQ(out[0].shape, (Ints{-2, 2, 10, 8}));
}

TEST(ConvTransposeShape, OutputShapeAttributeWins) {
  auto out = nn_testing::infer("ConvTranspose", {info(DataType::kFLOAT, {1, 4, 3, 3}), info(DataType::kFLOAT, {4, 3, 3, 3})},
                               attrsOf("ConvTranspose", {{"strides", Ints{3, 2}}, {"output_shape", Ints{10, 8}},
                                                         {"group", int64_t{2}}}));
  EXPECT_EQ(out[0].shape, (Ints{1, 6, 10, 8}));
}

TEST(ConvTransposeShape, RejectsChannelMismatch) {
  EXPECT_EQ(nn_testing::inferError("ConvTranspose",
                                   {info(DataType::kFLOAT, {1, 3, 3, 3}), info(DataType::kFLOAT, {2, 3, 3, 3})},
                                   attrsOf("ConvTranspose", {})),
            static_cast<int>(ErrorCode::kInvalidModel));
}

struct ConvTCase {
  Ints x, w, strides, dil, pads, output_padding;
  int64_t group;
};

TEST(ConvTranspose, RandomCasesMatchScatterDefinition) {
  const std::vector<ConvTCase> cases{
      {{1, 2, 3, 4}, {2, 3, 3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, {0, 0}, 1},
      {{2, 4, 5, 3}, {4, 2, 3, 2}, {2, 3}, {1, 2}, {1, 0, 0, 2}, {1, 2}, 2},
      {{1, 3, 7}, {3, 5, 4}, {3}, {1}, {2, 1}, {1}, 1},
      {{1, 2, 3, 2, 3}, {2, 2, 2, 2, 3}, {2, 1, 2}, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {1, 0, 0}, 1},
      {{1, 5, 9, 9}, {5, 7, 4, 4}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {0, 0}, 1},
  };
  uint32_t seed = 100;
  for (const ConvTCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "x " << toString(c.x) << " w " << toString(c.w));
    const size_t nd = c.x.size() - 2;
    ir::Tensor x = randomTensor(DataType::kFLOAT, c.x, seed++);
    ir::Tensor w = randomTensor(DataType::kFLOAT, c.w, seed++);
    ir::Tensor b = randomTensor(DataType::kFLOAT, {c.w[1] * c.group}, seed++);
    auto y = runNode("ConvTranspose", {x, w, b},
                     attrsOf("ConvTranspose", {{"strides", c.strides}, {"dilations", c.dil}, {"pads", c.pads},
                                               {"output_padding", c.output_padding}, {"group", c.group}}));
    Ints out_sp;
    for (size_t d = 0; d < nd; ++d)
      out_sp.push_back(c.strides[d] * (c.x[d + 2] - 1) + c.output_padding[d] + (c.w[d + 2] - 1) * c.dil[d] + 1 -
                       c.pads[d] - c.pads[d + nd]);
    std::vector<double> want = naiveConvTranspose(x, w, c.strides, c.dil, Ints(c.pads.begin(), c.pads.begin() + nd),
                                                  out_sp, c.group);
    const std::vector<double> bias = b.toDouble();
    const int64_t per_channel = volume(out_sp);
    for (size_t i = 0; i < want.size(); ++i) want[i] += bias[(i / per_channel) % bias.size()];
    expectNear(y[0], want, 1e-5);
  }
}

TEST(ConvTranspose, OutputShapeLargerThanFullOutputPadsAtEnd) {
  // ONNX test_convtranspose_output_shape geometry in 1-D: input 3, kernel 3, stride 3, output 10:
  // the full output is 9 wide; the 10th element gets nothing but the bias.
  const ir::Tensor x = tensorOf({1, 1, 3}, {1, 2, 3});
  const ir::Tensor w = tensorOf({1, 1, 3}, {1, 1, 1});
  auto y = runNode("ConvTranspose", {x, w}, attrsOf("ConvTranspose", {{"strides", Ints{3}}, {"output_shape", Ints{10}}}));
  expectNear(y[0], {1, 1, 1, 2, 2, 2, 3, 3, 3, 0}, 1e-6);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(Conv, EmptyBatchGivesEmptyOutput) {
  auto y = nn_testing::runNode("Conv", {ir::Tensor(DataType::kFLOAT, {0, 2, 4, 4}), nn_testing::randomTensor(DataType::kFLOAT, {3, 2, 3, 3}, 1)},
                               nn_testing::attrsOf("Conv", {}));
  EXPECT_EQ(y[0].shape(), (std::vector<int64_t>{0, 3, 2, 2}));
}

}  // namespace
}  // namespace kiln
