// Every shape inside an optimization profile runs on the GPU: GEMM (MatMul + Add, Gemm with a
// bias) and convolution (with BatchNormalization folded into it, kiln's one fused layer so
// far), built with a 1..8..32 batch profile, FP32 and FP16, with each GPU source in turn
// tried first for those layers, and run at min, opt, max and odd batches between, against the
// CPU reference. Also several contexts at different shapes at once. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends/backend.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using Json = nlohmann::json;
using Tensors = std::map<std::string, ir::Tensor>;

constexpr int64_t kMin = 1, kOpt = 8, kMax = 32;
constexpr int64_t kBatches[] = {kMin, kOpt, kMax, 13, 3};

//! Orders, for GEMM and convolution layers, the candidates of `source` first. Built at
//! optimization level 0 (no timing), the builder takes the first allowed candidate that runs
//! at every shape of the profile: the preferred source's when one of them does, else another.
struct PreferSource : AlgorithmSelector {
  TacticSource source;
  std::map<std::string, std::string> chosen;  //!< layer -> tactic
  explicit PreferSource(TacticSource s) : source(s) {}
  std::vector<size_t> selectAlgorithms(const std::string&, const std::string& op, int32_t,
                                       std::span<const TacticInfo> candidates) override {
    std::vector<size_t> order;
    const bool heavy = op == "MatMul" || op == "Gemm" || op == "Conv" || op == "FusedConv";
    for (size_t i = 0; i < candidates.size(); ++i)
      if (heavy && candidates[i].source == source) order.push_back(i);
    for (size_t i = 0; i < candidates.size(); ++i)
      if (!heavy || candidates[i].source != source) order.push_back(i);
    return order;
  }
  void reportAlgorithms(int32_t, std::span<const std::string> layers, std::span<const TacticInfo> choices) override {
    for (size_t i = 0; i < layers.size(); ++i) chosen[layers[i]] = choices[i].name;
  }
};

struct Model {
  const char* name;
  onnx::ModelProto proto;
  Dims rest;
};

std::vector<Model> models() {
  return {{"cnn (Conv+BN, Gemm)", testing::cnnModel(71), {3, 8, 8}},
          {"mlp (MatMul+Add)", testing::mlpModel(72, 3), {16}}};
}

Tensors input(const Model& m, int64_t batch, uint32_t seed) {
  Dims shape = {batch};
  shape.insert(shape.end(), m.rest.begin(), m.rest.end());
  return {{"x", testing::randomInput(shape, seed)}};
}

TEST(GpuProfileRange, GemmAndConvRunAtMinOptMaxAndOddBatchesWithEverySourcePreferred) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Model& m : models()) {
    Network net = testing::parseModel(m.proto);
    for (bool fp16 : {false, true}) {
      const double tol = fp16 ? 1e-2 : 1e-4;
      for (TacticSource source :
           {TacticSource::kCUBLAS_LT, TacticSource::kCUBLAS, TacticSource::kCUDNN, TacticSource::kKILN_CUDA}) {
        const std::string what =
            std::string(m.name) + (fp16 ? " fp16" : " fp32") + ", " + std::string(toString(source)) + " preferred";
        PreferSource selector(source);
        BuilderConfig config;
        config.setDevice(DeviceKind::kGPU);
        config.setFlag(BuilderFlag::kTF32, false);
        if (fp16) config.setFlag(BuilderFlag::kFP16);
        config.addOptimizationProfile(testing::batchProfile("x", m.rest, kMin, kOpt, kMax));
        config.setAlgorithmSelector(&selector);
        config.setOptimizationLevel(0);
        std::unique_ptr<Engine> engine;
        try {
          engine = std::make_unique<Engine>(testing::buildEngine(net, config));
        } catch (const Error& e) {
          ADD_FAILURE() << what << ": build failed: " << e.what();
          continue;
        }
        std::string tactics;
        for (const auto& [layer, tactic] : selector.chosen) tactics += " " + layer + "=" + tactic;
        std::cout << what << ":" << tactics << "\n";  // which source each layer ended with
        auto ctx = engine->createExecutionContext();
        Stream stream(DeviceKind::kGPU);
        testing::GpuIO io;
        for (int64_t batch : kBatches) {
          Tensors in = input(m, batch, static_cast<uint32_t>(100 + batch));
          try {
            EXPECT_EQ(testing::compareOutputs(testing::reference(net, in),
                                              testing::runGpu(*engine, *ctx, in, stream, io), tol, tol),
                      "")
                << what << ", batch " << batch << "; tactics:" << tactics;
          } catch (const Error& e) {
            ADD_FAILURE() << what << ", batch " << batch << ": " << e.what() << "; tactics:" << tactics;
          }
        }
      }
    }
  }
}

TEST(GpuProfileRange, ContextsAtDifferentShapesRunAtOnceFromTheirThreads) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (bool graphs : {false, true}) {
    Model m = models()[0];
    Network net = testing::parseModel(m.proto);
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(BuilderFlag::kTF32, false);
    config.addOptimizationProfile(testing::batchProfile("x", m.rest, kMin, kOpt, kMax));
    Engine engine = testing::buildEngine(net, config);
    constexpr int kThreads = 6;
    std::vector<std::vector<Tensors>> inputs(kThreads), expected(kThreads);
    for (int t = 0; t < kThreads; ++t)
      for (int r = 0; r < 3; ++r) {
        const int64_t batch = 1 + (7 * t + 11 * r) % kMax;
        inputs[t].push_back(input(m, batch, static_cast<uint32_t>(500 + 10 * t + r)));
        expected[t].push_back(testing::reference(net, inputs[t].back()));
      }
    std::vector<std::string> failure(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        try {
          auto ctx = engine.createExecutionContext();
          ctx->setCudaGraphMode(graphs);
          Stream stream(DeviceKind::kGPU);
          testing::GpuIO io;
          for (int r = 0; r < 12 && failure[t].empty(); ++r) {
            const size_t k = static_cast<size_t>(r) % inputs[t].size();
            failure[t] = testing::compareOutputs(expected[t][k],
                                                 testing::runGpu(engine, *ctx, inputs[t][k], stream, io), 1e-4, 1e-4);
          }
        } catch (const std::exception& e) {
          failure[t] = e.what();
        }
      });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failure[t], "") << "thread " << t << (graphs ? " (CUDA graphs)" : "");
  }
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// The precision guard on GPU engines: the scaled network (x 1e6 then / 1e6, and x 1e-9 then
// / 1e-9) is wrong in a plain float16 engine and within 1e-2 of float32 with the guard.
TEST(GpuPrecisionGuard, Float16EngineIsRightOnlyWithTheGuard) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (float scale : {1e6f, 1e-9f}) {
    Network net = testing::parseModel(testing::scaledModel(11, scale));
    for (bool guard : {false, true}) {
      BuilderConfig config;
      config.setDevice(DeviceKind::kGPU);
      config.setFlag(BuilderFlag::kFP16);
      config.setPrecisionGuard(guard);
      config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
      Engine engine = testing::buildEngine(net, config);
      auto ctx = engine.createExecutionContext();
      Stream stream(DeviceKind::kGPU);
      testing::GpuIO io;
      Tensors in = {{"x", testing::randomInput({5, 16}, 77)}};
      const ir::Tensor expected = testing::reference(net, in).at("y");
      const ir::Tensor actual = testing::runGpu(engine, *ctx, in, stream, io).at("y");
      const std::vector<double> a = expected.toDouble(), b = actual.toDouble();
      double num = 0, den = 0;
      bool finite = true;
      for (size_t i = 0; i < a.size(); ++i) {
        finite = finite && std::isfinite(b[i]);
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += a[i] * a[i];
      }
      const double error = finite ? std::sqrt(num / den) : INFINITY;
      if (guard) {
        EXPECT_LE(error, 1e-2) << "scale " << scale << " with the guard";
      } else {
        EXPECT_GT(error, 1e-2) << "scale " << scale << ": the test network does not break float16 on the GPU";
      }
    }
  }
}

}  // namespace
}  // namespace kiln
