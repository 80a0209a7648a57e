// 2-D convolution as a cuDNN 9 backend-API operation graph (cudnn_graph.h; the C++ frontend
// is not used): descriptors with RAII, the graph for one set of shapes, the engine
// configurations that cuDNN's heuristics propose, and execution plans rebuilt from a saved
// choice (engine global index + knob values). kiln's NCHW tensors are described by strides.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "ir/ops/conv_epilogue.h"

namespace kiln::cuda::dnn {

//! The oldest cuDNN the tactics are written against (cudnnGetVersion's numbering).
constexpr size_t kMinCudnnVersion = 91400;

//! A cuDNN handle for build-time queries (heuristics, plans, workspace sizes): one per process,
//! used under its mutex, kept until exit. `handle` is null without a GPU or with a cuDNN older
//! than kMinCudnnVersion.
struct QueryHandle {
  cudnnHandle_t handle = nullptr;
  std::mutex mutex;
  QueryHandle();
};
QueryHandle& queryHandle();

//! Tensor unique ids in the graph and the variant pack (B and R in fused graphs only; the
//! fused graph's virtual intermediates take ids from kUidVirtual on).
enum : int64_t { kUidX = 1, kUidW = 2, kUidY = 3, kUidB = 4, kUidR = 5, kUidVirtual = 16 };

//! A Conv layer at concrete shapes (2-D, one element type). x, w and y hold the logical NCHW
//! dims (w: [K, C, R, S]); with `nhwc` (FusedConv's layout NHWC) they are stored channels last.
struct ConvSpec {
  DataType type = DataType::kFLOAT;
  int64_t x[4] = {}, w[4] = {}, y[4] = {};
  bool nhwc = false;
  int64_t pre[2] = {}, post[2] = {}, stride[2] = {}, dilation[2] = {};
  bool bias = false;          //!< a [K] bias (added after the convolution, see cudnn_conv.cpp)
  bool residual = false;      //!< FusedConv's R, of Y's shape
  ir::ConvEpilogue epilogue;  //!< FusedConv's activation (none for a Conv)
  //! The graph carries the epilogue: conv -> + B -> + R -> activation as pointwise operations
  //! on virtual fp32 tensors, which cuDNN's runtime-fusion engines compile into the
  //! convolution's kernel. Only for what fusedEpilogueSupported() accepts.
  bool fuse = false;
};

//! Whether the epilogue of `spec` can be a fused graph's pointwise operations: channels last
//! (runtime fusion takes NHWC only), fp16 or bf16, something to fuse, and an activation that
//! is one cuDNN pointwise mode (not hardswish).
bool fusedEpilogueSupported(const ConvSpec& spec);

//! False when the layer is not a 2-D Conv these tactics take (rank, types, attributes).
bool parseConv(const backend::LayerView& layer, ConvSpec& spec);

//! An owned cudnnBackendDescriptor_t; calls throw kiln::Error naming `context`.
class Descriptor {
 public:
  Descriptor() = default;
  Descriptor(cudnnBackendDescriptorType_t type, const std::string& context);
  Descriptor(Descriptor&& other) noexcept : d_(std::exchange(other.d_, nullptr)), context_(std::move(other.context_)) {}
  Descriptor& operator=(Descriptor&& other) noexcept;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor();

  cudnnBackendDescriptor_t get() const { return d_; }
  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const void* values);
  void finalize();

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  std::string context_;  //!< the layer and tactic, for errors
};

//! The operation graph of one convolution (its parts kept alive with it).
struct ConvGraph {
  std::vector<Descriptor> parts;
  Descriptor graph;
};
ConvGraph buildConvGraph(cudnnHandle_t handle, const ConvSpec& spec, const std::string& context);

//! An engine configuration, enough to rebuild its execution plan for any shapes.
struct EngineChoice {
  int64_t engine = 0;
  std::vector<std::pair<int64_t, int64_t>> knobs;  //!< (cudnnBackendKnobType_t, value)
  bool fused = false;                              //!< an engine of the fused graph (ConvSpec::fuse)
  bool operator==(const EngineChoice&) const = default;
};

//! Engine configurations from heuristics mode `mode`, in cuDNN's order, leaving out engines
//! with numerical notes in `excluded_notes`; `fused` is copied into each. Throws on cuDNN errors.
std::vector<EngineChoice> heuristicChoices(const ConvGraph& graph, cudnnBackendHeurMode_t mode,
                                           const std::vector<cudnnBackendNumericalNote_t>& excluded_notes, bool fused,
                                           const std::string& context);

//! A finalized execution plan and everything it refers to.
struct ExecutionPlan {
  ConvGraph graph;
  Descriptor engine;
  std::vector<Descriptor> knobs;
  Descriptor config;
  Descriptor plan;
  int64_t workspace = 0;
};
//! The plan of `choice` for `spec` (the fused graph when choice.fused).
std::unique_ptr<ExecutionPlan> buildPlan(cudnnHandle_t handle, const ConvSpec& spec, const EngineChoice& choice,
                                         const std::string& context);

//! Params bytes: format 1 (an unfused engine, as older plans hold) or 2 (with the fused flag).
std::vector<std::byte> encodeChoice(const EngineChoice& choice);
bool decodeChoice(const std::vector<std::byte>& bytes, EngineChoice& choice);

}  // namespace kiln::cuda::dnn
