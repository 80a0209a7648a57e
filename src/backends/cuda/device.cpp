#include "backends/cuda/device.h"

#include <cublasLt.h>
#include <cudnn.h>

#include "backends/cuda/check.h"

namespace kiln::cuda {

void throwCudaError(cudaError_t status, const char* call, const char* file, int line, const std::string& context) {
  // A failed call (e.g. cudaMalloc) also sets the thread's last error; clear it so that the
  // next launch check does not report this failure again.
  (void)cudaGetLastError();
  throw Error(ErrorCode::kRuntime, context + ": " + call + " failed: " + cudaGetErrorName(status) + " (" +
                                       cudaGetErrorString(status) + ") at " + file + ":" + std::to_string(line));
}

int deviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" status
    return 0;
  }
  return count;
}

DeviceInfo deviceInfo(int ordinal) {
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal), "device " + std::to_string(ordinal));
  auto attribute = [&](cudaDeviceAttr what, const char* name) {
    int v = 0;
    KILN_CUDA_CHECK(cudaDeviceGetAttribute(&v, what, ordinal), std::string("device attribute ") + name);
    return v;
  };
  return DeviceInfo{.ordinal = ordinal,
                    .name = prop.name,
                    .sm_major = prop.major,
                    .sm_minor = prop.minor,
                    .sm_count = prop.multiProcessorCount,
                    .total_memory = prop.totalGlobalMem,
                    .l2_bytes = static_cast<size_t>(prop.l2CacheSize),
                    .shared_memory_per_block_optin = prop.sharedMemPerBlockOptin,
                    .clock_khz = attribute(cudaDevAttrClockRate, "clock rate"),
                    .memory_clock_khz = attribute(cudaDevAttrMemoryClockRate, "memory clock rate"),
                    .memory_bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, "memory bus width")};
}

std::string architectureName(const DeviceInfo& info) {
  return "sm_" + std::to_string(info.sm_major) + std::to_string(info.sm_minor);
}

int cudaRuntimeVersion() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

// cublasLtGetVersion needs no handle (and so no GPU context); cuBLAS and cuBLASLt ship and
// version together.
int cublasVersion() { return static_cast<int>(cublasLtGetVersion()); }

size_t cudnnVersion() { return cudnnGetVersion(); }

}  // namespace kiln::cuda
