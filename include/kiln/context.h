// ExecutionContext: one in-flight use of an Engine (its own activations, profile, shapes,
// CUDA graphs). Use each context from one thread at a time; many contexts run concurrently.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/profiler.h"
#include "kiln/types.h"

namespace kiln {

class ExecutionContext {
 public:
  ~ExecutionContext();

  //! Selects a profile explicitly; throws kInvalidArgument if out of range. Values given to
  //! shape inputs that the profile was not built for are dropped (give them again).
  void setOptimizationProfile(int32_t profile);
  int32_t optimizationProfile() const;

  //! Sets an input's shape. If no profile was chosen explicitly, kiln picks the tightest
  //! profile containing all shapes given so far. Throws kInvalidArgument naming the input
  //! and the profile's range when the shape does not fit.
  void setInputShape(const std::string& input, const Dims& dims);
  //! Shape of any I/O tensor for the shapes set so far (outputs are inferred).
  Dims tensorShape(const std::string& name) const;
  //! True when every input has a shape and every shape input its values.
  bool allInputShapesSpecified() const;

  //! Gives a shape input (Engine::isShapeInput) its values, on the host: entries in row-major
  //! order, copied. They are what output shapes are resolved from, and what the layers that
  //! read the input see; such an input needs no setTensorAddress (an address bound to it is not
  //! read). The values must lie within the profile's min..max (ProfileShapeValues), entry by
  //! entry; if no profile was chosen explicitly, kiln picks the tightest profile built for them (and the
  //! shapes and values given so far; values of other shape inputs that the picked profile was
  //! not built for are dropped and must be given again, as after setOptimizationProfile). The
  //! input's shape is the profile's. Throws kInvalidArgument naming the input and the
  //! profile's values on a mismatch, or when `input` is no shape input; enqueue throws naming
  //! a shape input without values. A context of an engine with one profile of fixed values
  //! starts with them. With a range of values, the context plans its activation memory for
  //! the values given (see OptimizationProfile::setShapeValues).
  void setInputShapeValues(const std::string& input, const std::vector<int64_t>& values);
  //! The values given so far (empty when none).
  std::vector<int64_t> inputShapeValues(const std::string& input) const;

  //! Binds an I/O tensor to memory on the engine's device (host memory for CPU engines).
  void setTensorAddress(const std::string& name, void* address);
  void* tensorAddress(const std::string& name) const;

  //! For ContextMemory::kUSER_MANAGED: activation memory of at least `size` bytes on the
  //! device (requiredMemorySize()), owned by the caller and kept until the context is gone.
  void setDeviceMemory(void* memory, size_t size);
  size_t requiredMemorySize() const;

  //! Runs asynchronously on `stream` (a cudaStream_t for GPU engines; ignored on the CPU,
  //! where the run is synchronous). Allocates nothing, does not synchronize.
  void enqueue(void* stream = nullptr);

  //! CUDA graph mode: capture once per input-shape signature, replay afterwards.
  void setCudaGraphMode(bool on);
  bool cudaGraphMode() const;
  //! Graphs currently held (bounded cache).
  size_t cudaGraphCount() const;

  //! Attaches a per-layer profiler (not owned), or detaches with nullptr.
  void setProfiler(Profiler* profiler);
  //! Delivers pending profiler times of asynchronous runs (synchronizes with the last run).
  void reportProfile();

  //! Copies a debug tensor's latest value to host memory; returns its shape and type.
  //! `size` must hold it; throws kInvalidArgument naming the tensor otherwise.
  Dims readDebugTensor(const std::string& name, void* host, size_t size, DataType* type = nullptr) const;

  const Engine::Impl& engine() const;

  struct Impl;

 private:
  friend class Engine;
  explicit ExecutionContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
