// The builder/runtime machinery on the GPU backend, through the public API with device
// buffers and streams, compared with the CPU reference on the same network: tactic sources,
// timing cache, algorithm selector, profiles, refit, concurrent contexts, CUDA graphs, the
// per-layer profiler, user memory. Every test skips without a GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <tuple>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "backends/backend.h"
#include "backends/cpu/reference.h"
#include "runtime/network_impl.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::compareOutputs;
using testing::GpuIO;
using testing::runGpu;
using testing::randomInput;
using testing::reference;
using Json = nlohmann::json;
using Tensors = std::map<std::string, ir::Tensor>;

constexpr double kFp32Tol = 1e-4;  // TF32 off
constexpr double kFp16Tol = 1e-2;

BuilderConfig gpuConfig(const std::string& input, const Dims& rest, int64_t min, int64_t opt, int64_t max) {
  BuilderConfig config;
  config.setDevice(DeviceKind::kGPU);
  config.setFlag(BuilderFlag::kTF32, false);
  config.addOptimizationProfile(testing::batchProfile(input, rest, min, opt, max));
  return config;
}
BuilderConfig cnnGpuConfig() { return gpuConfig("x", {3, 8, 8}, 1, 4, 16); }
BuilderConfig mlpGpuConfig() { return gpuConfig("x", {16}, 1, 8, 64); }

Tensors runOnce(Engine& engine, const Tensors& inputs) {
  auto ctx = engine.createExecutionContext();
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  return runGpu(engine, *ctx, inputs, stream, io);
}

Tensors cnnInput(int64_t batch, uint32_t seed) { return {{"x", randomInput({batch, 3, 8, 8}, seed)}}; }
Tensors mlpInput(int64_t batch, uint32_t seed) { return {{"x", randomInput({batch, 16}, seed)}}; }

std::set<std::string> candidateSources(const Json& report) {
  std::set<std::string> s;
  for (const auto& l : report["layers"])
    for (const auto& c : l["candidates"]) s.insert(c["source"].get<std::string>());
  return s;
}

TEST(GpuMachinery, BuildAndRunMatchCpuReferenceInFp32) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (bool cnn : {true, false}) {
    Network net = testing::parseModel(cnn ? testing::cnnModel(1) : testing::mlpModel(1, 3));
    Engine engine = testing::buildEngine(net, cnn ? cnnGpuConfig() : mlpGpuConfig());
    EXPECT_EQ(engine.device(), DeviceKind::kGPU);
    EXPECT_EQ(engine.compatibility().architecture.rfind("sm_", 0), 0u);
    for (int64_t batch : {1, 3, 16}) {
      Tensors in = cnn ? cnnInput(batch, 10 + batch) : mlpInput(batch, 20 + batch);
      EXPECT_EQ(compareOutputs(reference(net, in), runOnce(engine, in), kFp32Tol, kFp32Tol), "")
          << (cnn ? "cnn" : "mlp") << " batch " << batch;
    }
    // The plan round trip on the GPU.
    Engine reloaded = Engine::deserialize(engine.serialize());
    Tensors in = cnn ? cnnInput(5, 1) : mlpInput(5, 1);
    EXPECT_EQ(compareOutputs(runOnce(engine, in), runOnce(reloaded, in), 0, 0), "");
  }
}

TEST(GpuMachinery, Fp16BuildMatchesWithinItsTolerance) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(2));
  BuilderConfig config = cnnGpuConfig();
  config.setFlag(BuilderFlag::kFP16);
  Engine engine = testing::buildEngine(net, config);
  bool half = false;
  for (const LayerInfo& l : engine.layers()) half = half || l.precision == "float16";
  EXPECT_TRUE(half) << "no layer runs in float16";
  for (int64_t batch : {2, 7}) {
    Tensors in = cnnInput(batch, 30 + batch);
    EXPECT_EQ(compareOutputs(reference(net, in), runOnce(engine, in), kFp16Tol, kFp16Tol), "") << "batch " << batch;
  }
}

TEST(GpuMachinery, WarmTimingCacheRebuildIsIdenticalWithZeroTimings) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(3));
  TimingCache cold;
  BuilderConfig config = cnnGpuConfig();
  config.setTimingCache(&cold);
  std::string r1;
  std::vector<std::byte> plan1 = Builder::buildSerializedNetwork(net, config, &r1);
  EXPECT_GT(Json::parse(r1)["timings"].get<int>(), 0);
  TimingCache warm = TimingCache::deserialize(cold.serialize());
  config.setTimingCache(&warm);
  std::string r2;
  std::vector<std::byte> plan2 = Builder::buildSerializedNetwork(net, config, &r2);
  Json j2 = Json::parse(r2);
  EXPECT_EQ(j2["timings"].get<int>(), 0);
  EXPECT_EQ(j2["timing_cache"]["misses"].get<int>(), 0);
  EXPECT_GT(j2["timing_cache"]["hits"].get<int>(), 0);
  EXPECT_TRUE(plan1 == plan2) << "a warm GPU rebuild wrote a different plan";
  Engine engine = Engine::deserialize(plan2);
  Tensors in = cnnInput(4, 3);
  EXPECT_EQ(compareOutputs(reference(net, in), runOnce(engine, in), kFp32Tol, kFp32Tol), "");
}

struct Selector : AlgorithmSelector {
  std::function<std::vector<size_t>(const std::string&, std::span<const TacticInfo>)> choose;
  std::map<std::string, std::vector<TacticInfo>> seen;
  std::vector<TacticInfo> reported;
  std::vector<size_t> selectAlgorithms(const std::string& layer, const std::string&, int32_t,
                                       std::span<const TacticInfo> candidates) override {
    seen[layer].assign(candidates.begin(), candidates.end());
    return choose(layer, candidates);
  }
  void reportAlgorithms(int32_t, std::span<const std::string>, std::span<const TacticInfo> choices) override {
    reported.assign(choices.begin(), choices.end());
  }
};

TEST(GpuMachinery, AlgorithmSelectorRestrictsAndDenies) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(4));
  Selector last;
  last.choose = [](const std::string&, std::span<const TacticInfo> c) { return std::vector<size_t>{c.size() - 1}; };
  BuilderConfig config = cnnGpuConfig();
  config.setAlgorithmSelector(&last);
  Engine engine = testing::buildEngine(net, config);
  size_t k = 0;
  for (const LayerInfo& l : engine.layers()) {
    if (l.tactic == "host" || l.tactic == "view:alias") continue;  // nothing to choose for a view
    ASSERT_TRUE(last.seen.count(l.name)) << l.name;
    for (const TacticInfo& t : last.seen[l.name]) EXPECT_FALSE(t.name.empty());
    EXPECT_EQ(l.tactic_id, last.seen[l.name].back().id) << l.name;
    ASSERT_LT(k, last.reported.size());
    EXPECT_EQ(last.reported[k++].id, l.tactic_id);
  }
  Tensors in = cnnInput(3, 4);
  EXPECT_EQ(compareOutputs(reference(net, in), runOnce(engine, in), kFp32Tol, kFp32Tol), "");

  Selector deny;
  deny.choose = [](const std::string& layer, std::span<const TacticInfo> c) {
    std::vector<size_t> all;
    if (layer != "fc")
      for (size_t i = 0; i < c.size(); ++i) all.push_back(i);
    return all;
  };
  BuilderConfig config2 = cnnGpuConfig();
  config2.setAlgorithmSelector(&deny);
  try {
    (void)Builder::buildSerializedNetwork(net, config2);
    FAIL() << "built with every tactic of 'fc' denied";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(std::string(e.what()).find("'fc'"), std::string::npos) << e.what();
  }
}

TEST(GpuMachinery, TacticSourcesOffRemoveTheirTactics) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(5));
  std::string all_report;
  (void)Builder::buildSerializedNetwork(net, cnnGpuConfig(), &all_report);
  std::set<std::string> all_sources = candidateSources(Json::parse(all_report));
  EXPECT_TRUE(all_sources.count("kiln")) << "kiln's CUDA kernels offer nothing";
  EXPECT_GE(all_sources.size(), 2u) << "only one GPU source offers tactics";
  for (TacticSource off : {TacticSource::kCUDNN, TacticSource::kCUBLAS_LT, TacticSource::kCUBLAS, TacticSource::kKILN_CUDA}) {
    BuilderConfig config = cnnGpuConfig();
    config.setTacticSource(off, false);
    std::string report;
    std::vector<std::byte> plan;
    try {
      plan = Builder::buildSerializedNetwork(net, config, &report);
    } catch (const Error& e) {
      // Only kiln's own kernels cover every op (Relu, pooling): without them a layer is left
      // with nothing, and that must be the clear build error.
      EXPECT_EQ(off, TacticSource::kKILN_CUDA) << e.what();
      EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
      continue;
    }
    EXPECT_EQ(candidateSources(Json::parse(report)).count(std::string(toString(off))), 0u) << toString(off);
    Engine engine = Engine::deserialize(plan);
    for (const LayerInfo& l : engine.layers()) {
      if (l.tactic != "host") {
        EXPECT_NE(l.source, off) << l.name;
      }
    }
    Tensors in = cnnInput(3, 50);
    EXPECT_EQ(compareOutputs(reference(net, in), runOnce(engine, in), kFp32Tol, kFp32Tol), "") << "without " << toString(off);
  }
  BuilderConfig none = cnnGpuConfig();
  for (int32_t s = 0; s < kNumTacticSources; ++s) none.setTacticSource(static_cast<TacticSource>(s), false);
  try {
    (void)Builder::buildSerializedNetwork(net, none);
    FAIL() << "built with every source off";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(std::string(e.what()).find("conv1"), std::string::npos) << e.what();
  }
}

TEST(GpuMachinery, TwoProfilesArePickedAutomatically) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::mlpModel(6, 2));
  BuilderConfig config = gpuConfig("x", {16}, 1, 2, 4);
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 128, 256));
  Engine engine = testing::buildEngine(net, config);
  ASSERT_EQ(engine.numOptimizationProfiles(), 2);
  EXPECT_LT(engine.deviceMemorySize(0), engine.deviceMemorySize(1));
  auto ctx = engine.createExecutionContext();
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  for (int64_t batch : {3, 200, 1, 77, 4}) {
    Tensors in = mlpInput(batch, static_cast<uint32_t>(60 + batch));
    Tensors out = runGpu(engine, *ctx, in, stream, io);
    EXPECT_EQ(ctx->optimizationProfile(), batch <= 4 ? 0 : 1) << batch;
    EXPECT_EQ(compareOutputs(reference(net, in), out, kFp32Tol, kFp32Tol), "") << "batch " << batch;
  }
}

TEST(GpuMachinery, RefitEqualsARebuiltEngine) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(7));
  BuilderConfig config = cnnGpuConfig();
  config.setFlag(BuilderFlag::kREFIT);
  Engine engine = testing::buildEngine(net, config);
  testing::Weights fresh = testing::cnnWeights(70);
  Network new_net = testing::parseModel(testing::cnnModel(7, -1, fresh));
  Engine rebuilt = testing::buildEngine(new_net, config);
  auto ctx = engine.createExecutionContext();
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  Tensors in = cnnInput(5, 7);
  Tensors before = runGpu(engine, *ctx, in, stream, io);
  Refitter refitter(engine);
  refitter.setNamedWeights("conv1.W", DataType::kFLOAT, fresh.at("conv1.W").shape(), fresh.at("conv1.W").bytes());
  EXPECT_FALSE(refitter.missingWeights().empty());
  for (const auto& [name, t] : fresh) refitter.setNamedWeights(name, t.type(), t.shape(), t.bytes());
  EXPECT_TRUE(refitter.missingWeights().empty());
  (void)refitter.refit();
  for (int64_t batch : {5, 2, 16}) {
    Tensors x = cnnInput(batch, static_cast<uint32_t>(71 + batch));
    Tensors got = runGpu(engine, *ctx, x, stream, io);
    EXPECT_LE(testing::maxAbsDiff(got.at("y"), runOnce(rebuilt, x).at("y")), 1e-5) << "batch " << batch;
    EXPECT_EQ(compareOutputs(reference(new_net, x), got, kFp32Tol, kFp32Tol), "") << "batch " << batch;
  }
  EXPECT_GT(testing::maxAbsDiff(before.at("y"), runGpu(engine, *ctx, in, stream, io).at("y")), 1e-3);
}

TEST(GpuMachinery, FourContextsOnTheirOwnStreamsFromFourThreads) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(8));
  Engine engine = testing::buildEngine(net, cnnGpuConfig());
  constexpr int kThreads = 4, kRuns = 25;
  std::vector<std::vector<Tensors>> inputs(kThreads), expected(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int r = 0; r < 3; ++r) {
      inputs[t].push_back(cnnInput(1 + (3 * t + 5 * r) % 16, static_cast<uint32_t>(800 + 10 * t + r)));
      expected[t].push_back(reference(net, inputs[t].back()));
    }
  std::vector<std::string> failure(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        auto ctx = engine.createExecutionContext();
        Stream stream(DeviceKind::kGPU);
        GpuIO io;
        for (int r = 0; r < kRuns && failure[t].empty(); ++r) {
          const size_t k = static_cast<size_t>(r) % inputs[t].size();
          std::string d = compareOutputs(expected[t][k], runGpu(engine, *ctx, inputs[t][k], stream, io), kFp32Tol, kFp32Tol);
          if (!d.empty()) failure[t] = "run " + std::to_string(r) + ": " + d;
        }
      } catch (const std::exception& e) {
        failure[t] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failure[t], "") << "thread " << t;
}

TEST(GpuMachinery, CudaGraphModeRecapturesOnShapeChangesBoundedAndCorrect) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::mlpModel(9, 4));
  Engine engine = testing::buildEngine(net, mlpGpuConfig());
  auto ctx = engine.createExecutionContext();
  ctx->setCudaGraphMode(true);
  EXPECT_TRUE(ctx->cudaGraphMode());
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  // Buffers sized for the largest batch once, so the addresses stay the same.
  (void)io.get("x", 64 * 16 * 4);
  (void)io.get("y", 64 * 8 * 4);
  EXPECT_EQ(ctx->cudaGraphCount(), 0u);
  Tensors in = mlpInput(8, 90);
  for (int r = 0; r < 3; ++r)
    EXPECT_EQ(compareOutputs(reference(net, in), runGpu(engine, *ctx, in, stream, io), kFp32Tol, kFp32Tol), "");
  EXPECT_EQ(ctx->cudaGraphCount(), 1u) << "replays should reuse the captured graph";
  size_t previous = 1;
  size_t peak = 1;
  const int64_t batches[] = {3, 17, 64, 1, 33, 9, 50, 2, 8, 31, 5, 12};
  for (int64_t batch : batches) {
    Tensors x = mlpInput(batch, static_cast<uint32_t>(91 + batch));
    Tensors first = runGpu(engine, *ctx, x, stream, io);
    EXPECT_EQ(compareOutputs(reference(net, x), first, kFp32Tol, kFp32Tol), "") << "batch " << batch << " (capture)";
    const size_t count = ctx->cudaGraphCount();
    if (previous < 8) {
      EXPECT_GT(count, previous) << "no new graph for batch " << batch;
    }
    previous = count;
    peak = std::max(peak, count);
    // The replay of the fresh graph gives the same outputs.
    EXPECT_EQ(compareOutputs(first, runGpu(engine, *ctx, x, stream, io), 0, 0), "") << "batch " << batch << " (replay)";
    EXPECT_EQ(ctx->cudaGraphCount(), count);
  }
  EXPECT_LE(peak, 8u) << "the graph cache is unbounded";
  EXPECT_GE(peak, 4u);
  ctx->setCudaGraphMode(false);
  EXPECT_EQ(ctx->cudaGraphCount(), 0u);
  Tensors x = mlpInput(6, 99);
  EXPECT_EQ(compareOutputs(reference(net, x), runGpu(engine, *ctx, x, stream, io), kFp32Tol, kFp32Tol), "");
}

struct LayerTimes : Profiler {
  std::vector<std::tuple<std::string, std::string, TacticSource, float>> times;
  void reportLayerTime(std::string_view layer, std::string_view tactic, TacticSource source, float ms) override {
    times.emplace_back(std::string(layer), std::string(tactic), source, ms);
  }
};

TEST(GpuMachinery, PerLayerProfilerReportsEveryDeviceLayerWithATime) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(10));
  Engine engine = testing::buildEngine(net, cnnGpuConfig());
  auto ctx = engine.createExecutionContext();
  LayerTimes profiler;
  ctx->setProfiler(&profiler);
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  Tensors in = cnnInput(6, 10);
  EXPECT_EQ(compareOutputs(reference(net, in), runGpu(engine, *ctx, in, stream, io), kFp32Tol, kFp32Tol), "");
  ctx->reportProfile();
  std::vector<std::string> device_layers;
  for (const LayerInfo& l : engine.layers())
    if (l.tactic != "host" && l.tactic != "view:alias") device_layers.push_back(l.name);  // views run nothing
  ASSERT_EQ(profiler.times.size(), device_layers.size());
  for (size_t i = 0; i < device_layers.size(); ++i) {
    EXPECT_EQ(std::get<0>(profiler.times[i]), device_layers[i]);
    EXPECT_FALSE(std::get<1>(profiler.times[i]).empty());
    EXPECT_GE(std::get<3>(profiler.times[i]), 0.0f) << device_layers[i];
  }
  // A second run reports again; detaching stops the reports.
  (void)runGpu(engine, *ctx, in, stream, io);
  ctx->reportProfile();
  EXPECT_EQ(profiler.times.size(), 2 * device_layers.size());
  ctx->setProfiler(nullptr);
  (void)runGpu(engine, *ctx, in, stream, io);
  EXPECT_EQ(profiler.times.size(), 2 * device_layers.size());
}

TEST(GpuMachinery, UserManagedAndShapeSizedMemoryGiveTheSameOutputs) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(11));
  Engine engine = testing::buildEngine(net, cnnGpuConfig());
  Tensors in = cnnInput(5, 11);
  Tensors expected = runOnce(engine, in);
  ASSERT_EQ(compareOutputs(reference(net, in), expected, kFp32Tol, kFp32Tol), "");
  auto user = engine.createExecutionContext(ContextMemory::kUSER_MANAGED);
  DeviceBuffer memory(DeviceKind::kGPU, user->requiredMemorySize());
  user->setDeviceMemory(memory.data(), memory.size());
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  EXPECT_EQ(compareOutputs(expected, runGpu(engine, *user, in, stream, io), 0, 0), "");
  auto sized = engine.createExecutionContext(ContextMemory::kSHAPE_SIZED);
  GpuIO io2;
  EXPECT_EQ(compareOutputs(expected, runGpu(engine, *sized, in, stream, io2), 0, 0), "");
  Tensors big = cnnInput(16, 12);
  EXPECT_EQ(compareOutputs(reference(net, big), runGpu(engine, *sized, big, stream, io2), kFp32Tol, kFp32Tol), "");
}

TEST(GpuMachinery, DebugTensorReadsLikeTheReference) {
  if (!kiln::backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::cnnModel(12));
  net.markDebug("conv1_out");
  Engine engine = testing::buildEngine(net, cnnGpuConfig());
  auto ctx = engine.createExecutionContext();
  Stream stream(DeviceKind::kGPU);
  GpuIO io;
  Tensors in = cnnInput(3, 12);
  (void)runGpu(engine, *ctx, in, stream, io);
  Tensors ref = cpu::runReference(net.impl().graph, in, true);
  ir::Tensor got(DataType::kFLOAT, {3, 8, 8, 8});
  Dims dims = ctx->readDebugTensor("conv1_out", got.raw(), got.byteSize());
  EXPECT_EQ(dims, (Dims{3, 8, 8, 8}));
  EXPECT_EQ(compareOutputs({{"conv1_out", ref.at("conv1_out")}}, {{"conv1_out", got}}, kFp32Tol, kFp32Tol), "");
}

}  // namespace
}  // namespace kiln
