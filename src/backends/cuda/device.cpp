#include "backends/cuda/device.h"

#include "backends/cuda/check.h"

namespace kiln::cuda {

void throwCudaError(cudaError_t status, const char* call, const char* file, int line, const std::string& context) {
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
  return DeviceInfo{.ordinal = ordinal,
                    .name = prop.name,
                    .sm_major = prop.major,
                    .sm_minor = prop.minor,
                    .sm_count = prop.multiProcessorCount,
                    .total_memory = prop.totalGlobalMem};
}

}  // namespace kiln::cuda
