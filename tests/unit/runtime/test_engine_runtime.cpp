// Engine metadata and ExecutionContext behaviour through the public API on the CPU backend:
// profile choice, shapes, dynamic Shape->Gather->Concat->Reshape chains, memory modes.
#include <gtest/gtest.h>

#include <cstring>

#include "support/models.h"

namespace kiln {
namespace {

using testing::compareOutputs;
using testing::cpuConfig;
using testing::randomInput;
using testing::reference;
using testing::runContext;

Engine twoProfileCnn(const Network& net) {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 16, 32));
  return testing::buildEngine(net, config);
}

TEST(EngineMetadata, ReportsIOProfilesMemoryAndLayers) {
  Network net = testing::parseModel(testing::cnnModel(1));
  Engine engine = twoProfileCnn(net);
  EXPECT_EQ(engine.device(), DeviceKind::kCPU);
  ASSERT_EQ(engine.numIOTensors(), 2);
  EXPECT_EQ(engine.ioTensorName(0), "x");
  EXPECT_EQ(engine.ioTensorName(1), "y");
  EXPECT_THROW((void)engine.ioTensorName(2), Error);
  EXPECT_EQ(engine.tensorIOMode("x"), TensorIOMode::kINPUT);
  EXPECT_EQ(engine.tensorIOMode("y"), TensorIOMode::kOUTPUT);
  EXPECT_EQ(engine.tensorIOMode("conv1_out"), TensorIOMode::kNONE);
  EXPECT_EQ(engine.tensorType("x"), DataType::kFLOAT);
  EXPECT_EQ(engine.tensorType("y"), DataType::kFLOAT);
  EXPECT_EQ(engine.tensorShape("x"), (Dims{-1, 3, 8, 8}));
  EXPECT_EQ(engine.tensorShape("y"), (Dims{-1, 10}));
  ASSERT_EQ(engine.numOptimizationProfiles(), 2);
  ProfileDims p1 = engine.profileDims("x", 1);
  EXPECT_EQ(p1.min, (Dims{1, 3, 8, 8}));
  EXPECT_EQ(p1.opt, (Dims{16, 3, 8, 8}));
  EXPECT_EQ(p1.max, (Dims{32, 3, 8, 8}));
  EXPECT_THROW((void)engine.profileDims("x", 2), Error);
  EXPECT_THROW((void)engine.profileDims("nope", 0), Error);
  EXPECT_GT(engine.deviceMemorySize(0), 0u);
  EXPECT_LT(engine.deviceMemorySize(0), engine.deviceMemorySize(1));
  EXPECT_GT(engine.weightsSize(), 0u);
  EXPECT_FALSE(engine.refittable());
  EXPECT_FALSE(engine.weightsStripped());
  CompatibilityInfo c = engine.compatibility();
  EXPECT_EQ(c.device, DeviceKind::kCPU);
  EXPECT_EQ(c.kiln_version, std::string(version()));
  EXPECT_GE(c.format_version, 1u);
  EXPECT_FALSE(c.architecture.empty());

  std::vector<LayerInfo> layers = engine.layers(0);
  ASSERT_FALSE(layers.empty());
  bool folded_conv = false;
  for (const LayerInfo& l : layers) {
    EXPECT_FALSE(l.name.empty());
    EXPECT_FALSE(l.tactic.empty()) << l.name;
    EXPECT_FALSE(l.precision.empty()) << l.name;
    EXPECT_FALSE(l.outputs.empty()) << l.name;
    EXPECT_NE(l.op, "BatchNormalization") << "BatchNormalization should be folded into its Conv";
    if ((l.op == "Conv" || l.op == "FusedConv") && l.name.find("conv1") != std::string::npos) {
      folded_conv = true;
      EXPECT_NE(l.tactic_id, 0u);
      EXPECT_EQ(l.inputs.at(0), "x");
    }
  }
  EXPECT_TRUE(folded_conv);
  EXPECT_EQ(engine.layers(1).size(), layers.size());
}

TEST(ExecutionContext, PicksTheTightestProfileAndHonoursAnExplicitOne) {
  Network net = testing::parseModel(testing::cnnModel(2));
  Engine engine = twoProfileCnn(net);
  for (int64_t batch : {1, 3, 4, 5, 17, 32}) {
    auto ctx = engine.createExecutionContext();
    std::map<std::string, ir::Tensor> in{{"x", randomInput({batch, 3, 8, 8}, static_cast<uint32_t>(batch))}};
    auto out = runContext(engine, *ctx, in);
    EXPECT_EQ(ctx->optimizationProfile(), batch <= 4 ? 0 : 1) << batch;
    EXPECT_EQ(ctx->tensorShape("y"), (Dims{batch, 10}));
    EXPECT_EQ(compareOutputs(reference(net, in), out), "") << "batch " << batch;
  }
  // Explicit profile 1 for a small batch that profile 0 would also hold.
  auto ctx = engine.createExecutionContext();
  ctx->setOptimizationProfile(1);
  std::map<std::string, ir::Tensor> in{{"x", randomInput({2, 3, 8, 8}, 77)}};
  auto out = runContext(engine, *ctx, in);
  EXPECT_EQ(ctx->optimizationProfile(), 1);
  EXPECT_EQ(compareOutputs(reference(net, in), out), "");
  // The same context follows a growing batch within its profile.
  std::map<std::string, ir::Tensor> big{{"x", randomInput({29, 3, 8, 8}, 78)}};
  EXPECT_EQ(compareOutputs(reference(net, big), runContext(engine, *ctx, big)), "");
  EXPECT_THROW(ctx->setOptimizationProfile(2), Error);
  EXPECT_THROW(ctx->setOptimizationProfile(-1), Error);
}

TEST(ExecutionContext, ShapeOutsideEveryProfileIsAClearError) {
  Network net = testing::parseModel(testing::cnnModel(3));
  Engine engine = twoProfileCnn(net);
  auto ctx = engine.createExecutionContext();
  try {
    ctx->setInputShape("x", {33, 3, 8, 8});
    FAIL() << "batch 33 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    std::string m = e.what();
    EXPECT_NE(m.find("'x'"), std::string::npos) << m;
    EXPECT_NE(m.find("fits no optimization profile"), std::string::npos) << m;
  }
  EXPECT_THROW(ctx->setInputShape("x", {2, 3, 8, 9}), Error);
  EXPECT_THROW(ctx->setInputShape("x", {2, 3, 8}), Error);
  EXPECT_THROW(ctx->setInputShape("y", {2, 10}), Error);
  // With an explicit profile the message names it.
  ctx->setOptimizationProfile(0);
  try {
    ctx->setInputShape("x", {8, 3, 8, 8});
    FAIL() << "batch 8 accepted in profile 0";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("optimization profile 0"), std::string::npos) << e.what();
  }
  // Running without bindings is an error, not a crash.
  ctx->setInputShape("x", {2, 3, 8, 8});
  EXPECT_THROW(ctx->enqueue(nullptr), Error);
}

TEST(ExecutionContext, DynamicShapeGatherConcatReshapeChainMatchesTheReferenceAtManyShapes) {
  Network net = testing::parseModel(testing::reshapeChainModel(4));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {4, 6}, 1, 8, 64));
  Engine engine = testing::buildEngine(net, config);
  bool host_layer = false;
  for (const LayerInfo& l : engine.layers()) host_layer = host_layer || l.tactic == "host";
  EXPECT_TRUE(host_layer) << "the Shape chain should run on the host";
  auto ctx = engine.createExecutionContext();
  for (int64_t batch : {1, 2, 3, 7, 16, 63, 64, 5}) {
    std::map<std::string, ir::Tensor> in{{"x", randomInput({batch, 4, 6}, static_cast<uint32_t>(100 + batch))}};
    auto out = runContext(engine, *ctx, in);
    EXPECT_EQ(ctx->tensorShape("y"), (Dims{batch, 5}));
    EXPECT_EQ(compareOutputs(reference(net, in), out), "") << "batch " << batch;
  }
}

TEST(ExecutionContext, UserManagedAndShapeSizedMemoryGiveTheSameOutputs) {
  Network net = testing::parseModel(testing::cnnModel(5));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 16));
  Engine engine = testing::buildEngine(net, config);
  std::map<std::string, ir::Tensor> in{{"x", randomInput({3, 3, 8, 8}, 55)}};
  auto managed_ctx = engine.createExecutionContext();
  auto expected = runContext(engine, *managed_ctx, in);
  ASSERT_EQ(compareOutputs(reference(net, in), expected), "");

  auto user_ctx = engine.createExecutionContext(ContextMemory::kUSER_MANAGED);
  EXPECT_EQ(user_ctx->requiredMemorySize(), engine.deviceMemorySize(0));
  EXPECT_THROW(runContext(engine, *user_ctx, in), Error);  // no memory yet
  std::vector<std::byte> too_small(user_ctx->requiredMemorySize() / 2);
  EXPECT_THROW(user_ctx->setDeviceMemory(too_small.data(), too_small.size()), Error);
  DeviceBuffer memory(DeviceKind::kCPU, user_ctx->requiredMemorySize());
  std::memset(memory.data(), 0x7f, memory.size());  // garbage that must not leak into outputs
  user_ctx->setDeviceMemory(memory.data(), memory.size());
  auto user_out = runContext(engine, *user_ctx, in);
  EXPECT_EQ(compareOutputs(expected, user_out, 0, 0), "");
  EXPECT_THROW(managed_ctx->setDeviceMemory(memory.data(), memory.size()), Error);

  auto sized_ctx = engine.createExecutionContext(ContextMemory::kSHAPE_SIZED);
  EXPECT_EQ(compareOutputs(expected, runContext(engine, *sized_ctx, in), 0, 0), "");
  // Grows for a larger batch and shrinks back.
  std::map<std::string, ir::Tensor> big{{"x", randomInput({16, 3, 8, 8}, 56)}};
  EXPECT_EQ(compareOutputs(reference(net, big), runContext(engine, *sized_ctx, big)), "");
  EXPECT_EQ(compareOutputs(expected, runContext(engine, *sized_ctx, in), 0, 0), "");
}

}  // namespace
}  // namespace kiln
