// The CUDA device layer: device discovery and status checks. The builder and runtime reach
// it only through the backend interface; nothing outside src/backends/cuda includes CUDA.
#pragma once

#include <string>

namespace kiln::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int sm_major = 0;
  int sm_minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
};

//! Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int deviceCount();

//! Properties of device `ordinal`; throws kiln::Error (kRuntime) on failure.
DeviceInfo deviceInfo(int ordinal);

}  // namespace kiln::cuda
