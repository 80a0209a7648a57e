// BuilderConfig validation, optimization levels, the build report and the progress monitor,
// through the public API on the CPU backend.
#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <nlohmann/json.hpp>

#include "support/models.h"

namespace kiln {
namespace {

using testing::cpuConfig;
using testing::randomInput;
using Json = nlohmann::json;

// Expects the build to fail with kInvalidArgument and a message holding every `parts`.
void expectProfileError(const Network& net, const BuilderConfig& config, std::vector<std::string> parts) {
  try {
    (void)Builder::buildSerializedNetwork(net, config);
    ADD_FAILURE() << "the build accepted an invalid configuration";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

TEST(BuilderConfigValidation, MinOptMaxMustBeOrdered) {
  Network net = testing::parseModel(testing::cnnModel(1));
  BuilderConfig ok = cpuConfig();
  ok.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  for (auto [mn, op, mx] : {std::tuple{2, 1, 4}, std::tuple{1, 5, 4}, std::tuple{4, 4, 2}, std::tuple{-1, 1, 2}}) {
    BuilderConfig config = cpuConfig();
    config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 1, 1));
    config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, mn, op, mx));
    expectProfileError(net, config, {"optimization profile 1", "'x'", "min <= opt <= max"});
  }
  EXPECT_NO_THROW((void)Builder::buildSerializedNetwork(net, ok));
}

TEST(BuilderConfigValidation, EveryDynamicInputMustBeCovered) {
  Network net = testing::parseModel(testing::cnnModel(1));
  expectProfileError(net, cpuConfig(), {"'x'", "optimization profile"});
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  config.addOptimizationProfile(OptimizationProfile{});
  expectProfileError(net, config, {"optimization profile 1", "does not cover", "'x'"});
}

TEST(BuilderConfigValidation, UnknownInputNameIsRefused) {
  Network net = testing::parseModel(testing::cnnModel(1));
  BuilderConfig config = cpuConfig();
  OptimizationProfile p = testing::batchProfile("x", {3, 8, 8}, 1, 2, 4);
  p.setDimensions("images", ProfileDims{{1, 3, 8, 8}, {1, 3, 8, 8}, {1, 3, 8, 8}});
  config.addOptimizationProfile(p);
  expectProfileError(net, config, {"optimization profile 0", "'images'", "not an input"});
}

TEST(BuilderConfigValidation, RankMismatchIsRefused) {
  Network net = testing::parseModel(testing::cnnModel(1));
  BuilderConfig config = cpuConfig();
  OptimizationProfile p;
  p.setDimensions("x", ProfileDims{{1, 3, 8}, {2, 3, 8}, {4, 3, 8}});
  config.addOptimizationProfile(p);
  expectProfileError(net, config, {"optimization profile 0", "'x'", "rank 4"});
}

TEST(BuilderConfigValidation, FixedDimsMustBeRespected) {
  Network net = testing::parseModel(testing::cnnModel(1));
  BuilderConfig config = cpuConfig();
  OptimizationProfile p;
  p.setDimensions("x", ProfileDims{{1, 3, 8, 8}, {2, 3, 8, 8}, {4, 3, 9, 8}});
  config.addOptimizationProfile(p);
  expectProfileError(net, config, {"optimization profile 0", "'x'", "dimension 2 is fixed at 8"});
}

TEST(BuilderConfigValidation, SeveralOverlappingProfilesBuildAndRun) {
  Network net = testing::parseModel(testing::cnnModel(2));
  BuilderConfig config = cpuConfig();
  EXPECT_EQ(config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4)), 0);
  EXPECT_EQ(config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 2, 8, 16)), 1);
  EXPECT_EQ(config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 16, 16)), 2);
  std::string report;
  Engine engine = testing::buildEngine(net, config, &report);
  ASSERT_EQ(engine.numOptimizationProfiles(), 3);
  EXPECT_EQ(engine.profileDims("x", 1).opt, (Dims{8, 3, 8, 8}));
  EXPECT_EQ(engine.profileDims("x", 2).max, (Dims{16, 3, 8, 8}));
  Json j = Json::parse(report);
  std::set<int> profiles;
  for (const auto& l : j["layers"]) profiles.insert(l["profile"].get<int>());
  EXPECT_EQ(profiles, (std::set<int>{0, 1, 2}));
  for (int32_t p = 0; p < 3; ++p) {
    auto ctx = engine.createExecutionContext();
    ctx->setOptimizationProfile(p);
    std::map<std::string, ir::Tensor> in{{"x", randomInput({p == 0 ? 3 : 9, 3, 8, 8}, 40 + p)}};
    if (p == 0) in["x"] = randomInput({3, 3, 8, 8}, 40);
    auto out = testing::runContext(engine, *ctx, in);
    EXPECT_EQ(testing::compareOutputs(testing::reference(net, in), out), "") << "profile " << p;
  }
}

TEST(BuilderConfigValidation, StrippingWeightsNeedsRefit) {
  Network net = testing::parseModel(testing::cnnModel(1, 2));
  BuilderConfig config = cpuConfig();
  config.setFlag(BuilderFlag::kSTRIP_WEIGHTS);
  expectProfileError(net, config, {"refit"});
}

TEST(BuilderOptimizationLevel, LevelZeroTakesTheFirstValidTacticWithoutTiming) {
  Network net = testing::parseModel(testing::cnnModel(3));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  config.setOptimizationLevel(0);
  std::string report;
  Engine engine = testing::buildEngine(net, config, &report);
  Json j = Json::parse(report);
  EXPECT_EQ(j["timings"].get<int>(), 0);
  EXPECT_EQ(j["timing_cache"]["hits"].get<int>(), 0);
  EXPECT_EQ(j["timing_cache"]["misses"].get<int>(), 0);
  for (const auto& l : j["layers"]) {
    EXPECT_EQ(l["cache"].get<std::string>(), "none") << l["name"];
    EXPECT_EQ(l["choice"], l["candidates"][0]["tactic"]) << l["name"];
    for (const auto& c : l["candidates"]) EXPECT_LT(c["time_ms"].get<double>(), 0.0);
  }
  std::map<std::string, ir::Tensor> in{{"x", randomInput({5, 3, 8, 8}, 3)}};
  auto ctx = engine.createExecutionContext();
  EXPECT_EQ(testing::compareOutputs(testing::reference(net, in), testing::runContext(engine, *ctx, in)), "");

  // Higher levels do time.
  config.setOptimizationLevel(3);
  std::string timed;
  (void)Builder::buildSerializedNetwork(net, config, &timed);
  EXPECT_GT(Json::parse(timed)["timings"].get<int>(), 0);
}

// ---- report and progress monitor ------------------------------------------------------------

TEST(BuildReport, HasEveryTopLevelKeyAndPerLayerDetail) {
  Network net = testing::parseModel(testing::mlpModel(4));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 8, 32));
  std::string report;
  (void)Builder::buildSerializedNetwork(net, config, &report);
  Json j = Json::parse(report);
  for (const char* key : {"timings", "timing_cache", "wall_time_ms", "peak_host_memory_bytes", "peak_device_memory_bytes", "layers"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["timing_cache"].contains("hits"));
  EXPECT_TRUE(j["timing_cache"].contains("misses"));
  EXPECT_GT(j["timings"].get<int>(), 0);
  EXPECT_GT(j["wall_time_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_host_memory_bytes"].get<double>(), 0.0);
  ASSERT_GT(j["layers"].size(), 0u);
  int timed_layers = 0;
  for (const auto& l : j["layers"]) {
    for (const char* key : {"name", "op", "candidates", "choice", "source", "cache"}) EXPECT_TRUE(l.contains(key)) << key;
    ASSERT_GT(l["candidates"].size(), 0u);
    bool chosen_listed = false;
    for (const auto& c : l["candidates"]) {
      for (const char* key : {"source", "tactic", "id", "workspace", "time_ms"}) EXPECT_TRUE(c.contains(key)) << key;
      chosen_listed = chosen_listed || c["tactic"] == l["choice"];
    }
    EXPECT_TRUE(chosen_listed) << l["name"];
    // The choice is the fastest timed candidate.
    if (l["candidates"].size() > 1) {
      ++timed_layers;
      double best = 1e300;
      for (const auto& c : l["candidates"])
        if (c["time_ms"].get<double>() >= 0) best = std::min(best, c["time_ms"].get<double>());
      EXPECT_DOUBLE_EQ(l["time_ms"].get<double>(), best) << l["name"];
    }
  }
  EXPECT_EQ(j["timing_cache"]["misses"].get<int>() + j["timing_cache"]["hits"].get<int>(), timed_layers);
}

struct Monitor : ProgressMonitor {
  std::vector<std::tuple<int32_t, int32_t, std::string>> calls;
  int32_t cancel_at = -1;
  bool layerDone(int32_t done, int32_t total, const std::string& layer) override {
    calls.emplace_back(done, total, layer);
    return done != cancel_at;
  }
};

TEST(ProgressMonitor, SeesEveryLayerOfEveryProfile) {
  Network net = testing::parseModel(testing::cnnModel(5));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 4, 8, 8));
  Monitor monitor;
  config.setProgressMonitor(&monitor);
  std::string report;
  (void)Builder::buildSerializedNetwork(net, config, &report);
  Json j = Json::parse(report);
  ASSERT_EQ(monitor.calls.size(), j["layers"].size());
  const int32_t total = static_cast<int32_t>(j["layers"].size());
  for (size_t i = 0; i < monitor.calls.size(); ++i) {
    EXPECT_EQ(std::get<0>(monitor.calls[i]), static_cast<int32_t>(i + 1));
    EXPECT_EQ(std::get<1>(monitor.calls[i]), total);
    EXPECT_EQ(std::get<2>(monitor.calls[i]), j["layers"][i]["name"].get<std::string>());
  }
}

TEST(ProgressMonitor, CancellingThrowsAndWritesNothing) {
  Network net = testing::parseModel(testing::cnnModel(6));
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  Monitor monitor;
  monitor.cancel_at = 2;
  config.setProgressMonitor(&monitor);
  std::string report;
  std::vector<std::byte> plan;
  try {
    plan = Builder::buildSerializedNetwork(net, config, &report);
    FAIL() << "the build was not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
    EXPECT_NE(std::string(e.what()).find(std::get<2>(monitor.calls.back())), std::string::npos) << e.what();
  }
  EXPECT_EQ(monitor.calls.size(), 2u);
  EXPECT_TRUE(report.empty());
  EXPECT_TRUE(plan.empty());
}

}  // namespace
}  // namespace kiln
