// What CUDA tactic providers read off a LayerView (host side, C++20): the layer's name for
// messages, inputs known on the host, and the element types kiln's CUDA kernels handle.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backends/backend.h"

namespace kiln::cuda {

inline cudaStream_t streamOf(const backend::RunArgs& args) { return static_cast<cudaStream_t>(args.stream); }

//! The layer's name for error messages ("node 'x' (Relu)").
inline std::string layerName(const backend::LayerView& layer) {
  return layer.node ? layer.node->describe() : std::string("a layer");
}

inline bool hasInput(const backend::LayerView& layer, int i) {
  return i < static_cast<int>(layer.inputs.size()) && layer.inputs[i].present;
}

//! An input's value when known on the host (a constant, or computed from shapes); else null.
inline const ir::Tensor* hostValue(const backend::LayerView& layer, int i) {
  if (i < static_cast<int>(layer.constants.size()) && layer.constants[i]) return layer.constants[i];
  if (i < static_cast<int>(layer.host_values.size()) && layer.host_values[i]) return layer.host_values[i];
  return nullptr;
}

//! Element types with device kernels: float, half, bfloat16, int32, int64, bool, int8, uint8.
inline bool isDeviceType(DataType type) {
  switch (type) {
    case DataType::kFLOAT: case DataType::kHALF: case DataType::kBF16: case DataType::kINT32:
    case DataType::kINT64: case DataType::kBOOL: case DataType::kINT8: case DataType::kUINT8: return true;
    default: return false;
  }
}

//! True when no input or output has a rank above `max_rank`.
inline bool ranksAtMost(const backend::LayerView& layer, size_t max_rank) {
  for (const auto& t : layer.inputs)
    if (t.present && t.shape.size() > max_rank) return false;
  for (const auto& t : layer.outputs)
    if (t.present && t.shape.size() > max_rank) return false;
  return true;
}

}  // namespace kiln::cuda
