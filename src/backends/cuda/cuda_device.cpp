// backend::Device for CUDA: memory, copies, streams, events, timing, graph capture and NVTX
// ranges of one GPU. Handles are the CUDA ones cast to void* (cudaStream_t, cudaEvent_t,
// cudaGraphExec_t); a null stream is the legacy default stream.
//
// Registered as the process's GPU device at static-initialization time; the factory returns
// nullptr (and never throws) on a machine without a driver or a GPU.
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/device.h"

namespace kiln::cuda {
namespace {

cudaStream_t asStream(void* stream) { return static_cast<cudaStream_t>(stream); }
cudaEvent_t asEvent(void* event) { return static_cast<cudaEvent_t>(event); }

std::string bytesText(size_t bytes) { return std::to_string(bytes) + " bytes"; }

//! Owns a stream for the length of a scope (time(), capture on the default stream).
class ScopedStream {
 public:
  ScopedStream() {
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
  }
  ~ScopedStream() { (void)cudaStreamDestroy(stream_); }
  ScopedStream(const ScopedStream&) = delete;
  ScopedStream& operator=(const ScopedStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

//! Owns a set of events (time()).
class ScopedEvents {
 public:
  explicit ScopedEvents(size_t n) {
    events_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      cudaEvent_t e = nullptr;
      KILN_CUDA_CHECK(cudaEventCreate(&e), "creating a timing event");
      events_.push_back(e);
    }
  }
  ~ScopedEvents() {
    for (cudaEvent_t e : events_) (void)cudaEventDestroy(e);
  }
  ScopedEvents(const ScopedEvents&) = delete;
  ScopedEvents& operator=(const ScopedEvents&) = delete;
  cudaEvent_t operator[](size_t i) const { return events_[i]; }

 private:
  std::vector<cudaEvent_t> events_;
};

class CudaDevice final : public backend::Device {
 public:
  explicit CudaDevice(const DeviceInfo& info) : info_(info) {}

  DeviceKind kind() const override { return DeviceKind::kGPU; }

  std::string identity() const override {
    return "cuda:" + architecture() + ":" + std::to_string(info_.sm_count) + "sm:cudart" +
           std::to_string(cudaRuntimeVersion()) + ":cublas" + std::to_string(cublasVersion()) + ":cudnn" +
           std::to_string(cudnnVersion());
  }
  std::string architecture() const override { return architectureName(info_); }
  DevicePeak peak() const override {
    // Dense FP16/BF16 tensor-core FLOPs per SM per clock: 4096 on Hopper, 2048 on A100-class
    // sm_80, 1024 on the other Ampere/Ada parts; FP32 CUDA cores: 128 FMAs per SM per clock.
    const int arch = info_.sm_major * 10 + info_.sm_minor;
    const double per_sm = arch >= 90 ? 4096 : arch == 80 ? 2048 : 1024;
    const double sm_hz = static_cast<double>(info_.sm_count) * info_.clock_khz * 1e3;
    return DevicePeak{.tensor_flops = sm_hz * per_sm,
                     .fp32_flops = sm_hz * 256,
                     .bytes_per_s = 2.0 * info_.memory_clock_khz * 1e3 * info_.memory_bus_bits / 8};  // double data rate
  }

  std::string description() const override {
    return info_.name + ", " + architecture() + ", " + std::to_string(info_.sm_count) + " SMs, " +
           std::to_string(info_.total_memory >> 20) + " MiB";
  }

  // ---- memory ----

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    KILN_CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1), "allocating " + bytesText(bytes) + " of device memory");
    return p;
  }
  void free(void* memory) noexcept override {
    if (memory && cudaFree(memory) != cudaSuccess) (void)cudaGetLastError();
  }
  void* allocateHost(size_t bytes) override {
    void* p = nullptr;
    KILN_CUDA_CHECK(cudaMallocHost(&p, bytes ? bytes : 1), "allocating " + bytesText(bytes) + " of pinned host memory");
    return p;
  }
  void freeHost(void* memory) noexcept override {
    if (memory && cudaFreeHost(memory) != cudaSuccess) (void)cudaGetLastError();
  }

  void copyToDevice(void* dst, const void* src, size_t bytes, void* stream) override {
    copy(dst, src, bytes, cudaMemcpyHostToDevice, stream, "copying to the device");
  }
  void copyToHost(void* dst, const void* src, size_t bytes, void* stream) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToHost, stream, "copying to the host");
  }
  void copyOnDevice(void* dst, const void* src, size_t bytes, void* stream) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToDevice, stream, "copying on the device");
  }
  void memset(void* dst, int value, size_t bytes, void* stream) override {
    if (!bytes) return;
    KILN_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, asStream(stream)), "setting " + bytesText(bytes) + " of device memory");
  }

  // ---- streams and events ----

  void* createStream() override {
    cudaStream_t s = nullptr;
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream");
    return s;
  }
  void destroyStream(void* stream) noexcept override {
    if (stream && cudaStreamDestroy(asStream(stream)) != cudaSuccess) (void)cudaGetLastError();
  }
  void synchronize(void* stream) override {
    KILN_CUDA_CHECK(cudaStreamSynchronize(asStream(stream)), "waiting for a stream");
  }

  void* createEvent() override {
    cudaEvent_t e = nullptr;
    KILN_CUDA_CHECK(cudaEventCreate(&e), "creating an event");
    return e;
  }
  void destroyEvent(void* event) noexcept override {
    if (event && cudaEventDestroy(asEvent(event)) != cudaSuccess) (void)cudaGetLastError();
  }
  void recordEvent(void* event, void* stream) override {
    KILN_CUDA_CHECK(cudaEventRecord(asEvent(event), asStream(stream)), "recording an event");
  }
  float elapsedMs(void* start, void* end) override {
    KILN_CUDA_CHECK(cudaEventSynchronize(asEvent(end)), "waiting for an event");
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, asEvent(start), asEvent(end)), "reading the time between two events");
    return ms;
  }

  // ---- timing ----

  // Each repeat is bracketed by its own pair of events on a private stream, so that time()
  // may run from several builder threads at once; one synchronization at the end.
  std::vector<double> time(const std::function<void(void*)>& fn, int warmup, int repeats) override {
    ScopedStream stream;
    for (int i = 0; i < warmup; ++i) fn(stream.get());
    if (repeats <= 0) {
      synchronize(stream.get());
      return {};
    }
    ScopedEvents events(static_cast<size_t>(repeats) + 1);
    KILN_CUDA_CHECK(cudaEventRecord(events[0], stream.get()), "timing: recording the start event");
    for (int i = 0; i < repeats; ++i) {
      fn(stream.get());
      KILN_CUDA_CHECK(cudaEventRecord(events[i + 1], stream.get()), "timing: recording an event");
    }
    KILN_CUDA_CHECK(cudaEventSynchronize(events[repeats]), "timing: waiting for the last repeat");
    std::vector<double> times;
    times.reserve(static_cast<size_t>(repeats));
    for (int i = 0; i < repeats; ++i) {
      float ms = 0;
      KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, events[i], events[i + 1]), "timing: reading a repeat's time");
      times.push_back(ms);
    }
    return times;
  }

  // ---- graphs ----

  // Thread-local capture mode: other threads may keep using CUDA (allocating, timing) while
  // this one captures. Capture on the legacy default stream is not allowed by CUDA, so a null
  // stream captures on a private one (the graph does not remember its capture stream).
  void* captureGraph(const std::function<void(void*)>& fn, void* stream) override {
    std::unique_ptr<ScopedStream> own;
    cudaStream_t s = asStream(stream);
    if (!s) {
      own = std::make_unique<ScopedStream>();
      s = own->get();
    }
    KILN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "beginning a graph capture");
    cudaGraph_t graph = nullptr;
    try {
      fn(s);
    } catch (...) {
      // End the capture so the stream is usable again; the partial graph is dropped.
      if (cudaStreamEndCapture(s, &graph) == cudaSuccess && graph) (void)cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      throw;
    }
    KILN_CUDA_CHECK(cudaStreamEndCapture(s, &graph), "ending a graph capture");
    cudaGraphExec_t exec = nullptr;
    cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    (void)cudaGraphDestroy(graph);
    KILN_CUDA_CHECK(status, "instantiating a captured graph");
    return exec;
  }
  void launchGraph(void* graph, void* stream) override {
    KILN_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), asStream(stream)), "launching a graph");
  }
  void destroyGraph(void* graph) noexcept override {
    if (graph && cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)) != cudaSuccess) (void)cudaGetLastError();
  }

  void pushRange(const char* name) override { nvtxRangePushA(name); }
  void popRange() override { nvtxRangePop(); }

 private:
  static void copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, void* stream, const char* what) {
    if (!bytes || dst == src) return;
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, asStream(stream)), std::string(what) + " (" + bytesText(bytes) + ")");
  }

  DeviceInfo info_;
};

//! Device 0 for the life of the process, or nullptr without a usable GPU. Never throws: a
//! machine without a driver simply has no GPU device.
backend::Device* makeCudaDevice() {
  try {
    if (deviceCount() <= 0) return nullptr;
    DeviceInfo info = deviceInfo(0);
    KILN_CUDA_CHECK(cudaSetDevice(0), "selecting device 0");
    static CudaDevice device(info);
    return &device;
  } catch (const std::exception&) {
    (void)cudaGetLastError();
    return nullptr;
  }
}

const backend::GpuDeviceRegistrar reg(&makeCudaDevice);

}  // namespace
}  // namespace kiln::cuda
