#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "builder/timing_cache_impl.h"
#include "kiln/errors.h"
#include "kiln/timing_cache.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

TimingCacheEntry entry(const std::string& key, const std::string& device, std::vector<TacticTiming> timings) {
  return TimingCacheEntry{key, device, std::move(timings)};
}

TimingCache sampleCache() {
  TimingCache cache;
  cache.impl().insert(entry("Conv|1x3x224x224|fp16", "sm_90/132", {{7, "implicit_gemm", 0.5}, {3, "cudnn_fft", 0.25}}));
  cache.impl().insert(entry("Conv|1x3x224x224|fp16", "sm_80/108", {{7, "implicit_gemm", 0.75}}));
  cache.impl().insert(entry("MatMul|64x64", "sm_90/132", {{1, "cublas", 0.01}}));
  cache.impl().insert(entry("Relu|", "cpu", {}));
  return cache;
}

// A fresh, empty folder for one test.
fs::path tempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("kiln_tc_" + name + "_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" + std::to_string(std::random_device{}()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void expectInvalid(std::span<const std::byte> bytes, const std::string& context) {
  try {
    (void)TimingCache::deserialize(bytes, "damaged.cache");
    ADD_FAILURE() << context << ": damaged cache loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidCache) << context << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("damaged.cache: ", 0), 0u) << e.what();
  }
}

TEST(TimingCache, LooksUpByKeyAndDevice) {
  TimingCache cache = sampleCache();
  EXPECT_EQ(cache.size(), 4u);
  const TimingCacheEntry* e = cache.impl().lookup("Conv|1x3x224x224|fp16", "sm_90/132");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->timings.size(), 2u);
  EXPECT_EQ(e->timings[0].tactic_id, 3u);  // sorted by tactic id
  EXPECT_EQ(cache.impl().lookup("Conv|1x3x224x224|fp16", "sm_86/84"), nullptr);
  EXPECT_EQ(cache.impl().lookup("Gemm", "sm_90/132"), nullptr);
}

TEST(TimingCache, LookedUpEntryStaysValidAcrossReinsert) {
  TimingCache cache = sampleCache();
  const TimingCacheEntry* e = cache.impl().lookup("MatMul|64x64", "sm_90/132");
  cache.impl().insert(entry("MatMul|64x64", "sm_90/132", {{2, "cublaslt", 0.005}}));
  EXPECT_EQ(e->timings.at(0).tactic, "cublas");  // the old entry is retired, not freed
  EXPECT_EQ(cache.impl().lookup("MatMul|64x64", "sm_90/132")->timings.at(0).tactic, "cublaslt");
}

TEST(TimingCache, RoundTrips) {
  TimingCache cache = sampleCache();
  std::vector<std::byte> bytes = cache.serialize();
  TimingCache back = TimingCache::deserialize(bytes, "x.cache");
  std::vector<TimingCacheEntry> a = cache.entries(), b = back.entries();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].device, b[i].device);
    ASSERT_EQ(a[i].timings.size(), b[i].timings.size());
    for (size_t k = 0; k < a[i].timings.size(); ++k) {
      EXPECT_EQ(a[i].timings[k].tactic_id, b[i].timings[k].tactic_id);
      EXPECT_EQ(a[i].timings[k].tactic, b[i].timings[k].tactic);
      EXPECT_EQ(a[i].timings[k].time_ms, b[i].timings[k].time_ms);
    }
  }
  EXPECT_EQ(back.serialize(), bytes);
}

TEST(TimingCache, SerializationIsDeterministic) {
  TimingCache forward = sampleCache();
  TimingCache backward;
  std::vector<TimingCacheEntry> all = forward.entries();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    TimingCacheEntry e = *it;
    std::reverse(e.timings.begin(), e.timings.end());
    backward.impl().insert(e);
  }
  EXPECT_EQ(forward.serialize(), backward.serialize());
  std::vector<TimingCacheEntry> entries = backward.entries();
  for (size_t i = 1; i < entries.size(); ++i)
    EXPECT_LT(std::tie(entries[i - 1].key, entries[i - 1].device), std::tie(entries[i].key, entries[i].device));
}

TEST(TimingCache, CombineKeepsTheFasterTimePerTactic) {
  TimingCache a = sampleCache();
  TimingCache b;
  b.impl().insert(entry("Conv|1x3x224x224|fp16", "sm_90/132", {{7, "implicit_gemm", 0.4}, {3, "cudnn_fft", 0.3}, {9, "new", 1.0}}));
  b.impl().insert(entry("Add|8", "sm_90/132", {{5, "elementwise", 0.001}}));
  a.combine(b);
  EXPECT_EQ(a.size(), 5u);
  const TimingCacheEntry* e = a.impl().lookup("Conv|1x3x224x224|fp16", "sm_90/132");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->timings.size(), 3u);
  EXPECT_EQ(e->timings[0].tactic_id, 3u);
  EXPECT_EQ(e->timings[0].time_ms, 0.25);  // a's was faster
  EXPECT_EQ(e->timings[1].tactic_id, 7u);
  EXPECT_EQ(e->timings[1].time_ms, 0.4);  // b's was faster
  EXPECT_EQ(e->timings[2].tactic_id, 9u);
  ASSERT_NE(a.impl().lookup("Add|8", "sm_90/132"), nullptr);
  // Combining is symmetric in content.
  TimingCache c = std::move(b);
  c.combine(sampleCache());
  EXPECT_EQ(c.serialize(), a.serialize());
  a.combine(a);
  EXPECT_EQ(a.size(), 5u);
}

TEST(TimingCache, EveryByteFlipIsRefused) {
  std::vector<std::byte> bytes = sampleCache().serialize();
  for (size_t pos = 0; pos < bytes.size(); ++pos)
    for (uint8_t mask : {0x01, 0x80}) {
      std::vector<std::byte> damaged = bytes;
      damaged[pos] ^= std::byte{mask};
      expectInvalid(damaged, "byte " + std::to_string(pos));
    }
}

TEST(TimingCache, EveryTruncationIsRefused) {
  std::vector<std::byte> bytes = sampleCache().serialize();
  for (size_t n = 0; n < bytes.size(); ++n) expectInvalid(std::span(bytes).first(n), "prefix " + std::to_string(n));
  bytes.push_back(std::byte{0});
  expectInvalid(bytes, "one byte appended");
}

TEST(TimingCache, RefusesNewerVersion) {
  std::vector<std::byte> bytes = sampleCache().serialize();
  bytes[10] = std::byte{2};
  try {
    (void)TimingCache::deserialize(bytes, "future.cache");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidCache);
    EXPECT_NE(std::string(e.what()).find("future.cache: timing cache format version 2 is newer"), std::string::npos)
        << e.what();
  }
}

TEST(TimingCache, MissingFileLoadsEmpty) {
  fs::path dir = tempDir("missing");
  TimingCache cache = TimingCache::load((dir / "none.cache").string());
  EXPECT_EQ(cache.size(), 0u);
  fs::remove_all(dir);
}

TEST(TimingCache, SaveIsAtomicAndLeavesNoTemporaryFile) {
  fs::path dir = tempDir("save");
  std::string path = (dir / "t.cache").string();
  sampleCache().save(path);
  TimingCache more = sampleCache();
  more.impl().insert(entry("Extra", "cpu", {{1, "x", 1.0}}));
  more.save(path);  // replaces the old file
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) files.push_back(f.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "t.cache");
  TimingCache back = TimingCache::load(path);
  EXPECT_EQ(back.serialize(), more.serialize());
  fs::remove_all(dir);
}

TEST(TimingCache, SaveToMissingFolderFailsCleanly) {
  fs::path dir = tempDir("nofolder");
  try {
    sampleCache().save((dir / "no" / "such" / "t.cache").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(TimingCache, DamagedFileIsAnErrorNamingIt) {
  fs::path dir = tempDir("damaged");
  std::string path = (dir / "bad.cache").string();
  std::ofstream(path, std::ios::binary) << "KILNTCACHE garbage";
  try {
    (void)TimingCache::load(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidCache);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kiln
