// libFuzzer target: arbitrary bytes -> kiln::TimingCache::deserialize, and for a cache that
// reads, serialize: what it writes must read back and be written again byte for byte the same.
//
// The file ends in a checksum of everything before it, so almost every mutation would stop at
// the checksum test. The target reads each input twice: as it is, and with the checksum
// recomputed (which takes mutations through to the entry parser).
//
// A malformed cache must end in kiln::Error, never in a crash, a hang, a sanitizer report or
// any other exception: only kiln::Error is caught here, so anything else reaches libFuzzer
// and is reported as a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "kiln/errors.h"
#include "kiln/timing_cache.h"
#include "plan/byte_io.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_timing_cache_reader: %s\n", what);
  std::abort();
}

void readCache(std::span<const std::byte> bytes) {
  std::vector<std::byte> written;
  try {
    kiln::TimingCache cache = kiln::TimingCache::deserialize(bytes, "fuzz-input");
    written = cache.serialize();
  } catch (const kiln::Error&) {
    return;  // the expected outcome for bad input
  }
  std::vector<std::byte> rewritten;
  try {
    rewritten = kiln::TimingCache::deserialize(written, "rewritten fuzz-input").serialize();
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a cache the reader accepted does not read back after serialize");
  }
  if (rewritten != written) finding("serialize(deserialize(serialize(cache))) differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  readCache(bytes);
  if (size >= 8) {
    // The same bytes with the trailing checksum (see src/builder/timing_cache.cpp) made right.
    std::vector<std::byte> fixed(bytes.begin(), bytes.end());
    uint64_t sum = kiln::plan::checksum64(bytes.first(size - 8));
    if (std::memcmp(&sum, data + size - 8, 8) != 0) {
      std::memcpy(fixed.data() + size - 8, &sum, 8);
      readCache(fixed);
    }
  }
  return 0;
}
