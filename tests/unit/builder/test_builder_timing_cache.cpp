// The timing cache in real builds on the CPU backend: a warm rebuild does no timing and writes
// a byte-identical plan; caches combine; a foreign device's entries are ignored with a
// warning; damaged cache bytes are a clear error.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "builder/timing_cache_impl.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::cpuConfig;
using Json = nlohmann::json;

BuilderConfig cnnConfig(TimingCache* cache) {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  config.setTimingCache(cache);
  return config;
}

BuilderConfig mlpConfig(TimingCache* cache) {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 8, 16));
  config.setTimingCache(cache);
  return config;
}

int timedLayers(const Json& j) {
  int n = 0;
  for (const auto& l : j["layers"]) n += l["candidates"].size() > 1 ? 1 : 0;
  return n;
}

TEST(BuilderTimingCache, WarmRebuildDoesNoTimingAndWritesAnIdenticalPlan) {
  Network net = testing::parseModel(testing::cnnModel(1));
  TimingCache cold;
  std::string report1;
  std::vector<std::byte> plan1 = Builder::buildSerializedNetwork(net, cnnConfig(&cold), &report1);
  Json j1 = Json::parse(report1);
  ASSERT_GT(timedLayers(j1), 0);
  EXPECT_GT(j1["timings"].get<int>(), 0);
  EXPECT_EQ(j1["timing_cache"]["hits"].get<int>(), 0);
  EXPECT_EQ(j1["timing_cache"]["misses"].get<int>(), timedLayers(j1));
  EXPECT_GT(cold.size(), 0u);

  // Through bytes into a fresh cache, as a file would.
  std::vector<std::byte> bytes = cold.serialize();
  TimingCache warm = TimingCache::deserialize(bytes);
  EXPECT_EQ(warm.size(), cold.size());
  std::string report2;
  std::vector<std::byte> plan2 = Builder::buildSerializedNetwork(net, cnnConfig(&warm), &report2);
  Json j2 = Json::parse(report2);
  EXPECT_EQ(j2["timings"].get<int>(), 0);
  EXPECT_EQ(j2["timing_cache"]["misses"].get<int>(), 0);
  EXPECT_EQ(j2["timing_cache"]["hits"].get<int>(), timedLayers(j2));
  for (const auto& l : j2["layers"])
    if (l["candidates"].size() > 1) { EXPECT_EQ(l["cache"].get<std::string>(), "hit") << l["name"]; }
  ASSERT_EQ(plan1.size(), plan2.size());
  EXPECT_TRUE(plan1 == plan2) << "a warm rebuild wrote a different plan";
  // The warm cache learnt nothing new.
  EXPECT_TRUE(warm.serialize() == bytes);

  // And the same again through a file.
  std::filesystem::path dir = testing::freshTempDir("warm_cache");
  cold.save((dir / "timing.cache").string());
  TimingCache from_file = TimingCache::load((dir / "timing.cache").string());
  std::string report3;
  std::vector<std::byte> plan3 = Builder::buildSerializedNetwork(net, cnnConfig(&from_file), &report3);
  EXPECT_EQ(Json::parse(report3)["timings"].get<int>(), 0);
  EXPECT_TRUE(plan3 == plan1);
  std::filesystem::remove_all(dir);
}

TEST(BuilderTimingCache, CombinedCachesServeBothModels) {
  Network cnn = testing::parseModel(testing::cnnModel(2));
  Network mlp = testing::parseModel(testing::mlpModel(2));
  TimingCache a, b;
  std::vector<std::byte> cnn_plan = Builder::buildSerializedNetwork(cnn, cnnConfig(&a));
  std::vector<std::byte> mlp_plan = Builder::buildSerializedNetwork(mlp, mlpConfig(&b));
  ASSERT_GT(a.size(), 0u);
  ASSERT_GT(b.size(), 0u);
  TimingCache combined;
  combined.combine(a);
  combined.combine(b);
  EXPECT_EQ(combined.size(), a.size() + b.size());  // different layers: no shared keys
  // Combining again changes nothing.
  std::vector<std::byte> once = combined.serialize();
  combined.combine(b);
  EXPECT_TRUE(combined.serialize() == once);

  std::string r1, r2;
  EXPECT_TRUE(Builder::buildSerializedNetwork(cnn, cnnConfig(&combined), &r1) == cnn_plan);
  EXPECT_TRUE(Builder::buildSerializedNetwork(mlp, mlpConfig(&combined), &r2) == mlp_plan);
  EXPECT_EQ(Json::parse(r1)["timings"].get<int>(), 0);
  EXPECT_EQ(Json::parse(r2)["timings"].get<int>(), 0);
}

TEST(BuilderTimingCache, EntriesOfAnotherDeviceAreIgnoredWithAWarning) {
  Network net = testing::parseModel(testing::cnnModel(3));
  TimingCache real;
  std::string cold_report;
  (void)Builder::buildSerializedNetwork(net, cnnConfig(&real), &cold_report);
  // The same keys, as measured on "another device", with absurd times that would make the
  // slowest tactic win if they were used.
  TimingCache foreign;
  for (TimingCacheEntry e : real.entries()) {
    e.device = "sm_75:gpu-from-elsewhere:cudnn-8.0";
    double t = 1000;
    for (TacticTiming& tt : e.timings) tt.time_ms = (t -= 1);
    foreign.impl().insert(std::move(e));
  }
  const size_t foreign_entries = foreign.size();
  testing::CapturingLogger logger;
  std::string report;
  std::vector<std::byte> plan = Builder::buildSerializedNetwork(net, cnnConfig(&foreign), &report);
  Json j = Json::parse(report);
  EXPECT_EQ(j["timing_cache"]["hits"].get<int>(), 0);
  EXPECT_EQ(j["timing_cache"]["misses"].get<int>(), timedLayers(j));
  EXPECT_GT(j["timings"].get<int>(), 0);
  bool warned = false;
  for (const std::string& w : logger.warnings()) warned = warned || w.find("other devices") != std::string::npos;
  EXPECT_TRUE(warned) << "no warning about the foreign timing cache";
  // The foreign entries are kept as they were; this device's entries are added beside them.
  EXPECT_EQ(foreign.size(), 2 * foreign_entries);
  for (const TimingCacheEntry& e : foreign.entries()) {
    if (e.device.rfind("sm_75", 0) != 0) continue;
    const TimingCacheEntry* mine = real.impl().lookup(e.key, j["device_identity"].get<std::string>());
    ASSERT_NE(mine, nullptr);
    EXPECT_EQ(e.timings.size(), mine->timings.size());
  }
  // Never misused: every choice is the fastest of this build's own measurements.
  for (const auto& l : j["layers"]) {
    if (l["candidates"].size() < 2) continue;
    double best = 1e300;
    for (const auto& c : l["candidates"])
      if (c["time_ms"].get<double>() >= 0) best = std::min(best, c["time_ms"].get<double>());
    EXPECT_DOUBLE_EQ(l["time_ms"].get<double>(), best);
    EXPECT_LT(best, 900.0) << l["name"] << " used a foreign time";
  }
}

TEST(BuilderTimingCache, CorruptCacheBytesAreAClearError) {
  Network net = testing::parseModel(testing::mlpModel(4));
  TimingCache cache;
  (void)Builder::buildSerializedNetwork(net, mlpConfig(&cache));
  std::vector<std::byte> bytes = cache.serialize();
  ASSERT_GT(bytes.size(), 16u);
  for (size_t pos : {size_t{0}, size_t{5}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<std::byte> bad = bytes;
    bad[pos] ^= std::byte{0x41};
    try {
      (void)TimingCache::deserialize(bad, "my.cache");
      ADD_FAILURE() << "a flip at " << pos << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidCache) << e.what();
      EXPECT_NE(std::string(e.what()).find("my.cache"), std::string::npos) << e.what();
    }
  }
  for (size_t n : {size_t{1}, size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW((void)TimingCache::deserialize(cut), Error) << n;
  }
  std::filesystem::path dir = testing::freshTempDir("bad_cache");
  {
    std::ofstream out(dir / "bad.cache", std::ios::binary);
    out << "this is not a timing cache at all";
  }
  try {
    (void)TimingCache::load((dir / "bad.cache").string());
    ADD_FAILURE() << "a garbage cache file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidCache);
    EXPECT_NE(std::string(e.what()).find("bad.cache"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln
