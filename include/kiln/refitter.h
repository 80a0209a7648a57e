// Refit: new weights for a refittable engine, in place, without a rebuild.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/engine.h"

namespace kiln {

class Refitter {
 public:
  //! The engine must be refittable (kInvalidArgument otherwise) and outlive the refitter.
  explicit Refitter(Engine& engine);
  ~Refitter();

  //! The model's weight names (ONNX initializer names) the engine can take.
  std::vector<std::string> weightNames() const;

  //! Stages a new value for a weight (copied). Throws kInvalidArgument naming the weight if
  //! it is unknown or its type or shape differs from the model's.
  void setNamedWeights(const std::string& name, DataType type, const Dims& dims, std::span<const std::byte> values);

  //! Weights that must be given before refit(): those whose fused partners were given but
  //! they were not (a conv folded with a BatchNorm needs all of the group).
  std::vector<std::string> missingWeights() const;

  //! Applies the staged weights, all or nothing; returns the names updated. Throws
  //! kInvalidArgument (naming them) when weights are missing; the engine then keeps all its
  //! old weights. Must not run while a context of the engine is running.
  std::vector<std::string> refit();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

//! Reads named weights from an .onnx model (initializers) or a .safetensors file.
struct NamedWeight {
  DataType type = DataType::kFLOAT;
  Dims dims;
  std::vector<std::byte> values;
};
std::map<std::string, NamedWeight> readWeightsFile(const std::string& path);

}  // namespace kiln
