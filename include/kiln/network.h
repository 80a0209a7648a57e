// Network: a model's graph as kiln holds it after import (the counterpart of TensorRT's
// INetworkDefinition). Made by OnnxParser, consumed by Builder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/types.h"

namespace kiln {

struct LayerDescription {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

class Network {
 public:
  Network();
  ~Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  Network(const Network&);
  Network& operator=(const Network&);

  int32_t numInputs() const;
  int32_t numOutputs() const;
  std::string inputName(int32_t index) const;
  std::string outputName(int32_t index) const;
  //! Type and dims of any tensor (input, output or intermediate); dims < 0 are dynamic.
  DataType tensorType(const std::string& tensor) const;
  Dims tensorDims(const std::string& tensor) const;
  //! Name of a dynamic dimension ("batch") or "" when it has none.
  std::string dimensionName(const std::string& tensor, int32_t dim) const;

  int32_t numLayers() const;
  LayerDescription layer(int32_t index) const;

  //! True for a shape input: an int32/int64 input whose values determine shapes (a Reshape's
  //! shape, a Slice's starts, a Reduce's axes, TopK's k, ...). Each optimization profile must
  //! give its values (OptimizationProfile::setShapeValues). The builder decides on the
  //! optimized graph; this asks the graph as imported, which agrees for every model whose
  //! shape inputs the optimizer leaves in place.
  bool isShapeInput(const std::string& input) const;

  //! Names of the model's weights (ONNX initializers), in model order.
  std::vector<std::string> weightNames() const;

  //! Keeps an intermediate tensor alive and readable after each run (a debug tensor);
  //! throws kInvalidArgument when no such tensor exists.
  void markDebug(const std::string& tensor);
  bool isDebug(const std::string& tensor) const;
  std::vector<std::string> debugTensors() const;

  //! Implementation access for kiln's own stages.
  struct Impl;
  Impl& impl();
  const Impl& impl() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
