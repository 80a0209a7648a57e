// Running an engine's context on the GPU from host tensors, for the GPU tests: device buffers
// that stay bound across runs (CUDA graph mode keys on the addresses), inputs up, outputs down.
#pragma once

#include <map>
#include <string>

#include "ir/tensor.h"
#include "kiln/kiln.h"

namespace kiln::testing {

//! Device memory for a context's I/O by tensor name, grown when a run needs more.
struct GpuIO {
  std::map<std::string, DeviceBuffer> buffers;
  void* get(const std::string& name, size_t bytes);
};

//! Copies `inputs` to the device, runs `ctx` on `stream`, copies every output back.
std::map<std::string, ir::Tensor> runGpu(const Engine& engine, ExecutionContext& ctx,
                                         const std::map<std::string, ir::Tensor>& inputs, Stream& stream, GpuIO& io);

}  // namespace kiln::testing
