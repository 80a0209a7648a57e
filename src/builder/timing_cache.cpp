// The timing cache and its file format (all integers little-endian):
//
//   "KILNTCACHE", u32 format version, u32 entry count, then per entry (sorted by key, device):
//     string key, string device, u32 timing count, then per timing (sorted by tactic id):
//     u64 tactic id, string tactic name, f64 time in ms
//   u64 checksum (XXH64) of every byte before it
//
// Strings are u32 length + bytes. The same content always gives the same bytes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "builder/timing_cache_impl.h"
#include "plan/byte_io.h"

namespace kiln {

namespace {

constexpr char kMagic[10] = {'K', 'I', 'L', 'N', 'T', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kCacheFormatVersion = 1;
constexpr size_t kChecksumBytes = 8;

// Sorted by tactic id, one timing per tactic (the fastest).
void normalize(std::vector<TacticTiming>& timings) {
  std::sort(timings.begin(), timings.end(), [](const TacticTiming& a, const TacticTiming& b) {
    return a.tactic_id != b.tactic_id ? a.tactic_id < b.tactic_id : a.time_ms < b.time_ms;
  });
  timings.erase(std::unique(timings.begin(), timings.end(),
                            [](const TacticTiming& a, const TacticTiming& b) { return a.tactic_id == b.tactic_id; }),
                timings.end());
}

std::vector<std::byte> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open timing cache: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorCode::kIo, path + ": cannot read timing cache");
  in.seekg(0);
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(ErrorCode::kIo, path + ": cannot read timing cache");
  return bytes;
}

}  // namespace

// --- Impl ------------------------------------------------------------------------------------

const TimingCacheEntry* TimingCache::Impl::lookup(const std::string& key, const std::string& device) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(Key(key, device));
  return it == entries_.end() ? nullptr : it->second.get();
}

void TimingCache::Impl::store(const Key& key, TimingCacheEntry entry) {
  auto& slot = entries_[key];
  if (slot) retired_.push_back(std::move(slot));
  slot = std::make_shared<const TimingCacheEntry>(std::move(entry));
}

void TimingCache::Impl::insert(TimingCacheEntry entry) {
  normalize(entry.timings);
  Key key(entry.key, entry.device);
  std::lock_guard lock(mutex_);
  store(key, std::move(entry));
}

void TimingCache::Impl::merge(const TimingCacheEntry& entry) {
  Key key(entry.key, entry.device);
  std::lock_guard lock(mutex_);
  TimingCacheEntry merged = entry;
  auto it = entries_.find(key);
  if (it != entries_.end()) merged.timings.insert(merged.timings.end(), it->second->timings.begin(), it->second->timings.end());
  normalize(merged.timings);
  if (it != entries_.end() && it->second->timings.size() == merged.timings.size() &&
      std::equal(merged.timings.begin(), merged.timings.end(), it->second->timings.begin(),
                 [](const TacticTiming& a, const TacticTiming& b) {
                   return a.tactic_id == b.tactic_id && a.time_ms == b.time_ms && a.tactic == b.tactic;
                 }))
    return;  // nothing new: keep the entry (and pointers to it) as it is
  store(key, std::move(merged));
}

size_t TimingCache::Impl::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::vector<TimingCacheEntry> TimingCache::Impl::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<TimingCacheEntry> out;
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) out.push_back(*entry);
  return out;
}

// --- TimingCache -----------------------------------------------------------------------------

TimingCache::TimingCache() : impl_(std::make_unique<Impl>()) {}
TimingCache::~TimingCache() = default;
TimingCache::TimingCache(TimingCache&&) noexcept = default;
TimingCache& TimingCache::operator=(TimingCache&&) noexcept = default;

TimingCache::Impl& TimingCache::impl() { return *impl_; }
const TimingCache::Impl& TimingCache::impl() const { return *impl_; }

size_t TimingCache::size() const { return impl_->size(); }
std::vector<TimingCacheEntry> TimingCache::entries() const { return impl_->entries(); }

void TimingCache::combine(const TimingCache& other) {
  if (&other == this) return;
  for (const TimingCacheEntry& e : other.entries()) impl_->merge(e);
}

std::vector<std::byte> TimingCache::serialize() const {
  plan::ByteWriter w;
  w.bytes(std::as_bytes(std::span(kMagic)));
  w.u32(kCacheFormatVersion);
  std::vector<TimingCacheEntry> all = entries();
  w.u32(static_cast<uint32_t>(all.size()));
  for (const TimingCacheEntry& e : all) {
    w.string(e.key);
    w.string(e.device);
    w.u32(static_cast<uint32_t>(e.timings.size()));
    for (const TacticTiming& t : e.timings) {
      w.u64(t.tactic_id);
      w.string(t.tactic);
      w.f64(t.time_ms);
    }
  }
  w.u64(plan::checksum64(w.data()));
  return w.take();
}

TimingCache TimingCache::deserialize(std::span<const std::byte> bytes, const std::string& display_name) {
  auto fail = [&](const std::string& what) { throw Error(ErrorCode::kInvalidCache, display_name + ": " + what); };
  size_t n = std::min(bytes.size(), sizeof kMagic);
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n), kMagic,
                  [](std::byte b, char c) { return b == static_cast<std::byte>(c); }))
    fail("not a kiln timing cache (bad magic)");
  if (bytes.size() < sizeof kMagic + 4 + 4 + kChecksumBytes)
    fail("truncated: " + std::to_string(bytes.size()) + " bytes is too short for a timing cache");
  uint32_t version;
  std::memcpy(&version, bytes.data() + sizeof kMagic, sizeof version);
  if (version > kCacheFormatVersion)
    fail("timing cache format version " + std::to_string(version) + " is newer than this kiln supports (" +
         std::to_string(kCacheFormatVersion) + ")");
  if (version != kCacheFormatVersion) fail("timing cache format version " + std::to_string(version) + " is not supported");
  auto body = bytes.first(bytes.size() - kChecksumBytes);
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + body.size(), sizeof stored);
  if (stored != plan::checksum64(body)) fail("checksum mismatch (the cache is damaged or truncated)");

  plan::ByteReader r(body, ErrorCode::kInvalidCache, display_name);
  r.bytes(sizeof kMagic + 4, "magic and version");
  TimingCache cache;
  // An entry takes at least 4 + 4 + 4 bytes, a timing 8 + 4 + 8.
  size_t count = r.count("entry count", 12);
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < count; ++i) {
    TimingCacheEntry e;
    e.key = r.string("entry key");
    e.device = r.string("entry device");
    std::string where = "entry '" + e.key + "'";
    if (!seen.emplace(e.key, e.device).second) r.fail(where + " appears twice for device '" + e.device + "'");
    size_t ntimings = r.count(where + " timing count", 20);
    e.timings.resize(ntimings);
    for (TacticTiming& t : e.timings) {
      t.tactic_id = r.u64(where + " tactic id");
      t.tactic = r.string(where + " tactic name");
      t.time_ms = r.f64(where + " time");
      if (!std::isfinite(t.time_ms) || t.time_ms < 0)
        r.fail(where + " tactic '" + t.tactic + "' has invalid time " + std::to_string(t.time_ms));
    }
    for (size_t k = 1; k < e.timings.size(); ++k)
      if (e.timings[k].tactic_id <= e.timings[k - 1].tactic_id)
        r.fail(where + " lists its tactics out of order or twice");
    cache.impl_->insert(std::move(e));
  }
  if (!r.atEnd()) r.fail(std::to_string(r.remaining()) + " unexpected trailing bytes");
  return cache;
}

TimingCache TimingCache::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) throw Error(ErrorCode::kIo, path + ": cannot access timing cache: " + ec.message());
    return TimingCache();
  }
  std::vector<std::byte> bytes = readFile(path);
  return deserialize(bytes, path);
}

void TimingCache::save(const std::string& path) const {
  namespace fs = std::filesystem;
  static std::atomic<uint64_t> counter{0};
  std::vector<std::byte> bytes = serialize();
  // Same folder as the target, so the rename is atomic; unique per process and call.
  fs::path target(path);
  fs::path temp = target;
  temp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kIo, path + ": cannot write timing cache: " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw Error(ErrorCode::kIo, path + ": cannot write timing cache");
    }
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw Error(ErrorCode::kIo, path + ": cannot write timing cache: " + ec.message());
  }
}

}  // namespace kiln
