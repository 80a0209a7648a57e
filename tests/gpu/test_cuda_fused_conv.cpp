// The FusedConv tactics against the CPU reference: "cudnn" (a cuDNN engine, then kiln's
// epilogue kernel) and "cuda.conv" (kiln's implicit GEMM with the epilogue in its store) must
// take every activation with and without bias and residual; "cudnn.bias_act" (cuDNN's
// cudnnConvolutionBiasActivationForward) the relu / none forms with a bias, and offers nothing
// for the others. Odd sizes, groups, strides, a 7x7 stride-2 stem, pointwise layers whose planes
// vectorize (8 and 16 halves, 4 floats) and whose planes do not (7x7), several grid blocks; fp32
// (1e-5), tf32 (1e-3 relative L2) where the tactic uses it, fp16 (1e-2) and bf16; refit. And
// whole engines of ResNet, MobileNetV2 and SiLU blocks (tests/support/models.h) in fp32 and
// fp16, every source's tactics timed, against the reference on the unfused network.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "compute_test_util.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using gputest::Ints;
using Json = nlohmann::json;
using ir::Shape;

struct Precision {
  DataType type;
  bool tf32;
};
constexpr Precision kPrecisions[] = {
    {DataType::kFLOAT, false}, {DataType::kFLOAT, true}, {DataType::kHALF, false}, {DataType::kBF16, false}};

struct Case {
  const char* what;
  Ints x, w;
  std::map<std::string, ir::AttributeValue> attrs;
};
const Case kCases[] = {
    {"3x3 pad 1, odd", {1, 3, 7, 9}, {5, 3, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
    {"groups, stride 2",
     {2, 4, 9, 8},
     {6, 2, 3, 3},
     {{"group", int64_t{2}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
    {"stem 7x7 stride 2", {2, 3, 23, 21}, {8, 3, 7, 7}, {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}}},
    {"pointwise 8x8", {2, 16, 8, 8}, {24, 16, 1, 1}, {}},
    {"pointwise 7x7", {3, 8, 7, 7}, {16, 8, 1, 1}, {}},
    {"pointwise 6x6", {1, 8, 6, 6}, {8, 8, 1, 1}, {}},
};

const char* const kActivations[] = {"none", "relu", "clip", "silu", "hardswish", "sigmoid"};

std::map<std::string, ir::AttributeValue> epilogue(std::map<std::string, ir::AttributeValue> attrs,
                                                   const std::string& act) {
  attrs["activation"] = act;
  if (act == "clip") {  // ReLU6 scaled to the data: min 0, max 0.5
    attrs["min"] = 0.0f;
    attrs["max"] = 0.5f;
  }
  return attrs;
}

//! The Conv's output shape for a case (from the reference's shape rule).
Shape outputShape(const Case& c) {
  const ir::Graph g = testing::makeNodeGraph(
      "Conv", {gputest::in("X", DataType::kFLOAT, c.x), gputest::in("W", DataType::kFLOAT, c.w, true)},
      gputest::attrsOf(c.attrs));
  return g.tensors[g.nodes[0].outputs[0]].shape;
}

ir::Graph fusedConv(DataType t, const Case& c, bool bias, bool residual, const std::string& act,
                    bool constant_weights = true) {
  std::vector<testing::NodeInput> inputs = {
      gputest::in("X", t, c.x), gputest::in("W", t, c.w, constant_weights),
      bias ? gputest::in("B", t, {c.w[0]}, constant_weights) : testing::NodeInput{}};
  if (residual) inputs.push_back(gputest::in("R", t, outputShape(c)));
  return testing::makeNodeGraph("FusedConv", inputs, gputest::attrsOf(epilogue(c.attrs, act)));
}

std::string describe(const Precision& p, const Case& c, bool bias, bool residual, const std::string& act) {
  return std::string(toString(p.type)) + (p.tf32 ? " tf32 " : " ") + c.what + " " + act + (bias ? " +bias" : "") +
         (residual ? " +residual" : "");
}

//! The tolerance of a case: the precision's, except bf16 with a residual, where cuDNN rounds
//! conv(X, W) to bf16 (2^-9 relative) before the epilogue adds R, which can cancel it: one
//! rounding more than the reference, as large as the 1e-2 bound itself.
testing::Tolerance toleranceOf(const Precision& p, bool residual) {
  if (p.type == DataType::kBF16 && residual) return {3e-2, 3e-2};
  return testing::toleranceFor(p.type, p.tf32);
}

void expectCudnnPasses(const Precision& p, const Case& c, bool bias, bool residual, const std::string& act) {
  testing::expectProviderPasses("cudnn", fusedConv(p.type, c, bias, residual, act), *backend::gpuDevice(),
                                {.precision = p.type,
                                 .tf32 = p.tf32,
                                 .tolerance = toleranceOf(p, residual),
                                 .what = describe(p, c, bias, residual, act)});
}

// The convolution is cuDNN's whatever follows it, and every engine candidate builds plans, so
// the full matrix of epilogues runs on two cases (a plane that does not vectorize, one that
// does) in fp32 and fp16, and every case with two epilogues in every precision.
TEST(CudaFusedConv, CudnnRunsEveryEpilogue) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : {kPrecisions[0], kPrecisions[2]})
    for (const Case& c : {kCases[0], kCases[3]})
      for (const char* act : kActivations)
        for (int extras = 0; extras < 4; ++extras) expectCudnnPasses(p, c, extras & 1, extras & 2, act);
  for (const Precision& p : kPrecisions)
    for (const Case& c : kCases) {
      expectCudnnPasses(p, c, true, true, "relu");
      expectCudnnPasses(p, c, true, false, "silu");
    }
}

TEST(CudaFusedConv, KilnConvRunsEveryEpilogue) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    if (p.tf32) continue;  // kiln's kernel computes in fp32 either way
    for (const Case& c : kCases)
      for (const char* act : kActivations)
        for (int extras = 0; extras < 4; ++extras) {
          const bool bias = extras & 1, residual = extras & 2;
          // K = 147 for the stem: float accumulation in 16 x 16 tiles, as cuda.conv's own tests.
          const testing::Tolerance tol =
              p.type == DataType::kFLOAT ? testing::Tolerance{2e-5, 2e-5} : testing::toleranceFor(p.type);
          testing::expectProviderPasses(
              "cuda.conv", fusedConv(p.type, c, bias, residual, act), *backend::gpuDevice(),
              {.precision = p.type, .tolerance = tol, .what = describe(p, c, bias, residual, act)});
        }
  }
  // 1-D, and weights given at run time.
  for (DataType t : gputest::kPrecisions) {
    const Case one_d{"1-D", {2, 3, 17}, {5, 3, 3}, {{"pads", Ints{1, 1}}}};
    testing::expectProviderPasses("cuda.conv", fusedConv(t, one_d, true, true, "silu"), *backend::gpuDevice(),
                                  {.precision = t, .what = "1-D silu"});
    testing::expectProviderPasses("cuda.conv", fusedConv(t, kCases[1], true, true, "relu", false),
                                  *backend::gpuDevice(), {.precision = t, .what = "runtime weights"});
  }
}

TEST(CudaFusedConv, CudnnBiasActivationRunsReluAndNoneWithABias) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    if (p.type == DataType::kBF16) continue;
    for (const Case& c : kCases)
      for (const char* act : {"relu", "none"})
        for (bool residual : {false, true})
          testing::expectProviderPasses(
              "cudnn.bias_act", fusedConv(p.type, c, true, residual, act), *backend::gpuDevice(),
              {.precision = p.type, .tf32 = p.tf32, .what = describe(p, c, true, residual, act)});
  }
}

TEST(CudaFusedConv, CudnnBiasActivationOffersNothingItCannotRun) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Case& c = kCases[0];
  gputest::expectNoCandidate("cudnn.bias_act", fusedConv(DataType::kFLOAT, c, true, true, "silu"));
  gputest::expectNoCandidate("cudnn.bias_act", fusedConv(DataType::kFLOAT, c, true, false, "clip"));
  gputest::expectNoCandidate("cudnn.bias_act", fusedConv(DataType::kFLOAT, c, false, true, "relu"));  // no bias
  gputest::expectNoCandidate("cudnn.bias_act", fusedConv(DataType::kBF16, c, true, true, "relu"));
  const Case asymmetric{"asymmetric pads", {1, 3, 7, 9}, {5, 3, 3, 3}, {{"pads", Ints{1, 0, 1, 2}}}};
  gputest::expectNoCandidate("cudnn.bias_act", fusedConv(DataType::kFLOAT, asymmetric, true, false, "relu"));
}

//! A case in layout NHWC: X [N, H, W, C], W [K, R, S, C], R and Y [N, H', W', K].
ir::Graph fusedConvNhwc(DataType t, const Case& c, bool bias, bool residual, const std::string& act) {
  auto nhwc = [](const Shape& s) { return Ints{s[0], s[2], s[3], s[1]}; };
  std::vector<testing::NodeInput> inputs = {gputest::in("X", t, nhwc(c.x)), gputest::in("W", t, nhwc(c.w), true),
                                            bias ? gputest::in("B", t, {c.w[0]}, true) : testing::NodeInput{}};
  if (residual) inputs.push_back(gputest::in("R", t, nhwc(outputShape(c))));
  std::map<std::string, ir::AttributeValue> attrs = epilogue(c.attrs, act);
  attrs["layout"] = std::string("NHWC");
  return testing::makeNodeGraph("FusedConv", inputs, gputest::attrsOf(attrs));
}

// Channels last (what the builder's channels-last step makes): cuDNN's engines on NHWC tensors
// and KRSC weights, the epilogue kernel with the bias along the innermost dim (vectorized when
// the channels allow, 8 and 16 halves; scalar at 12); the other tactics offer nothing.
TEST(CudaFusedConv, CudnnRunsChannelsLast) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Case cases[] = {
      {"nhwc 3x3 pad 1, odd", {1, 8, 7, 9}, {16, 8, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
      {"nhwc 3x3 stride 2", {2, 16, 9, 8}, {32, 16, 3, 3}, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"nhwc pointwise", {3, 16, 5, 5}, {24, 16, 1, 1}, {}},
      {"nhwc 12 channels", {2, 12, 6, 5}, {12, 12, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
  };
  for (const Precision& p : {kPrecisions[0], kPrecisions[2], kPrecisions[3]})
    for (const Case& c : cases)
      for (auto [bias, residual, act] : std::vector<std::tuple<bool, bool, const char*>>{
               {true, true, "relu"}, {true, false, "silu"}, {false, false, "none"}, {false, true, "clip"}}) {
        testing::expectProviderPasses("cudnn", fusedConvNhwc(p.type, c, bias, residual, act), *backend::gpuDevice(),
                                      {.precision = p.type,
                                       .tf32 = p.tf32,
                                       .tolerance = toleranceOf(p, residual),
                                       .what = describe(p, c, bias, residual, act)});
      }
  for (const char* provider : {"cuda.conv", "cudnn.bias_act"})
    gputest::expectNoCandidate(provider, fusedConvNhwc(DataType::kHALF, cases[0], true, true, "relu"));
}

// Channels-last fp16 / bf16: cuDNN's fused graph (conv -> + B -> + R -> activation in one
// runtime-compiled kernel) is offered beside the unfused engines (CudnnRunsChannelsLast runs
// every candidate against the reference), for every activation it can express, and not where
// it cannot be: fp32, hardswish, NCHW.
TEST(CudaFusedConv, CudnnOffersFusedEnginesChannelsLast) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cudnn");
  ASSERT_NE(provider, nullptr);
  const Case c{
      "nhwc 3x3 stride 2", {2, 16, 9, 8}, {32, 16, 3, 3}, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}};
  auto fused_names = [&](const ir::Graph& g) {
    const backend::LayerView view = gputest::viewOf(g);
    std::vector<std::string> names;
    for (const backend::TacticConfig& config : provider->candidates(view, view, view, backend::BuildOptions{}))
      if (config.name.find(".fused.") != std::string::npos) names.push_back(config.name);
    return names;
  };
  for (const char* act : {"relu", "none", "clip", "silu", "sigmoid"})
    EXPECT_FALSE(fused_names(fusedConvNhwc(DataType::kHALF, c, true, true, act)).empty()) << "fp16 " << act;
  EXPECT_FALSE(fused_names(fusedConvNhwc(DataType::kBF16, c, true, false, "relu")).empty()) << "bf16 relu";
  EXPECT_TRUE(fused_names(fusedConvNhwc(DataType::kFLOAT, c, true, true, "relu")).empty()) << "fp32";
  EXPECT_TRUE(fused_names(fusedConvNhwc(DataType::kHALF, c, true, true, "hardswish")).empty()) << "hardswish";
  EXPECT_TRUE(fused_names(fusedConv(DataType::kHALF, c, true, true, "relu")).empty()) << "NCHW";
  for (const char* act : {"relu", "clip", "silu", "sigmoid"})
    testing::expectProviderPasses("cudnn", fusedConvNhwc(DataType::kHALF, c, true, true, act), *backend::gpuDevice(),
                                  {.precision = DataType::kHALF,
                                   .tolerance = toleranceOf(kPrecisions[2], true),
                                   .what = describe(kPrecisions[2], c, true, true, act)});
}

// NhwcMaxPool (the channels-last step's MaxPool): ResNet's 3x3 stride-2 pad-1 window, a 2x2
// one with ceil_mode and dilations, odd sizes, many blocks; channel counts that take the
// 16-byte vector kernel and counts that do not.
TEST(CudaFusedConv, NhwcMaxPoolMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct PoolCase {
    Ints x;
    std::map<std::string, ir::AttributeValue> attrs;
  };
  const PoolCase cases[] = {
      {{2, 13, 11, 16}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {{1, 9, 8, 24}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 1}}, {"ceil_mode", int64_t{1}}}},
      {{4, 56, 56, 64}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      // 12 channels: 16-byte vectors of floats, one element at a time for 16-bit types; 5: never vectors.
      {{3, 7, 9, 12}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {{2, 6, 5, 5}, {{"kernel_shape", Ints{2, 2}}}},
  };
  for (DataType t : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT})
    for (const PoolCase& c : cases)
      testing::expectProviderPasses(
          "cuda.pool", testing::makeNodeGraph("NhwcMaxPool", {gputest::in("X", t, c.x)}, gputest::attrsOf(c.attrs)),
          *backend::gpuDevice(), {.precision = t, .what = toString(c.x)});
}

TEST(CudaFusedConv, ManyBlocksOfTheEpilogue) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // 4 x 64 x 28 x 28 = 200704 outputs: hundreds of blocks of the epilogue kernel.
  const Case big{"4x32x28x28 -> 64", {4, 32, 28, 28}, {64, 32, 1, 1}, {}};
  for (const Precision& p : kPrecisions) {
    const testing::Tolerance tol =
        p.type == DataType::kFLOAT && !p.tf32 ? testing::Tolerance{2e-5, 2e-5} : toleranceOf(p, /*residual=*/true);
    testing::expectProviderPasses(
        "cudnn", fusedConv(p.type, big, true, true, "relu"), *backend::gpuDevice(),
        {.precision = p.type, .tf32 = p.tf32, .tolerance = tol, .what = describe(p, big, true, true, "relu")});
  }
}

TEST(CudaFusedConv, RefitUploadsNewWeights) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* provider : {"cudnn", "cudnn.bias_act", "cuda.conv"})
    for (const char* weight : {"W", "B"}) {
      SCOPED_TRACE(std::string(provider) + " " + weight);
      gputest::expectRefitFollows(provider, fusedConv(DataType::kFLOAT, kCases[0], true, true, "relu"), weight);
    }
}

TEST(CudaFusedConv, EnginesOfResidualBlocksMatchTheOracle) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Network network = testing::parseModel(testing::residualCnnModel(5));
  for (bool fp16 : {false, true}) {
    const double tol = fp16 ? 1e-2 : 1e-4;
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(BuilderFlag::kTF32, false);
    if (fp16) config.setFlag(BuilderFlag::kFP16);
    config.setOptimizationLevel(2);  // the channels-last rule, not timing, decides the layout
    config.addOptimizationProfile(testing::batchProfile("x", {8, 9, 9}, 1, 4, 8));
    Engine engine = testing::buildEngine(network, config);
    int fused = 0;
    std::string tactics;
    for (const LayerInfo& l : engine.layers()) {
      fused += l.op == "FusedConv" ? 1 : 0;
      if (l.op == "FusedConv" || l.op == "Conv") tactics += " " + l.name + "=" + l.tactic;
    }
    // fp16: the channels-last step makes every convolution a FusedConv, the one without an
    // epilogue too.
    EXPECT_EQ(fused, fp16 ? 8 : 7) << tactics;
    const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
    Stream stream(DeviceKind::kGPU);
    testing::GpuIO io;
    for (int64_t batch : {1, 3, 8}) {
      const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({batch, 8, 9, 9}, 70 + batch)}};
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runGpu(engine, *ctx, in, stream, io),
                                        tol, tol),
                "")
          << (fp16 ? "fp16" : "fp32") << ", batch " << batch << "; tactics:" << tactics;
    }
  }
}

// A float16 engine of ResNet basic blocks: the channels-last step makes its six convolutions
// one NHWC region (two Transposes at its edges); the engine agrees with the reference on the
// unfused float32 network at batches 1, 3 and 8 (11 x 9 pixels).
TEST(CudaFusedConv, ChannelsLastEngineOfBasicBlocksMatchesTheOracle) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Network network = testing::parseModel(testing::basicBlocksModel(7));
  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(type == DataType::kHALF ? BuilderFlag::kFP16 : BuilderFlag::kBF16);
    config.setOptimizationLevel(2);  // the channels-last rule, not timing, decides the layout
    OptimizationProfile profile;
    profile.setDimensions("x", ProfileDims{{1, 16, 11, 9}, {4, 16, 11, 9}, {8, 16, 11, 9}});
    config.addOptimizationProfile(profile);
    Engine engine = testing::buildEngine(network, config);
    int nhwc = 0, transposes = 0;
    std::string tactics;
    for (const LayerInfo& l : engine.layers()) {
      transposes += l.op == "Transpose" ? 1 : 0;
      if (l.op == "FusedConv") {
        nhwc += l.tactic.rfind("cudnn", 0) == 0 ? 1 : 0;
        tactics += " " + l.name + "=" + l.tactic;
      }
    }
    EXPECT_EQ(transposes, 2) << tactics;
    EXPECT_EQ(nhwc, 6) << tactics;
    const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
    Stream stream(DeviceKind::kGPU);
    testing::GpuIO io;
    for (const Ints& shape : {Ints{1, 16, 11, 9}, Ints{3, 16, 11, 9}, Ints{8, 16, 11, 9}}) {
      const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput(shape, 80 + shape[0])}};
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runGpu(engine, *ctx, in, stream, io),
                                        2e-2, 2e-2),
                "")
          << toString(type) << " at " << toString(shape) << "; tactics:" << tactics;
    }
  }
}

// At optimization level 3 (the default) the build times the network's channels-last form
// against its NCHW form and keeps the faster: the report says so, both sums are real times,
// the engine has the layout the report names, and it agrees with the oracle either way.
TEST(CudaFusedConv, LayoutIsChosenByTiming) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Network network = testing::parseModel(testing::basicBlocksModel(7));
  BuilderConfig config;
  config.setDevice(DeviceKind::kGPU);
  config.setFlag(BuilderFlag::kFP16);
  OptimizationProfile profile;
  profile.setDimensions("x", ProfileDims{{1, 16, 11, 9}, {4, 16, 11, 9}, {8, 16, 11, 9}});
  config.addOptimizationProfile(profile);
  std::string report;
  Engine engine = Engine::deserialize(Builder::buildSerializedNetwork(network, config, &report));
  const Json layout = Json::parse(report).at("layout");
  ASSERT_TRUE(layout.at("timed").get<bool>()) << layout.dump();
  const double nhwc_ms = layout.at("nhwc_ms").get<double>(), nchw_ms = layout.at("nchw_ms").get<double>();
  EXPECT_GT(nhwc_ms, 0.0);
  EXPECT_GT(nchw_ms, 0.0);
  EXPECT_GT(layout.at("timings").get<int>(), 0);
  const std::string chosen = layout.at("chosen").get<std::string>();
  EXPECT_EQ(chosen, nchw_ms < nhwc_ms ? "NCHW" : "NHWC") << layout.dump();
  int transposes = 0;
  for (const LayerInfo& l : engine.layers()) transposes += l.op == "Transpose" ? 1 : 0;
  EXPECT_EQ(transposes, chosen == "NHWC" ? 2 : 0) << layout.dump();
  const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
  Stream stream(DeviceKind::kGPU);
  testing::GpuIO io;
  const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({3, 16, 11, 9}, 85)}};
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runGpu(engine, *ctx, in, stream, io),
                                    2e-2, 2e-2),
            "")
      << layout.dump();
}

}  // namespace
}  // namespace kiln
