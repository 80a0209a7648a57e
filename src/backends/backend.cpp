#include "backends/backend.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace kiln::backend {

namespace {

//! The host as a device: memory is host memory, streams are dummies, work is synchronous.
class CpuDevice final : public Device {
 public:
  DeviceKind kind() const override { return DeviceKind::kCPU; }
  std::string identity() const override { return "cpu:" + architecture(); }
  std::string architecture() const override {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "unknown";
#endif
  }
  std::string description() const override { return "CPU (" + architecture() + ")"; }

  void* allocate(size_t bytes) override {
    void* p = std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
    if (!p) throw Error(ErrorCode::kRuntime, "cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    return p;
  }
  void free(void* memory) noexcept override { std::free(memory); }
  void* allocateHost(size_t bytes) override { return allocate(bytes); }
  void freeHost(void* memory) noexcept override { std::free(memory); }
  void copyToDevice(void* dst, const void* src, size_t bytes, void*) override { copy(dst, src, bytes); }
  void copyToHost(void* dst, const void* src, size_t bytes, void*) override { copy(dst, src, bytes); }
  void copyOnDevice(void* dst, const void* src, size_t bytes, void*) override { copy(dst, src, bytes); }
  void memset(void* dst, int value, size_t bytes, void*) override {
    if (bytes) std::memset(dst, value, bytes);
  }

  void* createStream() override { return nullptr; }
  void destroyStream(void*) noexcept override {}
  void synchronize(void*) override {}

  // An event is a time point written when recorded.
  void* createEvent() override { return new Clock::time_point(); }
  void destroyEvent(void* event) noexcept override { delete static_cast<Clock::time_point*>(event); }
  void recordEvent(void* event, void*) override { *static_cast<Clock::time_point*>(event) = Clock::now(); }
  float elapsedMs(void* start, void* end) override {
    auto d = *static_cast<Clock::time_point*>(end) - *static_cast<Clock::time_point*>(start);
    return std::chrono::duration<float, std::milli>(d).count();
  }

  std::vector<double> time(const std::function<void(void*)>& fn, int warmup, int repeats) override {
    for (int i = 0; i < warmup; ++i) fn(nullptr);
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
      auto t0 = Clock::now();
      fn(nullptr);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return times;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static void copy(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memmove(dst, src, bytes);
  }
};

DeviceFactory& gpuFactory() {
  static DeviceFactory factory = nullptr;
  return factory;
}

std::vector<std::unique_ptr<TacticProvider>>& providers() {
  static std::vector<std::unique_ptr<TacticProvider>> list;
  return list;
}

}  // namespace

Device& cpuDevice() {
  static CpuDevice device;
  return device;
}

GpuDeviceRegistrar::GpuDeviceRegistrar(DeviceFactory factory) { gpuFactory() = factory; }

Device* gpuDevice() {
  static Device* device = gpuFactory() ? gpuFactory()() : nullptr;
  return device;
}

Device& device(DeviceKind kind) {
  if (kind == DeviceKind::kCPU) return cpuDevice();
  Device* gpu = gpuDevice();
  if (!gpu)
    throw Error(ErrorCode::kRuntime, gpuFactory() ? "no CUDA GPU is available on this machine"
                                                  : "no GPU backend: this kiln was built without CUDA");
  return *gpu;
}

uint64_t tacticId(std::string_view provider, const TacticConfig& config) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(provider.data(), provider.size());
  mix("/", 1);
  mix(config.name.data(), config.name.size());
  mix("/", 1);
  mix(config.params.data(), config.params.size());
  return h;
}

ProviderRegistrar::ProviderRegistrar(std::unique_ptr<TacticProvider> provider) {
  providers().push_back(std::move(provider));
}

std::vector<const TacticProvider*> providersFor(std::string_view op, DeviceKind device) {
  std::vector<const TacticProvider*> out;
  for (const auto& p : providers())
    if (p->device() == device && p->supportsOp(op)) out.push_back(p.get());
  // Stable order independent of static-initialization order: by name.
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  return out;
}

const TacticProvider* findProvider(std::string_view name) {
  for (const auto& p : providers())
    if (p->name() == name) return p.get();
  return nullptr;
}

std::vector<const TacticProvider*> allProviders() {
  std::vector<const TacticProvider*> out;
  for (const auto& p : providers()) out.push_back(p.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  return out;
}

}  // namespace kiln::backend
