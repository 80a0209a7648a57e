#include "kiln/memory.h"

#include <utility>

#include "backends/backend.h"

namespace kiln {

DeviceBuffer::DeviceBuffer(DeviceKind device, size_t bytes) : device_(device), size_(bytes) {
  data_ = backend::device(device).allocate(std::max<size_t>(bytes, 1));
}
DeviceBuffer::~DeviceBuffer() {
  if (data_) backend::device(device_).free(data_);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : device_(o.device_), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) backend::device(device_).free(data_);
    device_ = o.device_;
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(DeviceKind device, size_t bytes) : device_(device), size_(bytes) {
  data_ = backend::device(device).allocateHost(std::max<size_t>(bytes, 1));
}
PinnedBuffer::~PinnedBuffer() {
  if (data_) backend::device(device_).freeHost(data_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : device_(o.device_), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) backend::device(device_).freeHost(data_);
    device_ = o.device_;
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Stream::Stream(DeviceKind device) : device_(device), handle_(backend::device(device).createStream()) {}
Stream::~Stream() { backend::device(device_).destroyStream(handle_); }
void Stream::synchronize() { backend::device(device_).synchronize(handle_); }
void Stream::copyToDevice(void* dst, const void* src, size_t bytes) {
  backend::device(device_).copyToDevice(dst, src, bytes, handle_);
}
void Stream::copyToHost(void* dst, const void* src, size_t bytes) {
  backend::device(device_).copyToHost(dst, src, bytes, handle_);
}

Event::Event(DeviceKind device) : device_(device), handle_(backend::device(device).createEvent()) {}
Event::~Event() { backend::device(device_).destroyEvent(handle_); }
void Event::record(Stream& stream) { backend::device(device_).recordEvent(handle_, stream.handle()); }
float Event::elapsedSince(const Event& start) const { return backend::device(device_).elapsedMs(start.handle_, handle_); }

}  // namespace kiln
