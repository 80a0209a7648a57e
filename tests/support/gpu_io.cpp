#include "support/gpu_io.h"

#include <algorithm>

namespace kiln::testing {

void* GpuIO::get(const std::string& name, size_t bytes) {
  auto it = buffers.find(name);
  if (it == buffers.end() || it->second.size() < bytes)
    it = buffers.insert_or_assign(name, DeviceBuffer(DeviceKind::kGPU, std::max<size_t>(bytes, 1))).first;
  return it->second.data();
}

std::map<std::string, ir::Tensor> runGpu(const Engine& engine, ExecutionContext& ctx,
                                         const std::map<std::string, ir::Tensor>& inputs, Stream& stream, GpuIO& io) {
  for (const auto& [name, t] : inputs) ctx.setInputShape(name, t.shape());
  for (const auto& [name, t] : inputs) {
    void* p = io.get(name, t.byteSize());
    stream.copyToDevice(p, t.raw(), t.byteSize());
    ctx.setTensorAddress(name, p);
  }
  std::map<std::string, ir::Tensor> out;
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    ir::Tensor t(engine.tensorType(name), ctx.tensorShape(name));
    ctx.setTensorAddress(name, io.get(name, t.byteSize()));
    out.emplace(name, std::move(t));
  }
  ctx.enqueue(stream.handle());
  for (auto& [name, t] : out) stream.copyToHost(t.raw(), io.buffers.at(name).data(), t.byteSize());
  stream.synchronize();
  return out;
}

}  // namespace kiln::testing
