// FusedConv (domain "kiln"): its shape rule (Conv's, plus the residual and the epilogue
// attributes), and its reference kernel against the composition written out here: the Conv
// reference, then bias-free epilogue math in double (residual, then the activation). Layout
// NHWC (depthwise included, as the channels-last step makes it for MobileNet-class networks)
// computes the NCHW result, permuted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "unit/ops/linalg_test_util.h"

namespace kiln::testing {
namespace {

using ir::Shape;
using ir::Tensor;
using Ints = std::vector<int64_t>;

const char* const kActivations[] = {"none", "relu", "clip", "silu", "hardswish", "sigmoid"};

double activate(const std::string& act, double x, double lo, double hi) {
  const double sigmoid = 1.0 / (1.0 + std::exp(-x));
  if (act == "relu") return std::max(x, 0.0);
  if (act == "clip") return std::min(std::max(x, lo), hi);
  if (act == "silu") return x * sigmoid;
  if (act == "hardswish") return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0);
  if (act == "sigmoid") return sigmoid;
  return x;
}

ir::Attributes epilogueAttrs(ir::Attributes a, const std::string& act, float lo = -0.25f, float hi = 0.5f) {
  a.set("activation", act);
  if (act == "clip") {
    a.set("min", lo);
    a.set("max", hi);
  }
  return a;
}

Shape fusedShape(std::vector<ir::TensorInfo> inputs, ir::Attributes a = {}) {
  return inferShapes("FusedConv", inputs, std::move(a))[0].shape;
}

TEST(FusedConvShape, IsConvsShapeAndKeepsSymbols) {
  const int64_t batch = ir::kFirstSymbol;
  EXPECT_EQ(fusedShape({info(DataType::kFLOAT, {batch, 3, 7, 9}), info(DataType::kFLOAT, {5, 3, 3, 3}),
                        info(DataType::kFLOAT, {5})},
                       attrs({{"pads", Ints{1, 1, 1, 1}}, {"activation", std::string("relu")}})),
            (Shape{batch, 5, 7, 9}));
  // The residual's known dims refine Y's unknown batch.
  EXPECT_EQ(fusedShape({info(DataType::kFLOAT, {ir::kUnknownDim, 4, 9, 8}), info(DataType::kFLOAT, {6, 2, 3, 3}),
                        info(DataType::kFLOAT, {6}), info(DataType::kFLOAT, {2, 6, 4, 3})},
                       attrs({{"group", int64_t{2}}, {"strides", Ints{2, 2}}})),
            (Shape{2, 6, 4, 3}));
  // 1-D.
  EXPECT_EQ(fusedShape({info(DataType::kHALF, {2, 3, 17}), info(DataType::kHALF, {5, 3, 3})},
                       attrs({{"activation", std::string("silu")}})),
            (Shape{2, 5, 15}));
}

TEST(FusedConvShape, RejectsBadOperandsNamingTheNode) {
  auto error = [](std::vector<ir::TensorInfo> inputs, ir::Attributes a = {}) {
    try {
      fusedShape(std::move(inputs), std::move(a));
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("FusedConv"), std::string::npos) << e.what();
      return static_cast<int>(e.code());
    }
    return 0;
  };
  const int invalid = static_cast<int>(ErrorCode::kInvalidModel);
  const ir::TensorInfo x = info(DataType::kFLOAT, {1, 3, 7, 9}), w = info(DataType::kFLOAT, {5, 3, 3, 3});
  const ir::TensorInfo b = info(DataType::kFLOAT, {5});
  EXPECT_EQ(error({x, info(DataType::kFLOAT, {5, 4, 3, 3})}), invalid);        // channels
  EXPECT_EQ(error({x, w, info(DataType::kFLOAT, {4})}), invalid);              // bias
  EXPECT_EQ(error({x, w, b, info(DataType::kFLOAT, {1, 5, 5, 1})}), invalid);  // R broadcasts
  EXPECT_EQ(error({x, w, b, info(DataType::kFLOAT, {5, 5, 7})}), invalid);     // R's rank
  EXPECT_EQ(error({x, w, b, info(DataType::kHALF, {1, 5, 5, 7})}), invalid);   // R's type
  EXPECT_EQ(error({x, w}, attrs({{"activation", std::string("gelu")}})), invalid);
  EXPECT_EQ(error({x, w, b, info(DataType::kFLOAT, {1, 5, 5, 7})}), 0);
}

struct Case {
  Ints x, w;
  std::map<std::string, ir::AttributeValue> attrs;
};

const Case kCases[] = {
    {{1, 3, 7, 9}, {5, 3, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
    {{2, 4, 9, 8}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"strides", Ints{2, 1}}, {"pads", Ints{1, 0, 1, 2}}}},
    {{1, 5, 5, 5}, {7, 5, 1, 1}, {}},                                                                // pointwise
    {{2, 6, 6, 7}, {6, 1, 3, 3}, {{"group", int64_t{6}}, {"auto_pad", std::string("SAME_UPPER")}}},  // depthwise
    {{2, 3, 17}, {5, 3, 3}, {{"dilations", Ints{2}}}},                                               // 1-D
};

TEST(FusedConvReference, EqualsConvThenTheEpilogue) {
  uint32_t seed = 1;
  for (const Case& c : kCases)
    for (const char* act : kActivations)
      for (int extras = 0; extras < 4; ++extras) {
        const bool with_bias = extras & 1, with_residual = extras & 2;
        const Tensor x = randomTensor(DataType::kFLOAT, c.x, seed++, -2, 2);
        const Tensor w = randomTensor(DataType::kFLOAT, c.w, seed++);
        const Tensor bias = randomTensor(DataType::kFLOAT, {c.w[0]}, seed++);
        std::vector<std::optional<Tensor>> conv_inputs = {x, w};
        if (with_bias) conv_inputs.push_back(bias);
        const Tensor conv = runNodeOutputs("Conv", conv_inputs, attrsFromMap(c.attrs))[0];
        const Tensor residual = randomTensor(DataType::kFLOAT, conv.shape(), seed++);
        std::vector<std::optional<Tensor>> inputs = {x, w};
        inputs.push_back(with_bias ? std::optional<Tensor>(bias) : std::nullopt);
        if (with_residual) inputs.push_back(residual);
        SCOPED_TRACE(toString(c.x) + " " + act + " bias=" + std::to_string(with_bias) +
                     " residual=" + std::to_string(with_residual));
        const Tensor got = runNodeOutputs("FusedConv", inputs, epilogueAttrs(attrsFromMap(c.attrs), act))[0];
        ASSERT_EQ(got.shape(), conv.shape());
        std::vector<double> want = conv.toDouble();
        for (size_t i = 0; i < want.size(); ++i)
          want[i] = activate(act, want[i] + (with_residual ? residual.at(static_cast<int64_t>(i)) : 0.0), -0.25, 0.5);
        expectNear(got, want, 1e-5, "FusedConv", /*relative=*/true);
      }
}

TEST(FusedConvReference, ClipWithOneBoundOrCrossedBounds) {
  const Tensor x = randomTensor(DataType::kFLOAT, {1, 3, 6, 5}, 3, -2, 2),
               w = randomTensor(DataType::kFLOAT, {4, 3, 3, 3}, 4);
  const Tensor conv = runNodeOutputs("Conv", {x, w})[0];
  const std::vector<double> y = conv.toDouble();
  // Only max (min defaults to -inf): ReLU-less cap.
  ir::Attributes only_max = attrs({{"activation", std::string("clip")}, {"max", 0.1f}});
  std::vector<double> want(y.size());
  std::transform(y.begin(), y.end(), want.begin(), [](double v) { return std::min(v, static_cast<double>(0.1f)); });
  expectNear(runNodeOutputs("FusedConv", {x, w}, only_max)[0], want, 1e-6, "clip max");
  // min > max gives max everywhere, as ONNX Clip.
  ir::Attributes crossed = attrs({{"activation", std::string("clip")}, {"min", 1.0f}, {"max", 0.5f}});
  expectNear(runNodeOutputs("FusedConv", {x, w}, crossed)[0], std::vector<double>(y.size(), 0.5), 1e-6, "crossed");
}

TEST(FusedConvReference, RunsInFloat16AndBFloat16) {
  for (DataType t : {DataType::kHALF, DataType::kBF16}) {
    const Tensor x = randomTensor(t, {2, 3, 5, 6}, 3), w = randomTensor(t, {4, 3, 3, 3}, 4);
    const Tensor bias = randomTensor(t, {4}, 5);
    const Tensor conv = runNodeOutputs("Conv", {x, w, bias}, attrs({{"pads", Ints{1, 1, 1, 1}}}))[0];
    const Tensor residual = randomTensor(t, conv.shape(), 6);
    const Tensor got = runNodeOutputs("FusedConv", {x, w, bias, residual},
                                      attrs({{"pads", Ints{1, 1, 1, 1}}, {"activation", std::string("silu")}}))[0];
    EXPECT_EQ(got.type(), t);
    std::vector<double> want = conv.toDouble();
    for (size_t i = 0; i < want.size(); ++i)
      want[i] = activate("silu", want[i] + residual.at(static_cast<int64_t>(i)), 0, 0);
    expectNear(got, want, 2e-2, "16-bit", /*relative=*/true);
  }
}

// Channels last: X, W (KRSC: depthwise [C, R, S, 1]), R and Y permuted, the same values.
TEST(FusedConvReference, ChannelsLastIsTheNchwResultPermuted) {
  auto permute = [](const Tensor& t, const Ints& perm) {
    return runNodeOutputs("Transpose", {t}, attrs({{"perm", perm}}))[0];
  };
  const Ints to_nhwc = {0, 2, 3, 1};
  const Case cases[] = {
      {{2, 16, 9, 7}, {16, 1, 3, 3}, {{"group", int64_t{16}}, {"strides", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 1}}}},
      {{1, 24, 7, 8}, {24, 1, 5, 5}, {{"group", int64_t{24}}, {"pads", Ints{2, 2, 2, 2}}}},
      {{1, 8, 6, 5}, {16, 8, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
  };
  uint32_t seed = 40;
  for (DataType t : {DataType::kFLOAT, DataType::kHALF})
    for (const Case& c : cases)
      for (const char* act : {"relu", "clip", "silu"}) {
        SCOPED_TRACE(std::string(toString(t)) + " " + toString(c.x) + " " + act);
        const Tensor x = randomTensor(t, c.x, seed++), w = randomTensor(t, c.w, seed++);
        const Tensor bias = randomTensor(t, {c.w[0]}, seed++);
        const ir::Attributes a = epilogueAttrs(attrsFromMap(c.attrs), act);
        const Tensor nchw = runNodeOutputs("FusedConv", {x, w, bias}, a)[0];
        const Tensor residual = randomTensor(t, nchw.shape(), seed++);
        const Tensor want = permute(runNodeOutputs("FusedConv", {x, w, bias, residual}, a)[0], to_nhwc);
        ir::Attributes channels_last = a;
        channels_last.set("layout", std::string("NHWC"));
        const Tensor got =
            runNodeOutputs("FusedConv", {permute(x, to_nhwc), permute(w, to_nhwc), bias, permute(residual, to_nhwc)},
                           channels_last)[0];
        ASSERT_EQ(got.shape(), want.shape());
        expectNear(got, want.toDouble(), 0, "NHWC");
      }
}

}  // namespace
}  // namespace kiln::testing
