// Memory and streams on an engine's device, for binding inputs and outputs: device buffers,
// pinned host buffers (so copies overlap compute) and streams. On the CPU backend all of
// them are plain host memory and synchronous no-ops.
#pragma once

#include <cstddef>

#include "kiln/types.h"

namespace kiln {

//! An owned device allocation (RAII, movable).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceKind device, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  DeviceKind device_ = DeviceKind::kCPU;
  void* data_ = nullptr;
  size_t size_ = 0;
};

//! Page-locked host memory on GPU machines (plain host memory otherwise).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(DeviceKind device, size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  DeviceKind device_ = DeviceKind::kCPU;
  void* data_ = nullptr;
  size_t size_ = 0;
};

//! A stream (cudaStream_t on the GPU; nullptr on the CPU).
class Stream {
 public:
  explicit Stream(DeviceKind device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return handle_; }
  void synchronize();
  void copyToDevice(void* dst, const void* src, size_t bytes);
  void copyToHost(void* dst, const void* src, size_t bytes);

 private:
  DeviceKind device_;
  void* handle_ = nullptr;
};

//! Device timing events (for tools measuring copies and compute).
class Event {
 public:
  explicit Event(DeviceKind device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(Stream& stream);
  //! Milliseconds from `start` to this event (waits for this event).
  float elapsedSince(const Event& start) const;

 private:
  DeviceKind device_;
  void* handle_ = nullptr;
};

//! Free and total memory of the device in bytes (0, 0 on the CPU).
struct DeviceMemoryInfo {
  size_t free = 0;
  size_t total = 0;
};

}  // namespace kiln
