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

#include "compute_test_util.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using gputest::Ints;
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
    config.addOptimizationProfile(testing::batchProfile("x", {8, 9, 9}, 1, 4, 8));
    Engine engine = testing::buildEngine(network, config);
    int fused = 0;
    std::string tactics;
    for (const LayerInfo& l : engine.layers()) {
      fused += l.op == "FusedConv" ? 1 : 0;
      if (l.op == "FusedConv" || l.op == "Conv") tactics += " " + l.name + "=" + l.tactic;
    }
    EXPECT_EQ(fused, 7) << tactics;
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

}  // namespace
}  // namespace kiln
