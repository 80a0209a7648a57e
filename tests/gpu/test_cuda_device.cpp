// The CUDA device: memory and copies, events and timing, graph capture and replay.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

TEST(CudaDevice, ReportsItsIdentityAndArchitecture) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  EXPECT_EQ(gpu->kind(), DeviceKind::kGPU);
  EXPECT_EQ(gpu->architecture().rfind("sm_", 0), 0u) << gpu->architecture();
  std::string id = gpu->identity();
  EXPECT_EQ(id.rfind("cuda:" + gpu->architecture() + ":", 0), 0u) << id;
  EXPECT_NE(id.find("sm:cudart"), std::string::npos) << id;
  EXPECT_NE(id.find(":cublas"), std::string::npos) << id;
  EXPECT_NE(id.find(":cudnn"), std::string::npos) << id;
  EXPECT_FALSE(gpu->description().empty());
  EXPECT_EQ(&backend::device(DeviceKind::kGPU), gpu);
}

TEST(CudaDevice, CopiesRoundTripThroughDeviceAndPinnedMemory) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  const size_t n = 1000003;  // odd size
  std::vector<float> src(n);
  std::iota(src.begin(), src.end(), 0.5f);
  void* stream = gpu->createStream();
  auto* pinned = static_cast<float*>(gpu->allocateHost(n * sizeof(float)));
  std::memcpy(pinned, src.data(), n * sizeof(float));
  void* a = gpu->allocate(n * sizeof(float));
  void* b = gpu->allocate(n * sizeof(float));
  gpu->copyToDevice(a, pinned, n * sizeof(float), stream);
  gpu->copyOnDevice(b, a, n * sizeof(float), stream);
  std::vector<float> back(n, -1.0f);
  gpu->copyToHost(back.data(), b, n * sizeof(float), stream);
  gpu->synchronize(stream);
  EXPECT_EQ(back, src);

  gpu->memset(b, 0, 16 * sizeof(float), stream);
  gpu->copyToHost(back.data(), b, 17 * sizeof(float), stream);
  gpu->synchronize(stream);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(back[i], 0.0f);
  EXPECT_EQ(back[16], src[16]);

  gpu->free(a);
  gpu->free(b);
  gpu->free(nullptr);
  gpu->freeHost(pinned);
  gpu->destroyStream(stream);
}

TEST(CudaDevice, AllocationFailureIsAnErrorNamingTheSize) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  try {
    gpu->allocate(size_t{1} << 50);
    FAIL() << "a petabyte allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime);
    EXPECT_NE(std::string(e.what()).find(std::to_string(size_t{1} << 50)), std::string::npos) << e.what();
  }
}

TEST(CudaDevice, EventsMeasureElapsedTime) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  void* stream = gpu->createStream();
  void* start = gpu->createEvent();
  void* end = gpu->createEvent();
  void* buf = gpu->allocate(64 << 20);
  gpu->recordEvent(start, stream);
  for (int i = 0; i < 4; ++i) gpu->memset(buf, i, 64 << 20, stream);
  gpu->recordEvent(end, stream);
  float ms = gpu->elapsedMs(start, end);
  EXPECT_GT(ms, 0.0f);
  EXPECT_LT(ms, 10000.0f);
  gpu->free(buf);
  gpu->destroyEvent(start);
  gpu->destroyEvent(end);
  gpu->destroyStream(stream);
}

TEST(CudaDevice, TimeReturnsOneTimePerRepeatAfterWarmup) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  void* buf = gpu->allocate(16 << 20);
  int calls = 0;
  std::vector<double> times = gpu->time(
      [&](void* stream) {
        ++calls;
        gpu->memset(buf, calls, 16 << 20, stream);
      },
      3, 5);
  EXPECT_EQ(calls, 8);
  ASSERT_EQ(times.size(), 5u);
  for (double t : times) EXPECT_GE(t, 0.0);
  gpu->free(buf);
}

//! A Relu layer through cuda.elementwise, captured into a graph; the graph is replayed after
//! the input buffer changes, and must read the new values.
TEST(CudaDevice, CapturedGraphReplaysKernelsOnNewData) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cuda.elementwise");
  ASSERT_NE(provider, nullptr);
  ir::Graph g = testing::makeNodeGraph("Relu", {{"x", DataType::kFLOAT, {3, 333}}}, {});
  const ir::Node& node = g.nodes[0];
  backend::LayerView layer{.node = &node, .opset = g.opset};
  layer.inputs.push_back({DataType::kFLOAT, {3, 333}, true});
  layer.constants.push_back(nullptr);
  layer.host_values.push_back(nullptr);
  layer.outputs.push_back({DataType::kFLOAT, {3, 333}, true});
  auto configs = provider->candidates(layer, layer, layer, {});
  ASSERT_FALSE(configs.empty());
  auto kernel = provider->instantiate(layer, configs[0], *gpu);
  kernel->reshape(layer);

  const size_t n = 3 * 333;
  void* in = gpu->allocate(n * sizeof(float));
  void* out = gpu->allocate(n * sizeof(float));
  void* stream = gpu->createStream();
  std::vector<const void*> ins = {in};
  std::vector<void*> outs = {out};
  void* graph = gpu->captureGraph(
      [&](void* s) {
        kernel->run(backend::RunArgs{.layer = &layer, .inputs = ins, .outputs = outs, .stream = s});
      },
      stream);
  ASSERT_NE(graph, nullptr);

  for (int round = 0; round < 2; ++round) {
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = (i % 7 == 0 ? -1.0f : 1.0f) * static_cast<float>(i + round);
    gpu->copyToDevice(in, x.data(), n * sizeof(float), stream);
    gpu->memset(out, 0xff, n * sizeof(float), stream);
    gpu->launchGraph(graph, stream);
    std::vector<float> y(n);
    gpu->copyToHost(y.data(), out, n * sizeof(float), stream);
    gpu->synchronize(stream);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] < 0 ? 0.0f : x[i]) << "round " << round << " element " << i;
  }
  gpu->destroyGraph(graph);
  gpu->destroyStream(stream);
  gpu->free(in);
  gpu->free(out);
}

TEST(CudaDevice, CaptureOfAThrowingFunctionLeavesTheStreamUsable) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  void* stream = gpu->createStream();
  void* buf = gpu->allocate(1024);
  EXPECT_THROW(gpu->captureGraph(
                   [&](void* s) {
                     gpu->memset(buf, 1, 1024, s);
                     throw Error(ErrorCode::kInternal, "deliberate");
                   },
                   stream),
               Error);
  gpu->memset(buf, 2, 1024, stream);
  unsigned char host[1024];
  gpu->copyToHost(host, buf, 1024, stream);
  gpu->synchronize(stream);
  EXPECT_EQ(host[1023], 2);
  gpu->free(buf);
  gpu->destroyStream(stream);
}

TEST(CudaDevice, NvtxRangesNest) {
  backend::Device* gpu = backend::gpuDevice();
  if (!gpu) GTEST_SKIP() << "no GPU";
  gpu->pushRange("outer");
  gpu->pushRange("inner");
  gpu->popRange();
  gpu->popRange();
}

}  // namespace
}  // namespace kiln
