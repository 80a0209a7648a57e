// Activation memory (lifetime reuse, sizes per profile) and debug tensors through the public
// API on the CPU backend.
#include <gtest/gtest.h>

#include <cstring>

#include "backends/cpu/reference.h"
#include "runtime/network_impl.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::compareOutputs;
using testing::randomInput;
using testing::runContext;

TEST(EngineMemory, LifetimeReuseSavesMemoryInADeepModel) {
  Network net = testing::parseModel(testing::mlpModel(1, 10));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 16, 64));
  Engine engine = testing::buildEngine(net, config);
  const size_t reuse = engine.deviceMemorySize(0);
  const size_t no_reuse = engine.deviceMemorySizeWithoutReuse(0);
  EXPECT_GT(reuse, 0u);
  EXPECT_LT(reuse * 3, no_reuse) << "reuse " << reuse << ", without " << no_reuse;
  std::map<std::string, ir::Tensor> in{{"x", randomInput({63, 16}, 2)}};
  auto ctx = engine.createExecutionContext();
  EXPECT_EQ(compareOutputs(testing::reference(net, in), runContext(engine, *ctx, in)), "");
}

TEST(EngineMemory, SizesArePerProfile) {
  Network net = testing::parseModel(testing::mlpModel(2, 4));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 2, 4));
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 64, 256));
  Engine engine = testing::buildEngine(net, config);
  EXPECT_LT(engine.deviceMemorySize(0), engine.deviceMemorySize(1));
  EXPECT_LE(engine.deviceMemorySize(1), engine.deviceMemorySizeWithoutReuse(1));
  EXPECT_THROW((void)engine.deviceMemorySize(2), std::exception);
  auto ctx = engine.createExecutionContext(ContextMemory::kUSER_MANAGED);
  ctx->setOptimizationProfile(0);
  EXPECT_EQ(ctx->requiredMemorySize(), engine.deviceMemorySize(0));
  ctx->setOptimizationProfile(1);
  EXPECT_EQ(ctx->requiredMemorySize(), engine.deviceMemorySize(1));
  DeviceBuffer memory(DeviceKind::kCPU, ctx->requiredMemorySize());
  ctx->setDeviceMemory(memory.data(), memory.size());
  std::map<std::string, ir::Tensor> in{{"x", randomInput({200, 16}, 3)}};
  EXPECT_EQ(compareOutputs(testing::reference(net, in), runContext(engine, *ctx, in)), "");
}

TEST(DebugTensors, AMarkedTensorStaysUnfusedAndReadsLikeTheReference) {
  Network net = testing::parseModel(testing::cnnModel(3));
  EXPECT_THROW(net.markDebug("no_such_tensor"), Error);
  net.markDebug("conv1_out");  // the Conv output that BatchNorm folding would otherwise fuse away
  EXPECT_TRUE(net.isDebug("conv1_out"));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  Engine engine = testing::buildEngine(net, config);
  EXPECT_EQ(engine.debugTensors(), (std::vector<std::string>{"conv1_out"}));
  bool bn1_kept = false, conv1_kept = false;
  for (const LayerInfo& l : engine.layers()) {
    if (l.op == "BatchNormalization" && l.inputs.at(0) == "conv1_out") bn1_kept = true;
    if (l.op == "Conv" && l.outputs.at(0) == "conv1_out") conv1_kept = true;
  }
  EXPECT_TRUE(bn1_kept && conv1_kept) << "conv1 was fused although its output is a debug tensor";

  auto ctx = engine.createExecutionContext();
  std::vector<float> host(5 * 8 * 8 * 8);
  EXPECT_THROW((void)ctx->readDebugTensor("conv1_out", host.data(), host.size() * 4), Error);  // not run yet
  for (int64_t batch : {5, 2}) {
    std::map<std::string, ir::Tensor> in{{"x", randomInput({batch, 3, 8, 8}, static_cast<uint32_t>(batch))}};
    auto out = runContext(engine, *ctx, in);
    std::map<std::string, ir::Tensor> ref = cpu::runReference(net.impl().graph, in, /*keep_all=*/true);
    EXPECT_EQ(compareOutputs({{"y", ref.at("y")}}, out), "");
    DataType type{};
    Dims dims = ctx->readDebugTensor("conv1_out", host.data(), host.size() * sizeof(float), &type);
    EXPECT_EQ(type, DataType::kFLOAT);
    ASSERT_EQ(dims, (Dims{batch, 8, 8, 8}));
    ir::Tensor got(DataType::kFLOAT, dims);
    std::memcpy(got.raw(), host.data(), got.byteSize());
    EXPECT_EQ(compareOutputs({{"conv1_out", ref.at("conv1_out")}}, {{"conv1_out", got}}), "") << "batch " << batch;
  }
  EXPECT_THROW((void)ctx->readDebugTensor("conv1_out", host.data(), 16), Error);
  EXPECT_THROW((void)ctx->readDebugTensor("relu1_out", host.data(), host.size() * 4), Error);  // not marked
}

}  // namespace
}  // namespace kiln
