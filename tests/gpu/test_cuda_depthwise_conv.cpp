// kiln's depthwise convolution kernel (cuda.conv's "cuda.conv.depthwise.{nhwc,nchw}.{4px,2px}"
// candidates, src/backends/cuda/kernels/depthwise_conv.cu) against the CPU reference on
// random data: channels 8, 40, 96, 144 (vectors of 16 bytes) and 12, 20 (fp16 / bf16 scalar),
// odd sizes (7, 15, 17), strides 1 and 2, TensorFlow's asymmetric pads once, 5x5 and dilated
// kernels (the general path), batches of 1 to 3; with and without bias and residual; relu,
// clip(0, 6) and silu everywhere, every activation on two cases; fp32 (1e-5), fp16 and bf16
// (1e-2). It declines what it cannot run (a channel multiplier of 2, W given at run time, a
// grouped convolution), refit follows new W and B, and a float16 / bfloat16 engine of
// MobileNetV2 blocks runs its depthwise layers in NHWC, in one region,
// within 2e-2 of the reference on the unfused float32 network. Last, a report (no bound) of
// the bandwidth the kernels reach on MobileNetV2's depthwise layers at batches 32 and 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>

#include "compute_test_util.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using gputest::Ints;
using ir::Shape;

struct Case {
  const char* what;
  Ints x;  //!< NCHW: N, C, H, W
  int64_t k = 3;
  std::map<std::string, ir::AttributeValue> attrs;
};

const Case kCases[] = {
    {"C8 7x7 s1", {1, 8, 7, 7}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
    {"C40 15x15 s2", {2, 40, 15, 15}, 3, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
    {"C96 17x17 s1", {2, 96, 17, 17}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
    {"C144 15x17 s2 asymmetric pads", {3, 144, 15, 17}, 3, {{"strides", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 1}}}},
    {"C144 7x7 s1 no pads", {1, 144, 7, 7}, 3, {}},
    {"C12 7x9 s1", {2, 12, 7, 9}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
    {"C20 5x5 kernel 15x17 s2", {1, 20, 15, 17}, 5, {{"strides", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}},
    {"C40 dilation 2 17x15", {1, 40, 17, 15}, 3, {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}},
    {"C8 3x3 stride 2x1 dilation 2x1",
     {2, 8, 15, 7},
     3,
     {{"strides", Ints{2, 1}}, {"dilations", Ints{2, 1}}, {"pads", Ints{2, 1, 1, 0}}}},
};

std::map<std::string, ir::AttributeValue> withEpilogue(const Case& c, const std::string& act, float clip_max = 6.0f) {
  std::map<std::string, ir::AttributeValue> attrs = c.attrs;
  attrs["group"] = c.x[1];
  attrs["activation"] = act;
  if (act == "clip") {
    attrs["min"] = 0.0f;
    attrs["max"] = clip_max;
  }
  return attrs;
}

Ints nhwc(const Shape& s) { return Ints{s[0], s[2], s[3], s[1]}; }

//! Y's NCHW shape for a case (from the reference's shape rule).
Shape outputShape(const Case& c) {
  const Ints w = {c.x[1], 1, c.k, c.k};
  std::map<std::string, ir::AttributeValue> attrs = c.attrs;
  attrs["group"] = c.x[1];
  const ir::Graph g = testing::makeNodeGraph(
      "Conv", {gputest::in("X", DataType::kFLOAT, c.x), gputest::in("W", DataType::kFLOAT, w, true)},
      gputest::attrsOf(attrs));
  return g.tensors[g.nodes[0].outputs[0]].shape;
}

//! A depthwise FusedConv for a case: NHWC (X [N, H, W, C], W [C, K, K, 1], R and Y
//! [N, H', W', C]) or NCHW.
ir::Graph depthwise(DataType t, const Case& c, bool bias, bool residual, const std::string& act, bool channels_last,
                    float clip_max = 6.0f) {
  const int64_t channels = c.x[1];
  const Ints w = {channels, 1, c.k, c.k};
  std::vector<testing::NodeInput> inputs = {gputest::in("X", t, channels_last ? nhwc(c.x) : c.x),
                                            gputest::in("W", t, channels_last ? nhwc(w) : w, true),
                                            bias ? gputest::in("B", t, {channels}, true) : testing::NodeInput{}};
  if (residual) inputs.push_back(gputest::in("R", t, channels_last ? nhwc(outputShape(c)) : outputShape(c)));
  std::map<std::string, ir::AttributeValue> attrs = withEpilogue(c, act, clip_max);
  if (channels_last) attrs["layout"] = std::string("NHWC");
  return testing::makeNodeGraph("FusedConv", inputs, gputest::attrsOf(attrs));
}

std::string describe(DataType t, const Case& c, bool bias, bool residual, const std::string& act) {
  return std::string(toString(t)) + " " + c.what + " " + act + (bias ? " +bias" : "") + (residual ? " +residual" : "");
}

//! fp32: 1e-5 relative (and absolute, for results that cancel to near zero); fp16 / bf16 1e-2.
testing::Tolerance toleranceOf(DataType t) {
  return t == DataType::kFLOAT ? testing::Tolerance{1e-5, 1e-5} : testing::toleranceFor(t);
}

void expectPasses(DataType t, const Case& c, bool bias, bool residual, const std::string& act, bool channels_last,
                  float clip_max = 6.0f) {
  testing::expectProviderPasses("cuda.conv", depthwise(t, c, bias, residual, act, channels_last, clip_max),
                                *backend::gpuDevice(),
                                {.precision = t,
                                 .tolerance = toleranceOf(t),
                                 .what = describe(t, c, bias, residual, act) + (channels_last ? " nhwc" : " nchw")});
}

TEST(CudaDepthwiseNhwc, MatchesTheReferenceWithEveryEpilogueForm) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const Case& c : kCases)
      for (const char* act : {"relu", "clip", "silu"})
        for (int extras = 0; extras < 4; ++extras) expectPasses(t, c, extras & 1, extras & 2, act, true);
}

TEST(CudaDepthwiseNhwc, RunsEveryActivation) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const Case& c : {kCases[2], kCases[6]})
      for (const char* act : {"none", "relu", "clip", "silu", "hardswish", "sigmoid"}) {
        expectPasses(t, c, true, true, act, true);
        expectPasses(t, c, false, false, act, true);
      }
  // A clip whose upper bound the data reaches.
  for (DataType t : gputest::kPrecisions) expectPasses(t, kCases[3], true, true, "clip", true, 0.5f);
}

// The NCHW form (next to the implicit GEMM, which runs too: every candidate is checked).
TEST(CudaDepthwiseNhwc, NchwFormMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions)
    for (const Case& c : kCases)
      for (auto [bias, residual, act] : std::vector<std::tuple<bool, bool, const char*>>{
               {true, true, "relu"}, {true, false, "clip"}, {false, true, "silu"}, {false, false, "none"}})
        expectPasses(t, c, bias, residual, act, false);
  // A Conv (no epilogue) too.
  for (DataType t : gputest::kPrecisions) {
    const Case& c = kCases[1];
    std::map<std::string, ir::AttributeValue> attrs = c.attrs;
    attrs["group"] = c.x[1];
    const ir::Graph conv = testing::makeNodeGraph(
        "Conv",
        {gputest::in("X", t, c.x), gputest::in("W", t, {c.x[1], 1, 3, 3}, true), gputest::in("B", t, {c.x[1]}, true)},
        gputest::attrsOf(attrs));
    testing::expectProviderPasses("cuda.conv", conv, *backend::gpuDevice(),
                                  {.precision = t, .tolerance = toleranceOf(t), .what = "Conv"});
  }
}

TEST(CudaDepthwiseNhwc, OffersTheDepthwiseTacticOnlyWhereItRuns) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cuda.conv");
  ASSERT_NE(provider, nullptr);
  auto names = [&](const ir::Graph& g) {
    const backend::LayerView view = gputest::viewOf(g);
    std::vector<std::string> out;
    for (const backend::TacticConfig& config : provider->candidates(view, view, view, {})) out.push_back(config.name);
    return out;
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(names(depthwise(DataType::kHALF, kCases[2], true, true, "relu", true)),
            (Names{"cuda.conv.depthwise.nhwc.4px", "cuda.conv.depthwise.nhwc.2px"}));
  EXPECT_EQ(
      names(depthwise(DataType::kHALF, kCases[2], true, true, "relu", false)),
      (Names{"cuda.conv.depthwise.nchw.4px", "cuda.conv.depthwise.nchw.2px", "cuda.conv.implicit_gemm.64x64x16"}));
  // A channel multiplier of 2 (W [2C, 1, 3, 3]) and a grouped convolution (2 channels per
  // group) in NHWC: nothing; in NCHW the implicit GEMM only.
  auto grouped = [](int64_t out, int64_t group, bool channels_last) {
    const Ints x = {1, 16, 7, 7}, w = {out, 16 / group, 3, 3};
    std::map<std::string, ir::AttributeValue> attrs = {{"group", group}, {"pads", Ints{1, 1, 1, 1}}};
    if (channels_last) attrs["layout"] = std::string("NHWC");
    return testing::makeNodeGraph("FusedConv",
                                  {gputest::in("X", DataType::kHALF, channels_last ? nhwc(x) : x),
                                   gputest::in("W", DataType::kHALF, channels_last ? nhwc(w) : w, true)},
                                  gputest::attrsOf(attrs));
  };
  EXPECT_EQ(names(grouped(32, 16, true)), Names{});
  EXPECT_EQ(names(grouped(16, 8, true)), Names{});
  EXPECT_EQ(names(grouped(32, 16, false)), (Names{"cuda.conv.implicit_gemm.64x64x16"}));
  // W given at run time: the NHWC kernel reads W re-laid out at instantiation, so nothing.
  {
    const Case& c = kCases[0];
    std::map<std::string, ir::AttributeValue> attrs = withEpilogue(c, "relu");
    attrs["layout"] = std::string("NHWC");
    const ir::Graph runtime_w = testing::makeNodeGraph(
        "FusedConv",
        {gputest::in("X", DataType::kHALF, nhwc(c.x)), gputest::in("W", DataType::kHALF, {8, 3, 3, 1}, false)},
        gputest::attrsOf(attrs));
    EXPECT_EQ(names(runtime_w), Names{});
  }
}

TEST(CudaDepthwiseNhwc, RefitUploadsNewWeights) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (bool channels_last : {true, false})
    for (const char* weight : {"W", "B"}) {
      SCOPED_TRACE(std::string(channels_last ? "nhwc " : "nchw ") + weight);
      gputest::expectRefitFollows("cuda.conv",
                                  depthwise(DataType::kFLOAT, kCases[1], true, true, "relu", channels_last), weight);
    }
}

// A float16 / bfloat16 engine of MobileNetV2 blocks: the 3-channel stride-2 stem (by
// space-to-depth, a stride-1 convolution on 16 channels) and the twelve convolutions after it
// (four depthwise) are one NHWC region with the space-to-depth's conversion in and one
// Transpose out;
// the engine agrees with the reference on the unfused float32 network.
TEST(CudaDepthwiseNhwc, MobileNetBlocksEngineRunsChannelsLast) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Network network = testing::parseModel(testing::mobileNetBlocksModel(3));
  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(type == DataType::kHALF ? BuilderFlag::kFP16 : BuilderFlag::kBF16);
    config.setOptimizationLevel(2);  // the channels-last rule, not timing, decides the layout
    OptimizationProfile profile;
    profile.setDimensions("x", ProfileDims{{1, 3, 17, 15}, {4, 3, 17, 15}, {8, 3, 17, 15}});
    config.addOptimizationProfile(profile);
    Engine engine = testing::buildEngine(network, config);
    int nhwc_convs = 0, nhwc_depthwise = 0, transposes = 0;
    std::string tactics;
    for (const LayerInfo& l : engine.layers()) {
      transposes += l.op == "Transpose" ? 1 : 0;
      if (l.op != "FusedConv" && l.op != "Conv") continue;
      tactics += " " + l.name + "=" + l.tactic;
      const bool channels_last = !l.outputs.empty() && l.outputs[0].ends_with("/nhwc");
      nhwc_convs += channels_last ? 1 : 0;
      nhwc_depthwise += channels_last && l.name.find(".dw") != std::string::npos ? 1 : 0;
    }
    SCOPED_TRACE(std::string(toString(type)) + "; tactics:" + tactics);
    std::printf("%s MobileNet blocks, tactics:%s\n", std::string(toString(type)).c_str(), tactics.c_str());
    // In: the stem's space-to-depth (a Transpose to NHWC, then its block Transpose); out: one.
    EXPECT_EQ(transposes, 3);
    EXPECT_EQ(nhwc_convs, 13);  // the 3-channel stem (by space-to-depth) and the 12 of the blocks
    EXPECT_EQ(nhwc_depthwise, 4);
    const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
    Stream stream(DeviceKind::kGPU);
    testing::GpuIO io;
    for (const Ints& shape : {Ints{1, 3, 17, 15}, Ints{3, 3, 17, 15}, Ints{8, 3, 17, 15}}) {
      const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput(shape, 90 + shape[0])}};
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runGpu(engine, *ctx, in, stream, io),
                                        2e-2, 2e-2),
                "")
          << "at " << toString(shape);
    }
  }
}

// Not a bound, a report for people: the kernel's time and effective bandwidth (X read once, Y
// written once) of each depthwise tactic on MobileNetV2's depthwise layers (224 x 224 input)
// at batches 32 and 1, fp16, against the device's nominal bandwidth.
TEST(CudaDepthwiseNhwc, ReportsBandwidthOnMobileNetV2Layers) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  backend::Device& device = *backend::gpuDevice();
  const backend::TacticProvider* provider = backend::findProvider("cuda.conv");
  ASSERT_NE(provider, nullptr);
  const Case layers[] = {
      {"112x112x32 s1", {32, 32, 112, 112}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
      {"112x112x96 s2", {32, 96, 112, 112}, 3, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"56x56x144 s1", {32, 144, 56, 56}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
      {"28x28x192 s1", {32, 192, 28, 28}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
      {"14x14x576 s1", {32, 576, 14, 14}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
      {"7x7x960 s1", {32, 960, 7, 7}, 3, {{"pads", Ints{1, 1, 1, 1}}}},
  };
  const double peak = device.peak().bytes_per_s;
  for (int64_t batch : {32, 1})
    for (Case c : layers) {
      c.x[0] = batch;
      const ir::Graph g = depthwise(DataType::kHALF, c, true, false, "clip", true);
      const backend::LayerView view = gputest::viewOf(g);
      const auto configs = provider->candidates(view, view, view, {});
      ASSERT_EQ(configs.size(), 2u) << c.what;
      size_t in_elems = 1, out_elems = 1;
      for (int64_t d : view.inputs[0].shape) in_elems *= static_cast<size_t>(d);
      for (int64_t d : view.outputs[0].shape) out_elems *= static_cast<size_t>(d);
      const size_t bytes = (in_elems + out_elems) * sizeof(uint16_t);
      void* dx = device.allocate(in_elems * sizeof(uint16_t));
      void* dy = device.allocate(out_elems * sizeof(uint16_t));
      device.memset(dx, 0, in_elems * sizeof(uint16_t), nullptr);
      device.synchronize(nullptr);
      std::vector<const void*> ins = {dx, nullptr, nullptr};
      std::vector<void*> outs = {dy};
      for (const backend::TacticConfig& config : configs) {
        std::unique_ptr<backend::Kernel> kernel = provider->instantiate(view, config, device);
        kernel->reshape(view);
        const std::vector<double> ms = device.time(
            [&](void* stream) {
              kernel->run(backend::RunArgs{.layer = &view, .inputs = ins, .outputs = outs, .stream = stream});
            },
            3, 20);
        const double best = *std::min_element(ms.begin(), ms.end());
        const double bytes_per_s = static_cast<double>(bytes) / (best * 1e-3);
        std::printf("%-30s fp16 batch %2ld %-14s %8.1f us %7.0f GB/s %5.1f%% of the nominal %.0f GB/s\n",
                    config.name.c_str(), static_cast<long>(batch), c.what, best * 1e3, bytes_per_s / 1e9,
                    peak > 0 ? 100 * bytes_per_s / peak : 0.0, peak / 1e9);
      }
      device.free(dx);
      device.free(dy);
    }
}

}  // namespace
}  // namespace kiln
