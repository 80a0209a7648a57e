// Pieces shared by the NVIDIA-library tactic providers (cublas, cublaslt, cudnn): status checks
// that name the layer, the tactic and the library's status string; the CUDA data type of a
// kiln element type; and the layer's constant inputs (weights) held on the device.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <library_types.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "kiln/errors.h"

namespace kiln::cuda::library {

[[noreturn]] inline void throwBlasError(cublasStatus_t status, const char* call, const std::string& context) {
  throw Error(ErrorCode::kRuntime, context + ": " + call + " failed: " + cublasGetStatusName(status) + " (" +
                                       cublasGetStatusString(status) + ")");
}

//! The compute precisions these providers take (inputs and output of one type).
inline bool isLibraryType(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }

inline cudaDataType_t cudaTypeOf(DataType t) {
  switch (t) {
    case DataType::kHALF: return CUDA_R_16F;
    case DataType::kBF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

//! Short precision name for tactic names: "fp32", "tf32", "fp16", "bf16".
inline std::string precisionName(DataType t, bool tf32) {
  if (t == DataType::kHALF) return "fp16";
  if (t == DataType::kBF16) return "bf16";
  return tf32 ? "tf32" : "fp32";
}

//! True when every present input and output of `layer` has element type `t`.
inline bool allOfType(const backend::LayerView& layer, DataType t) {
  for (const auto& d : layer.inputs)
    if (d.present && d.type != t) return false;
  for (const auto& d : layer.outputs)
    if (d.present && d.type != t) return false;
  return true;
}

//! The layer's constant inputs, uploaded to the device once (instantiate) and again on refit;
//! other inputs are read from the run's pointers. Uploads synchronize: they are off the
//! enqueue path.
class LayerConstants {
 public:
  //! Replaces the uploads with the layer's current constants. Copies of this object made
  //! before keep the old uploads (a kernel's clones share its weights until a refit).
  void upload(backend::Device& device, const backend::LayerView& layer) {
    auto fresh = std::make_shared<Uploads>();
    fresh->device = &device;
    fresh->buffers.assign(layer.inputs.size(), nullptr);
    for (size_t i = 0; i < layer.inputs.size(); ++i) {
      if (!layer.isConstant(static_cast<int>(i))) continue;
      const ir::Tensor& t = *layer.constants[i];
      fresh->buffers[i] = device.allocate(std::max<size_t>(t.byteSize(), 1));
      if (t.byteSize()) device.copyToDevice(fresh->buffers[i], t.raw(), t.byteSize(), nullptr);
    }
    device.synchronize(nullptr);
    uploads_ = std::move(fresh);
  }

  //! Device address of input `i` for this run: the uploaded constant, else the run's pointer.
  const void* input(const backend::RunArgs& args, size_t i) const {
    if (uploads_ && i < uploads_->buffers.size() && uploads_->buffers[i]) return uploads_->buffers[i];
    return i < args.inputs.size() ? args.inputs[i] : nullptr;
  }

 private:
  //! One set of uploads, freed when the last kernel sharing it goes.
  struct Uploads {
    backend::Device* device = nullptr;
    std::vector<void*> buffers;
    Uploads() = default;
    Uploads(const Uploads&) = delete;
    Uploads& operator=(const Uploads&) = delete;
    ~Uploads() {
      for (void* b : buffers) device->free(b);
    }
  };
  std::shared_ptr<const Uploads> uploads_;
};

//! Scratch that cuBLAS/cuBLASLt may use per call: large enough for Hopper's best kernels
//! (NVIDIA recommends 32 MiB there), never above the build's workspace limit.
inline size_t blasWorkspace(const backend::BuildOptions& options) {
  return std::min<size_t>(size_t{32} << 20, options.workspace_limit);
}

}  // namespace kiln::cuda::library

//! Checks a cuBLAS or cuBLASLt status; `context` (evaluated only on failure) names the layer
//! and the tactic.
#define KILN_CUBLAS_CHECK(call, context)                                                         \
  do {                                                                                           \
    cublasStatus_t kiln_blas_status_ = (call);                                                   \
    if (kiln_blas_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      ::kiln::cuda::library::throwBlasError(kiln_blas_status_, #call, context);                  \
  } while (0)
