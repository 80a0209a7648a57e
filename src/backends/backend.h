// The backend interface: a Device (memory, streams, timing, graph capture) and tactic
// providers (kernel families that say which layers they support and instantiate kernels).
// The builder and runtime work only on these; they include no CUDA header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/builder.h"
#include "kiln/tactic.h"
#include "kiln/types.h"

namespace kiln::backend {

// ---- device ----------------------------------------------------------------------------------

//! Memory, streams, events and timing of one device. Thread-safe. Streams, events and graphs
//! are opaque handles (cudaStream_t etc. on the GPU; nullptr-like dummies on the CPU).
class Device {
 public:
  virtual ~Device() = default;
  virtual DeviceKind kind() const = 0;
  //! Identity used by timing-cache keys: backend, architecture, SM count, library versions.
  virtual std::string identity() const = 0;
  //! "x86_64" or "sm_90".
  virtual std::string architecture() const = 0;
  //! Free-form description for people ("NVIDIA H100 80GB HBM3, sm_90, 132 SMs").
  virtual std::string description() const = 0;
  //! Nominal peak rates (0 where unknown), for showing how far a layer is from its floor.
  virtual DevicePeak peak() const { return {}; }

  //! Device memory; throws kRuntime naming the size on failure. free(nullptr) is a no-op.
  virtual void* allocate(size_t bytes) = 0;
  virtual void free(void* memory) noexcept = 0;
  //! Page-locked host memory (plain host memory on the CPU).
  virtual void* allocateHost(size_t bytes) = 0;
  virtual void freeHost(void* memory) noexcept = 0;
  //! Copies; asynchronous on `stream` where the device supports it.
  virtual void copyToDevice(void* dst, const void* src, size_t bytes, void* stream) = 0;
  virtual void copyToHost(void* dst, const void* src, size_t bytes, void* stream) = 0;
  virtual void copyOnDevice(void* dst, const void* src, size_t bytes, void* stream) = 0;
  virtual void memset(void* dst, int value, size_t bytes, void* stream) = 0;

  virtual void* createStream() = 0;
  virtual void destroyStream(void* stream) noexcept = 0;
  virtual void synchronize(void* stream) = 0;

  //! Events for the per-layer profiler.
  virtual void* createEvent() = 0;
  virtual void destroyEvent(void* event) noexcept = 0;
  virtual void recordEvent(void* event, void* stream) = 0;
  //! Milliseconds between two recorded events (waits for `end`).
  virtual float elapsedMs(void* start, void* end) = 0;

  //! Runs `fn(stream)` `warmup` times, then `repeats` times, each timed; returns the times in
  //! ms. `fn` may get a different argument each call (rotating buffers is the caller's job).
  virtual std::vector<double> time(const std::function<void(void* stream)>& fn, int warmup, int repeats) = 0;

  //! CUDA graph capture of `fn` on `stream`: returns an executable graph handle, or nullptr
  //! where the device has no graphs. launchGraph replays it on a stream.
  virtual void* captureGraph(const std::function<void(void* stream)>& fn, void* stream) { return nullptr; }
  virtual void launchGraph(void* graph, void* stream) {}
  virtual void destroyGraph(void* graph) noexcept {}

  //! Begin/end a named range seen by profilers (NVTX); no-op by default.
  virtual void pushRange(const char* name) {}
  virtual void popRange() {}
};

//! The CPU device (always present).
Device& cpuDevice();
//! The GPU device, or nullptr when kiln has no CUDA backend or no GPU is present.
Device* gpuDevice();
//! The device for `kind`; throws kRuntime when there is none.
Device& device(DeviceKind kind);

//! The CUDA backend installs its device factory here at static-initialization time.
using DeviceFactory = Device* (*)();
struct GpuDeviceRegistrar {
  explicit GpuDeviceRegistrar(DeviceFactory factory);
};

// ---- layers and kernels ----------------------------------------------------------------------

struct TensorDesc {
  DataType type = DataType::kFLOAT;
  ir::Shape shape;
  bool present = true;  //!< false for an omitted optional input/output
};

//! One layer as a tactic sees it, at one set of concrete shapes.
struct LayerView {
  const ir::Node* node = nullptr;
  int opset = 0;
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  //! Per input: its value when it is a constant (weights, folded tensors); nullptr else.
  std::vector<const ir::Tensor*> constants;
  //! Per input: its value when it is computed on the host from shapes (small int64 tensors
  //! such as Reshape's shape); nullptr else. Always set at run time for such inputs.
  std::vector<const ir::Tensor*> host_values;

  const ir::Attributes& attrs() const { return node->attrs; }
  bool isConstant(int i) const { return i < static_cast<int>(constants.size()) && constants[i] != nullptr; }
};

//! What the build asks of tactics.
struct BuildOptions {
  bool fp16 = false;
  bool bf16 = false;
  bool tf32 = false;
  HardwareCompatibility hardware = HardwareCompatibility::kSAME_ARCHITECTURE;
  size_t workspace_limit = size_t{1} << 30;
  int opt_level = 3;
};

//! One run of a kernel.
struct RunArgs {
  const LayerView* layer = nullptr;     //!< the concrete shapes of this run
  std::span<const void* const> inputs;  //!< device addresses (host on the CPU); nullptr if absent
  std::span<void* const> outputs;
  void* workspace = nullptr;
  size_t workspace_size = 0;
  void* stream = nullptr;
};

//! A tactic instantiated for one layer: holds its prepared weights (on the device) and the
//! state for one set of shapes (launch parameters, library handles and plans).
//! run() must not allocate, synchronize or log: it is on the enqueue path.
//!
//! Concurrency: an engine keeps one kernel per layer and profile as the prototype; every
//! execution context runs its own clone(), so reshape() and run() of one object are only ever
//! called from one thread at a time and need no lock. Prepared weights are shared by the
//! clones and are not changed while any clone runs (refit makes new prototypes).
class Kernel {
 public:
  virtual ~Kernel() = default;
  //! A kernel that shares this one's prepared weights and has its own per-shape state
  //! (copied, so it is ready for the shapes this one was reshaped to); or nullptr when this
  //! kernel keeps no per-shape state (reshape() does nothing and run() only reads members),
  //! so that every context may run this one object at once. Called off the enqueue path:
  //! when a context is created, switches profile, or first runs after a refit.
  virtual std::unique_ptr<Kernel> clone() const = 0;
  //! Scratch bytes for these shapes (<= the config's workspace at max).
  virtual size_t workspaceSize(const LayerView& layer) const { return 0; }
  //! Called when the context's shapes change (not on the enqueue path); may precompute.
  virtual void reshape(const LayerView& layer) {}
  virtual void run(const RunArgs& args) = 0;
  //! New values for the layer's constant inputs (refit): re-prepares the weights in place.
  //! The default re-instantiation is done by the runtime when this returns false.
  virtual bool refit(const LayerView& layer) { return false; }
};

//! One candidate of a provider for a layer.
struct TacticConfig {
  std::string name;                //!< unique within the provider, human readable
  std::vector<std::byte> params;   //!< opaque to everyone but the provider; stored in plans
  size_t workspace = 0;            //!< bytes at the profile's max shapes
  std::string formats = "linear";  //!< layouts, for the selector and reports
  bool portable = true;            //!< valid on every sm >= 80 (hardware compatibility)
  //! Inputs (by index) whose memory output 0 may take over, so that the layer runs in place:
  //! the kernel reads an element of such an input only to compute the same element of output
  //! 0, and before it writes that element (one thread per element, or a plain loop). Opt-in:
  //! empty, the output never shares an input's memory. The memory planner decides where it
  //! applies (TacticChoice::inplace_input); not part of the tactic id, not stored in plans.
  //! CPU reference kernels declare it, and cuDNN's fused-graph FusedConv engines for R (their
  //! epilogue reads R's element where it writes Y's). The tactic tests run such candidates in
  //! place too (tests/support/tactic_harness.cpp).
  std::vector<int> inplace_inputs;
};

//! A family of kernels from one source. Providers are registered once, statically.
class TacticProvider {
 public:
  virtual ~TacticProvider() = default;
  //! Unique, stable (stored in plans): "reference", "cpu.gemm", "cuda.elementwise", "cublaslt"...
  virtual std::string_view name() const = 0;
  virtual TacticSource source() const = 0;
  virtual DeviceKind device() const = 0;
  //! Cheap filter on the op type.
  virtual bool supportsOp(std::string_view op) const = 0;
  //! Candidates for `layer`, valid for every shape between `min` and `max` (the same layer at
  //! the profile's min/max shapes). `opt` is where they will be timed. The layer's compute
  //! precision is the type of its first floating-point output.
  virtual std::vector<TacticConfig> candidates(const LayerView& min, const LayerView& opt, const LayerView& max,
                                               const BuildOptions& options) const = 0;
  //! Prepares a kernel (weights uploaded to `device`). Throws kiln::Error naming the layer.
  virtual std::unique_ptr<Kernel> instantiate(const LayerView& layer, const TacticConfig& config,
                                              Device& device) const = 0;
};

//! Stable id of a candidate: FNV-1a over the provider name, config name and params.
uint64_t tacticId(std::string_view provider, const TacticConfig& config);

struct ProviderRegistrar {
  explicit ProviderRegistrar(std::unique_ptr<TacticProvider> provider);
};
//! Providers for `op` on `device`, in registration order.
std::vector<const TacticProvider*> providersFor(std::string_view op, DeviceKind device);
const TacticProvider* findProvider(std::string_view name);
std::vector<const TacticProvider*> allProviders();

#define KILN_TACTIC_PROVIDER(Type) \
  static const ::kiln::backend::ProviderRegistrar KILN_PP_CAT(kiln_provider_, __LINE__)(std::make_unique<Type>())

}  // namespace kiln::backend
