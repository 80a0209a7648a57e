// Every CUDA runtime status is checked at the call and becomes a kiln::Error naming the call,
// the file and line, and what the caller was doing.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "kiln/errors.h"

namespace kiln::cuda {

[[noreturn]] void throwCudaError(cudaError_t status, const char* call, const char* file, int line,
                                 const std::string& context);

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call, context)                                              \
  do {                                                                              \
    cudaError_t kiln_status_ = (call);                                              \
    if (kiln_status_ != cudaSuccess)                                                \
      ::kiln::cuda::throwCudaError(kiln_status_, #call, __FILE__, __LINE__, context); \
  } while (0)

//! After a kernel launch: turns a launch error (bad configuration, no kernel image for this
//! GPU) into a kiln::Error naming `context` (typically the layer). Evaluates `context` only on
//! failure, so it costs nothing on the enqueue path.
#define KILN_CUDA_CHECK_LAUNCH(context) KILN_CUDA_CHECK(cudaGetLastError(), context)
