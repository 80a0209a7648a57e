// cuDNN statuses become kiln::Errors naming the layer and tactic (`context`), the call, the
// status string and cuDNN's last error message.
#pragma once

#include <cudnn.h>

#include <string>

#include "kiln/errors.h"

namespace kiln::cuda::dnn {

[[noreturn]] inline void throwDnnError(cudnnStatus_t status, const char* call, const std::string& context) {
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string message = context + ": " + call + " failed: " + cudnnGetErrorString(status);
  if (detail[0]) message += " (" + std::string(detail) + ")";
  throw Error(ErrorCode::kRuntime, message);
}

}  // namespace kiln::cuda::dnn

//! `context` is evaluated only on failure.
#define KILN_CUDNN_CHECK(call, context)                                             \
  do {                                                                              \
    cudnnStatus_t kiln_dnn_status_ = (call);                                        \
    if (kiln_dnn_status_ != CUDNN_STATUS_SUCCESS)                                   \
      ::kiln::cuda::dnn::throwDnnError(kiln_dnn_status_, #call, context);           \
  } while (0)
