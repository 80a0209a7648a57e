// The inside of kiln::TimingCache, for the builder: look up and record timed tactics.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kiln/timing_cache.h"

namespace kiln {

//! Entries by (key, device). Thread-safe: builders running at once may share one cache.
//! An entry, once inserted, is never modified or freed while the cache lives (an insert for
//! the same key replaces it by a new one and retires the old), so a pointer from lookup()
//! stays valid and unchanging even while other threads insert.
struct TimingCache::Impl {
  //! The entry for `key` on `device`, or nullptr.
  const TimingCacheEntry* lookup(const std::string& key, const std::string& device) const;
  //! Records `entry` (replacing an entry of the same key and device). Its timings are kept
  //! sorted by tactic id; a tactic listed twice keeps its faster time.
  void insert(TimingCacheEntry entry);
  //! Like insert, but a tactic already timed for this key keeps the faster of the two times,
  //! and tactics of the existing entry that `entry` does not list are kept.
  void merge(const TimingCacheEntry& entry);

  size_t size() const;
  //! Sorted by key, then device.
  std::vector<TimingCacheEntry> entries() const;

 private:
  using Key = std::pair<std::string, std::string>;
  void store(const Key& key, TimingCacheEntry entry);  // mutex held

  mutable std::mutex mutex_;
  std::map<Key, std::shared_ptr<const TimingCacheEntry>> entries_;
  std::vector<std::shared_ptr<const TimingCacheEntry>> retired_;
};

}  // namespace kiln
