// Tactic provider "cudnn" (source kCUDNN): 2-D Conv and FusedConv (NCHW described by strides;
// fp32, tf32 when the build allows it, fp16, bf16; groups, strides, dilations, pads, auto_pad)
// through the cuDNN 9 backend API. Every engine configuration that cuDNN's heuristics propose
// (mode A, then the fallback list) for the opt shapes is its own tactic, kept when an execution
// plan finalizes at the min, opt and max shapes; params hold the engine's global index and knob
// values, from which instantiate() rebuilds the plan.
//
// What follows the convolution (a Conv's bias; FusedConv's bias, residual and activation) is
// either one pass of kiln's epilogue kernel over Y (kernels/conv_epilogue.cu), for every layout
// and precision, or, for channels-last fp16 / bf16 FusedConv layers, part of the cuDNN graph
// itself: conv -> + B -> + R -> activation as pointwise operations on virtual fp32 tensors,
// which cuDNN's runtime-fusion engines compile (NVRTC, when the plan is finalized) into the
// convolution's own kernel, so Y is written once. Those engines are further tactics
// ("cudnn.fp16.fused.e..."), timed against the unfused ones; params format 2 marks them. In
// the unfused form Y is written by cuDNN before the epilogue reads the residual, so the two
// must not share memory.
//
// Concurrency: one cudnnHandle_t per kernel object, and every execution context runs its own
// clone, so run() sets the stream without a lock. Plans are per input shape, built in
// reshape() (off the enqueue path); the variant pack is cached per set of device pointers, so
// steady-state runs allocate nothing.
//
// Portability: engine configurations are tuned per GPU architecture, so configs are marked
// portable = false and `ampere+` builds leave this source out.
#include <algorithm>
#include <cstring>
#include <mutex>

#include "backends/cuda/check.h"
#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/cudnn/conv_graph.h"
#include "backends/cuda/cudnn/cudnn_check.h"
#include "backends/cuda/kernels/conv_epilogue.h"

namespace kiln::cuda::dnn {
namespace {

using library::LayerConstants;

constexpr size_t kMaxCandidates = 8;
//! Fused-graph engines offered per layer: each plan of a runtime-fusion engine is compiled when
//! it is finalized, which costs build (and engine load) time.
constexpr size_t kMaxFusedCandidates = 4;
constexpr size_t kFusedFromModeA = 3;  //!< of those, the first ones mode A ranks (then mode B's)

bool sameShape(const ConvSpec& a, const ConvSpec& b) {
  for (int i = 0; i < 4; ++i)
    if (a.x[i] != b.x[i] || a.y[i] != b.y[i] || a.w[i] != b.w[i]) return false;
  return true;
}

//! Numerical notes that would break the precision the build asked for: no tf32 tensor cores
//! (nor FFT/Winograd's larger error) in strict fp32; no fp16 reductions anywhere.
std::vector<cudnnBackendNumericalNote_t> excludedNotes(DataType type, bool tf32) {
  std::vector<cudnnBackendNumericalNote_t> notes = {CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION};
  if (type == DataType::kFLOAT && !tf32) {
    notes.insert(notes.end(), {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS,
                               CUDNN_NUMERICAL_NOTE_FFT, CUDNN_NUMERICAL_NOTE_WINOGRAD});
  }
  return notes;
}

std::string choiceName(const EngineChoice& c, const std::string& precision) {
  std::string name = "cudnn." + precision + (c.fused ? ".fused" : "") + ".e" + std::to_string(c.engine);
  for (const auto& [type, value] : c.knobs) name += ".k" + std::to_string(type) + "=" + std::to_string(value);
  return name;
}

class CudnnConvKernel final : public backend::Kernel {
 public:
  CudnnConvKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        workspace_(config.workspace),
        device_(device) {
    if (!decodeChoice(config.params, choice_))
      throw Error(ErrorCode::kInvalidArgument, context_ + ": malformed cudnn parameters");
    ConvSpec spec;
    if (!parseConv(layer, spec)) throw Error(ErrorCode::kUnsupported, context_ + ": not a 2-D convolution it takes");
    spec.fuse = choice_.fused;
    if (spec.fuse && !fusedEpilogueSupported(spec))
      throw Error(ErrorCode::kUnsupported, context_ + ": a fused engine for an epilogue the fused graph does not take");
    type_ = spec.type;
    nhwc_ = spec.nhwc;
    has_bias_ = spec.bias;
    epilogue_ = ir::convEpilogue(layer.attrs());
    has_residual_ = layer.node->op == "FusedConv" && layer.inputs.size() > 3 && layer.inputs[3].present;
    try {
      createHandle();
      constants_.upload(device_, layer);
      ensurePlan(spec);
    } catch (...) {
      release();
      throw;
    }
  }
  //! A clone: the same weights; its own handle and plans, made for its shapes by reshape().
  CudnnConvKernel(const CudnnConvKernel& other)
      : context_(other.context_),
        workspace_(other.workspace_),
        device_(other.device_),
        choice_(other.choice_),
        type_(other.type_),
        nhwc_(other.nhwc_),
        has_bias_(other.has_bias_),
        has_residual_(other.has_residual_),
        epilogue_(other.epilogue_),
        constants_(other.constants_) {
    try {
      createHandle();
    } catch (...) {
      release();
      throw;
    }
  }
  CudnnConvKernel& operator=(const CudnnConvKernel&) = delete;
  ~CudnnConvKernel() override { release(); }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CudnnConvKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  void reshape(const backend::LayerView& layer) override {
    ConvSpec spec;
    if (!parseConv(layer, spec)) throw Error(ErrorCode::kUnsupported, context_ + ": shapes it cannot take");
    spec.fuse = choice_.fused;
    ensurePlan(spec);
  }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(device_, layer);
    for (auto& e : plans_) e.pack = Descriptor();  // the weight pointers changed
    return true;
  }

  void run(const backend::RunArgs& args) override {
    const ir::Shape& xs = args.layer->inputs[0].shape;
    if (xs.size() != 4) throw Error(ErrorCode::kRuntime, context_ + ": input is not 4-D");
    // X's logical NCHW dims, without allocating (this is the enqueue path).
    const int64_t dims[4] = {xs[0], nhwc_ ? xs[3] : xs[1], nhwc_ ? xs[1] : xs[2], nhwc_ ? xs[2] : xs[3]};
    PlanEntry* entry = findPlan(dims);
    if (!entry) {  // reshape() was not called for these shapes: build now (allocates, once)
      ConvSpec spec;
      if (!parseConv(*args.layer, spec)) throw Error(ErrorCode::kRuntime, context_ + ": shapes it cannot take");
      entry = &ensurePlan(spec);
    }
    const void* x = args.inputs[0];
    const void* w = constants_.input(args, 1);
    void* y = args.outputs[0];
    const void* b = has_bias_ ? constants_.input(args, 2) : nullptr;
    const void* r = has_residual_ ? constants_.input(args, 3) : nullptr;
    // X, W, Y, and for a fused plan B and R where the layer has them.
    void* pointers[kPackSize] = {const_cast<void*>(x), const_cast<void*>(w), y, const_cast<void*>(b),
                                 const_cast<void*>(r)};
    if (!entry->pack.get() || std::memcmp(pointers, entry->pointers, sizeof(pointers)) != 0 ||
        args.workspace != entry->workspace) {
      int64_t uids[kPackSize] = {kUidX, kUidW, kUidY};
      void* data[kPackSize] = {pointers[0], pointers[1], pointers[2]};
      int64_t count = 3;
      if (choice_.fused && has_bias_) {
        uids[count] = kUidB;
        data[count++] = pointers[3];
      }
      if (choice_.fused && has_residual_) {
        uids[count] = kUidR;
        data[count++] = pointers[4];
      }
      entry->pack = Descriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, context_);
      entry->pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, uids);
      entry->pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count, data);
      void* workspace = args.workspace;
      entry->pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
      entry->pack.finalize();
      std::memcpy(entry->pointers, pointers, sizeof(pointers));
      entry->workspace = args.workspace;
    }
    cudaStream_t stream = static_cast<cudaStream_t>(args.stream);
    KILN_CUDNN_CHECK(cudnnSetStream(handle_, stream), context_);
    KILN_CUDNN_CHECK(cudnnBackendExecute(handle_, entry->plan->plan.get(), entry->pack.get()), context_);
    if (choice_.fused) return;  // the epilogue ran inside cuDNN's kernel
    if (!has_bias_ && !has_residual_ && epilogue_.activation == ir::ConvActivation::kNone) return;
    const ConvSpec& s = entry->spec;
    launchConvEpilogue(type_, y, b, r, s.y[0], s.y[1], s.y[2] * s.y[3], s.nhwc, epilogue_, stream);
    KILN_CUDA_CHECK_LAUNCH(context_);
  }

 private:
  static constexpr int kPackSize = 5;

  struct PlanEntry {
    ConvSpec spec;
    std::unique_ptr<ExecutionPlan> plan;
    Descriptor pack;  //!< variant pack for `pointers` and `workspace`
    void* pointers[kPackSize] = {};
    void* workspace = nullptr;
  };

  //! The plan for X's logical NCHW dims `x`, or null.
  PlanEntry* findPlan(const int64_t (&x)[4]) {
    for (PlanEntry& e : plans_)
      if (e.spec.x[0] == x[0] && e.spec.x[1] == x[1] && e.spec.x[2] == x[2] && e.spec.x[3] == x[3]) return &e;
    return nullptr;
  }

  //! The plan for `spec`, built when new.
  PlanEntry& ensurePlan(const ConvSpec& spec) {
    if (PlanEntry* found = findPlan(spec.x)) return *found;
    PlanEntry e;
    e.spec = spec;
    e.plan = buildPlan(handle_, spec, choice_, context_);
    if (static_cast<size_t>(e.plan->workspace) > workspace_)
      throw Error(ErrorCode::kRuntime, context_ + ": needs " + std::to_string(e.plan->workspace) +
                                           " bytes of workspace at these shapes, more than the " +
                                           std::to_string(workspace_) + " it was built with");
    plans_.push_back(std::move(e));
    return plans_.back();
  }

  void createHandle() { KILN_CUDNN_CHECK(cudnnCreate(&handle_), context_); }

  void release() noexcept {
    plans_.clear();
    if (handle_) cudnnDestroy(handle_);
    handle_ = nullptr;
  }

  std::string context_;
  size_t workspace_ = 0;
  backend::Device& device_;
  EngineChoice choice_;
  DataType type_ = DataType::kFLOAT;
  bool nhwc_ = false;  //!< FusedConv's layout NHWC: plans are keyed by X's logical NCHW dims
  bool has_bias_ = false, has_residual_ = false;
  ir::ConvEpilogue epilogue_;  //!< none for a Conv
  cudnnHandle_t handle_ = nullptr;
  LayerConstants constants_;
  std::vector<PlanEntry> plans_;
};

class CudnnConvProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cudnn"; }
  TacticSource source() const override { return TacticSource::kCUDNN; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "Conv" || op == "FusedConv"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    if (!backend::gpuDevice() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!library::isLibraryType(t) || !library::allOfType(opt, t)) return {};
    ConvSpec specs[3];  // opt, min, max
    if (!parseConv(opt, specs[0]) || !parseConv(min, specs[1]) || !parseConv(max, specs[2])) return {};
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (l->inputs.size() > 3 && l->inputs[3].present && l->inputs[3].shape != l->outputs[0].shape) return {};
    QueryHandle& q = queryHandle();
    if (!q.handle) return {};
    const bool tf32 = t == DataType::kFLOAT && options.tf32;
    const std::string precision = library::precisionName(t, tf32);
    const std::string context = opt.node->describe() + ", cudnn candidates";
    std::lock_guard<std::mutex> lock(q.mutex);
    std::vector<backend::TacticConfig> configs =
        engineConfigs(q.handle, specs, /*fused=*/false, kMaxCandidates, t, tf32, precision, options, context);
    if (fusedEpilogueSupported(specs[0])) {
      std::vector<backend::TacticConfig> fused =
          engineConfigs(q.handle, specs, /*fused=*/true, kMaxFusedCandidates, t, tf32, precision, options, context);
      configs.insert(configs.end(), std::make_move_iterator(fused.begin()), std::make_move_iterator(fused.end()));
    }
    return configs;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return std::make_unique<CudnnConvKernel>(layer, config, device);
  }

 private:
  //! Up to `limit` tactics of the unfused or the fused graph of specs (opt, min, max): the
  //! engine configurations cuDNN's heuristics propose (mode A, then the fallback list) whose
  //! plans finalize at the three shapes within the workspace limit. None when cuDNN takes no
  //! such graph.
  static std::vector<backend::TacticConfig> engineConfigs(cudnnHandle_t handle, const ConvSpec (&specs)[3], bool fused,
                                                          size_t limit, DataType t, bool tf32,
                                                          const std::string& precision,
                                                          const backend::BuildOptions& options,
                                                          const std::string& context) {
    std::vector<backend::TacticConfig> configs;
    try {
      ConvSpec opt = specs[0];
      opt.fuse = fused;
      const ConvGraph graph = buildConvGraph(handle, opt, context);
      // Unfused: mode A's list, then the fallback list. Fused (few, as each plan is compiled):
      // mode A's first ones, then mode B's (its slower, more accurate model) not yet taken.
      std::vector<EngineChoice> choices;
      const std::vector<std::pair<cudnnBackendHeurMode_t, size_t>> modes =
          fused ? std::vector<std::pair<cudnnBackendHeurMode_t, size_t>>{{CUDNN_HEUR_MODE_A, kFusedFromModeA},
                                                                          {CUDNN_HEUR_MODE_B, limit}}
                : std::vector<std::pair<cudnnBackendHeurMode_t, size_t>>{{CUDNN_HEUR_MODE_A, limit},
                                                                          {CUDNN_HEUR_MODE_FALLBACK, limit}};
      for (const auto& [mode, most] : modes) {
        try {
          size_t taken = 0;
          for (EngineChoice& c : heuristicChoices(graph, mode, excludedNotes(t, tf32), fused, context)) {
            if (taken >= most || choices.size() >= 2 * limit) break;
            if (std::find(choices.begin(), choices.end(), c) == choices.end()) {
              choices.push_back(std::move(c));
              ++taken;
            }
          }
        } catch (const Error&) {
          // A heuristics mode that has nothing for this graph: try the next one.
        }
      }
      for (const EngineChoice& c : choices) {
        if (configs.size() >= limit) break;
        int64_t workspace = 0;
        bool valid = true;
        for (int i = 0; i < 3 && valid; ++i) {
          if (i > 0 && sameShape(specs[i], specs[0])) continue;
          try {
            workspace = std::max(workspace, buildPlan(handle, specs[i], c, context)->workspace);
          } catch (const Error&) {
            valid = false;  // this engine does not take the shapes at one end of the range
          }
        }
        if (!valid || static_cast<size_t>(workspace) > options.workspace_limit) continue;
        // The fused kernel reads R's element in the epilogue that writes the same element of Y
        // (one owner per output tile), so Y may take over R's memory (input 3); the unfused
        // form writes Y before its epilogue reads R.
        std::vector<int> inplace;
        if (fused && specs[0].residual) inplace.push_back(3);
        configs.push_back(backend::TacticConfig{.name = choiceName(c, precision),
                                                .params = encodeChoice(c),
                                                .workspace = static_cast<size_t>(workspace),
                                                .formats = precision + " linear",
                                                .portable = false,  // see the file comment
                                                .inplace_inputs = std::move(inplace)});
      }
    } catch (const Error&) {
      // cuDNN takes no graph of this layer
    }
    return configs;
  }
};

KILN_TACTIC_PROVIDER(CudnnConvProvider);

}  // namespace
}  // namespace kiln::cuda::dnn
