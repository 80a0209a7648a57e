// Engine: an immutable, shareable optimized model (weights held once), loaded from a plan.
// Any number of ExecutionContexts run it concurrently.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/builder.h"
#include "kiln/tactic.h"
#include "kiln/types.h"

namespace kiln {

class ExecutionContext;

enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };

//! How a context gets its activation memory.
enum class ContextMemory : int32_t {
  kENGINE_MANAGED = 0,  //!< allocated by the context for its profile's max shapes
  kUSER_MANAGED = 1,    //!< none: call setDeviceMemory before running
  kSHAPE_SIZED = 2,     //!< allocated for the shapes actually given (re-sized when they grow)
};

struct LayerInfo {
  std::string name;
  std::string op;
  std::string tactic;      //!< chosen tactic's name (profile 0)
  TacticSource source = TacticSource::kREFERENCE;
  uint64_t tactic_id = 0;
  std::string precision;  //!< the type it computes in: "float32", "float16", "bfloat16"; "host"
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  //! The input whose memory output 0 takes over (the layer runs in place), or -1.
  int32_t inplace_input = -1;
};

struct CompatibilityInfo {
  uint32_t format_version = 0;
  std::string kiln_version;
  DeviceKind device = DeviceKind::kCPU;
  std::string architecture;  //!< "sm_90", "x86_64"
  HardwareCompatibility level = HardwareCompatibility::kSAME_ARCHITECTURE;
  bool version_compatible = false;
};

//! Where a weight-stripped plan takes its weights from.
struct WeightsSource {
  std::string path;  //!< an .onnx or .safetensors file; empty: the plan has its weights
};

class Engine {
 public:
  //! Loads a plan. Validates everything before use; throws kInvalidPlan naming what is wrong
  //! (damaged, newer format, another backend or architecture), kRuntime when the device
  //! cannot run it. A weight-stripped plan needs `weights`.
  static Engine deserialize(std::span<const std::byte> plan, const WeightsSource& weights = {});
  static Engine load(const std::string& path, const WeightsSource& weights = {});

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  //! The plan of this engine, with its current (possibly refitted) weights.
  std::vector<std::byte> serialize() const;
  //! Writes the plan atomically.
  void save(const std::string& path) const;

  int32_t numIOTensors() const;
  std::string ioTensorName(int32_t index) const;
  TensorIOMode tensorIOMode(const std::string& name) const;
  //! The nominal peak rates of the device the engine runs on (zeros on the CPU).
  DevicePeak devicePeak() const;
  DataType tensorType(const std::string& name) const;
  //! Dims as built; dynamic dims are -1.
  Dims tensorShape(const std::string& name) const;

  int32_t numOptimizationProfiles() const;
  //! Throws kInvalidArgument for an unknown input or profile.
  ProfileDims profileDims(const std::string& input, int32_t profile) const;
  //! True for a shape input: an input whose values determine shapes (see
  //! OptimizationProfile::setShapeValues). A context takes its values with
  //! ExecutionContext::setInputShapeValues, on the host; it needs no setTensorAddress.
  bool isShapeInput(const std::string& input) const;
  //! The values a profile was built for; throws kInvalidArgument for an unknown profile or an
  //! input that is not a shape input.
  ProfileShapeValues profileShapeValues(const std::string& input, int32_t profile) const;

  //! Device memory a context needs for `profile` (its max shapes), in bytes: its activations
  //! plus the workspace (one block; what setDeviceMemory must be given).
  size_t deviceMemorySize(int32_t profile) const;
  //! The same without reuse between tensors (what lifetime planning saved).
  size_t deviceMemorySizeWithoutReuse(int32_t profile) const;
  //! The activations alone of deviceMemorySize(profile): the memory plan's size.
  size_t activationSize(int32_t profile) const;
  //! The largest total of activations alive at once at `profile`'s max shapes: no memory plan
  //! is smaller, so activationSize() - activationLowerBound() is all placement could still
  //! save. 0 when unknown (plans of format 1).
  size_t activationLowerBound(int32_t profile) const;
  size_t weightsSize() const;
  size_t workspaceSize(int32_t profile) const;

  std::vector<LayerInfo> layers(int32_t profile = 0) const;
  std::vector<std::string> debugTensors() const;

  bool refittable() const;
  bool weightsStripped() const;
  CompatibilityInfo compatibility() const;
  DeviceKind device() const;

  std::unique_ptr<ExecutionContext> createExecutionContext(ContextMemory memory = ContextMemory::kENGINE_MANAGED);

  struct Impl;
  Impl& impl();
  const Impl& impl() const;
  std::shared_ptr<Impl> shared() const { return impl_; }

 private:
  explicit Engine(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace kiln
