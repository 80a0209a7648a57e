// The timing cache: measured tactic times keyed by layer signature and device identity.
// Saved, loaded, merged and shared by builders; a build whose every key hits does no timing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct TacticTiming {
  uint64_t tactic_id = 0;
  std::string tactic;  //!< name, for people
  double time_ms = 0;  //!< median measured time
};

struct TimingCacheEntry {
  std::string key;     //!< layer signature (op, attributes, shapes at opt, types, formats)
  std::string device;  //!< device identity (backend, architecture, SM count, library versions)
  std::vector<TacticTiming> timings;  //!< every timed candidate
};

class TimingCache {
 public:
  TimingCache();
  ~TimingCache();
  TimingCache(TimingCache&&) noexcept;
  TimingCache& operator=(TimingCache&&) noexcept;

  //! Reads a serialized cache; throws kInvalidCache naming `display_name` when damaged.
  static TimingCache deserialize(std::span<const std::byte> bytes, const std::string& display_name = "timing cache");
  //! Reads a cache file; a missing file gives an empty cache, a damaged one throws.
  static TimingCache load(const std::string& path);
  std::vector<std::byte> serialize() const;
  //! Writes atomically (temporary file + rename).
  void save(const std::string& path) const;

  //! Adds `other`'s entries; on conflict keeps the faster measurement.
  void combine(const TimingCache& other);
  size_t size() const;
  std::vector<TimingCacheEntry> entries() const;

  struct Impl;
  Impl& impl();
  const Impl& impl() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
