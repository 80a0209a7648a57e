// The CUDA device layer: device discovery and status checks. The builder and runtime reach
// it only through the backend interface; nothing outside src/backends/cuda includes CUDA.
#pragma once

#include <cstddef>
#include <string>

namespace kiln::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int sm_major = 0;
  int sm_minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
  size_t l2_bytes = 0;
  size_t shared_memory_per_block_optin = 0;  //!< the most dynamic shared memory a block may ask for
  int clock_khz = 0;         //!< peak SM clock
  int memory_clock_khz = 0;  //!< peak memory clock
  int memory_bus_bits = 0;
};

//! Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int deviceCount();

//! Properties of device `ordinal`; throws kiln::Error (kRuntime) on failure.
DeviceInfo deviceInfo(int ordinal);

//! "sm_90" for compute capability 9.0.
std::string architectureName(const DeviceInfo& info);

//! Library versions as numbers (e.g. cudart 13000, cuBLAS 130001, cuDNN 91300), read at run
//! time from the libraries actually loaded; 0 where a query fails.
int cudaRuntimeVersion();
int cublasVersion();
size_t cudnnVersion();

}  // namespace kiln::cuda
