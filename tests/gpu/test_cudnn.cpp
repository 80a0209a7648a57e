// The "cudnn" provider against the CPU reference: every engine configuration offered must
// pass. 2-D Conv at odd sizes with strides, pads, dilations, groups, auto_pad, 1x1 kernels,
// with and without bias, constant and runtime weights, in fp32, tf32, fp16 and bf16.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "backends/backend.h"
#include "backends/cuda/cudnn/conv_graph.h"
#include "support/op_test.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using Ints = std::vector<int64_t>;

ir::Attributes attrsOf(std::map<std::string, ir::AttributeValue> values) { return testing::attrsFromMap(values); }

//! Every candidate of `provider` passes against the reference, and there is at least one.
void expectAllPass(const char* provider_name, const ir::Graph& graph, DataType t, bool tf32 = false) {
  testing::expectProviderPasses(provider_name, graph, *backend::gpuDevice(), {.precision = t, .tf32 = tf32});
}

ir::Graph conv(DataType t, Ints x, Ints w, bool bias, std::map<std::string, ir::AttributeValue> attrs,
               bool constant_weights = true) {
  std::vector<testing::NodeInput> inputs = {{.name = "X", .type = t, .shape = std::move(x)},
                                            {.name = "W", .type = t, .shape = w, .constant = constant_weights}};
  if (bias) inputs.push_back({.name = "B", .type = t, .shape = {w[0]}, .constant = constant_weights});
  return testing::makeNodeGraph("Conv", inputs, attrsOf(std::move(attrs)));
}

struct Precision {
  DataType type;
  bool tf32;
};
constexpr Precision kPrecisions[] = {
    {DataType::kFLOAT, false}, {DataType::kFLOAT, true}, {DataType::kHALF, false}, {DataType::kBF16, false}};

TEST(Cudnn, ConvStridePadDilation) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    for (bool bias : {false, true}) {
      SCOPED_TRACE(bias ? "bias" : "no bias");
      // 1x3x7x9 -> 5 channels, 3x3, stride 2, pad 1, dilation 2.
      expectAllPass("cudnn",
                    conv(p.type, {1, 3, 7, 9}, {5, 3, 3, 3}, bias,
                         {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}, {"dilations", Ints{2, 2}}}),
                    p.type, p.tf32);
      // Groups need C and K divisible by them: 1x4x7x9 -> 6 channels in 2 groups, same window.
      expectAllPass(
          "cudnn",
          conv(p.type, {1, 4, 7, 9}, {6, 2, 3, 3}, bias,
               {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}, {"dilations", Ints{2, 2}}, {"group", int64_t{2}}}),
          p.type, p.tf32);
    }
  }
}

TEST(Cudnn, ConvShapesAndPadding) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    const DataType t = p.type;
    expectAllPass("cudnn", conv(t, {2, 3, 7, 9}, {5, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}), t, p.tf32);
    expectAllPass("cudnn",
                  conv(t, {2, 4, 9, 8}, {6, 2, 3, 3}, true, {{"group", int64_t{2}}, {"pads", Ints{1, 0, 1, 2}}}), t,
                  p.tf32);
    expectAllPass("cudnn", conv(t, {1, 5, 9, 9}, {7, 5, 1, 1}, true, {}), t, p.tf32);  // pointwise
    expectAllPass("cudnn",
                  conv(t, {2, 6, 8, 7}, {6, 1, 3, 3}, true,  // depthwise
                       {{"group", int64_t{6}}, {"strides", Ints{2, 1}}, {"pads", Ints{1, 1, 1, 1}}}),
                  t, p.tf32);
    expectAllPass(
        "cudnn",
        conv(t, {1, 3, 10, 9}, {4, 3, 3, 4}, true, {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}}),
        t, p.tf32);
    expectAllPass("cudnn", conv(t, {1, 4, 7, 9}, {6, 4, 3, 3}, true, {}, /*constant_weights=*/false), t, p.tf32);
  }
}

TEST(Cudnn, LeavesOneDimensionalConvToOthers) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const auto results =
      testing::checkProvider(*backend::findProvider("cudnn"), conv(DataType::kFLOAT, {2, 3, 17}, {5, 3, 3}, true, {}),
                             *backend::gpuDevice(), testing::toleranceFor(DataType::kFLOAT));
  EXPECT_TRUE(results.empty());
}

// Tactic params of the cudnn source: format 1 (unfused engines, as older plans hold) still
// decodes; format 2 carries the fused flag; malformed bytes are refused, not guessed.
TEST(Cudnn, EngineChoiceParamsRoundTrip) {
  using kiln::cuda::dnn::EngineChoice;
  for (const EngineChoice& c :
       {EngineChoice{.engine = 7, .knobs = {{1, 2}, {3, 4}}},
        EngineChoice{.engine = 12, .knobs = {{5, 6}}, .fused = true}, EngineChoice{.engine = 0, .fused = true}}) {
    EngineChoice back;
    ASSERT_TRUE(cuda::dnn::decodeChoice(cuda::dnn::encodeChoice(c), back));
    EXPECT_EQ(back, c);
  }
  std::vector<std::byte> bytes = cuda::dnn::encodeChoice(EngineChoice{.engine = 3, .fused = true});
  bytes.back() = std::byte{2};  // the flag's low byte: neither 0 nor 1
  EngineChoice out;
  EXPECT_FALSE(cuda::dnn::decodeChoice(bytes, out));
  bytes.resize(bytes.size() - sizeof(int64_t));  // version 2 without its flag
  EXPECT_FALSE(cuda::dnn::decodeChoice(bytes, out));
  EXPECT_FALSE(cuda::dnn::decodeChoice({}, out));
}

}  // namespace
}  // namespace kiln
