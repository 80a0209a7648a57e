// What CUDA tactic providers read off a LayerView (host side, C++20): the layer's name for
// messages, inputs known on the host, and the element types kiln's CUDA kernels handle.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backends/backend.h"
#include "ir/ops/movement_math.h"
#include "ir/tensor.h"

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

//! A Resize layer's per-dim scales and sizes (ir::resizeAxes) from its host-known scales
//! (input 2) or sizes (input 3) over `axes`; an empty string on success, else why the values
//! cannot be had on the host.
inline std::string resizeAxesOnHost(const backend::LayerView& layer, const std::vector<int64_t>& axes,
                                    ir::ResizeAxes& r) {
  auto given = [&](int i) { return hasInput(layer, i) && volume(layer.inputs[i].shape) > 0; };
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (given(2)) {
    const ir::Tensor* t = hostValue(layer, 2);
    if (!t) return "scales not known on the host";
    scales = t->toDouble();
  } else if (given(3)) {
    const ir::Tensor* t = hostValue(layer, 3);
    if (!t) return "sizes not known on the host";
    sizes = t->toInt64();
  } else {
    return "neither scales nor sizes";
  }
  if ((!scales.empty() && scales.size() != axes.size()) || (!sizes.empty() && sizes.size() != axes.size()))
    return "scales / sizes do not match the axes";
  return ir::resizeAxes(layer.inputs[0].shape, axes, scales.empty() ? nullptr : &scales,
                        scales.empty() ? &sizes : nullptr, layer.attrs().s("keep_aspect_ratio_policy", "stretch"), r);
}

}  // namespace kiln::cuda
