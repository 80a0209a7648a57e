// Little-endian byte writer and bounds-checked reader for kiln's binary files (plans, timing
// caches), and the 64-bit checksum they carry.
//
// The reader never trusts a byte: every length, count and offset is checked against the bytes
// that remain BEFORE anything is read or allocated, and every failure is one kiln::Error with
// the reader's code, naming the file and what was being read.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/errors.h"

namespace kiln::plan {

static_assert(std::endian::native == std::endian::little, "kiln's file formats assume a little-endian host");

//! XXH64 (Yann Collet's xxHash, 64-bit variant, our own implementation) of `bytes`.
uint64_t checksum64(std::span<const std::byte> bytes, uint64_t seed = 0);

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(std::byte{v}); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u32(uint32_t v) { put(&v, sizeof v); }
  void i32(int32_t v) { put(&v, sizeof v); }
  void u64(uint64_t v) { put(&v, sizeof v); }
  void i64(int64_t v) { put(&v, sizeof v); }
  void f32(float v) { put(&v, sizeof v); }  // bit-exact, NaN payloads included
  void f64(double v) { put(&v, sizeof v); }
  //! u32 length, then the bytes.
  void string(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    put(s.data(), s.size());
  }
  void bytes(std::span<const std::byte> b) { put(b.data(), b.size()); }
  //! Zero bytes up to the next multiple of `alignment` (a power of two).
  void align(size_t alignment) { out_.resize((out_.size() + alignment - 1) & ~(alignment - 1), std::byte{0}); }
  //! Overwrites a u64 written earlier at `position`.
  void patchU64(size_t position, uint64_t v) { std::memcpy(out_.data() + position, &v, sizeof v); }
  void patchU32(size_t position, uint32_t v) { std::memcpy(out_.data() + position, &v, sizeof v); }

  size_t size() const { return out_.size(); }
  std::vector<std::byte>& data() { return out_; }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<std::byte> out_;
};

class ByteReader {
 public:
  //! `context` prefixes every error ("model.plan: layers section").
  ByteReader(std::span<const std::byte> bytes, ErrorCode code, std::string context)
      : bytes_(bytes), code_(code), context_(std::move(context)) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(code_, context_ + ": " + what); }

  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool atEnd() const { return pos_ == bytes_.size(); }
  const std::string& context() const { return context_; }
  ErrorCode code() const { return code_; }

  uint8_t u8(std::string_view what) { return get<uint8_t>(what); }
  uint32_t u32(std::string_view what) { return get<uint32_t>(what); }
  int32_t i32(std::string_view what) { return get<int32_t>(what); }
  uint64_t u64(std::string_view what) { return get<uint64_t>(what); }
  int64_t i64(std::string_view what) { return get<int64_t>(what); }
  float f32(std::string_view what) { return get<float>(what); }
  double f64(std::string_view what) { return get<double>(what); }
  //! A u8 that must be 0 or 1.
  bool boolean(std::string_view what) {
    uint8_t v = u8(what);
    if (v > 1) fail(std::string(what) + " is " + std::to_string(v) + ", expected 0 or 1");
    return v == 1;
  }
  //! An i32 enum value that must lie in [0, count).
  template <typename Enum>
  Enum enumeration(std::string_view what, int32_t count) {
    int32_t v = i32(what);
    if (v < 0 || v >= count)
      fail(std::string(what) + " has invalid value " + std::to_string(v) + " (expected 0.." + std::to_string(count - 1) +
           ")");
    return static_cast<Enum>(v);
  }
  //! u32 length (checked against the remaining bytes), then the characters.
  std::string string(std::string_view what) {
    uint32_t n = u32(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  //! A u32 element count; each element takes at least `min_element_bytes` bytes, so a bogus
  //! count is refused before anything is reserved for it.
  size_t count(std::string_view what, size_t min_element_bytes) {
    uint32_t n = u32(what);
    if (min_element_bytes > 0 && n > remaining() / min_element_bytes)
      fail(std::string(what) + " " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
           " bytes that remain");
    return n;
  }
  std::span<const std::byte> bytes(size_t n, std::string_view what) {
    need(n, what);
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  void need(size_t n, std::string_view what) const {
    if (n > remaining())
      fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", " + std::to_string(remaining()) + " remain");
  }
  template <typename T>
  T get(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
  ErrorCode code_;
  std::string context_;
};

}  // namespace kiln::plan
