#include <algorithm>
#include <list>
#include <map>

#include "builder/memory_plan.h"
#include "kiln/kiln.h"
#include "runtime/engine_impl.h"
#include "runtime/shape_resolver.h"

namespace kiln {

namespace {

//! "[1, 2, 3]": shape input values in messages.
std::string valuesText(const std::vector<int64_t>& v) {
  std::string text;
  for (int64_t x : v) text += (text.empty() ? "" : ", ") + std::to_string(x);
  return "[" + text + "]";
}

}  // namespace

struct ExecutionContext::Impl {
  std::shared_ptr<Engine::Impl> engine;
  backend::Device* device = nullptr;
  uint32_t id = 0;
  uint32_t generation = 1;  //!< bumped whenever shapes change
  ContextMemory memory_mode = ContextMemory::kENGINE_MANAGED;
  int profile = 0;
  bool explicit_profile = false;
  std::map<std::string, Dims> input_dims;
  std::map<std::string, std::vector<int64_t>> input_values;  //!< of shape inputs

  bool resolved = false;
  std::vector<ir::TensorInfo> tensors;
  std::vector<backend::LayerView> views;  // per layer; empty view for host layers

  // Per layer: this context's kernels for `kernels_profile` at `kernels_weights`: its own
  // clones of the engine's prototypes (so reshape state is private and run() takes no lock),
  // or the prototype itself where the kernel keeps no per-shape state; null for host layers.
  std::vector<std::shared_ptr<backend::Kernel>> kernels;
  int kernels_profile = -1;
  uint64_t kernels_weights = 0;

  void* memory = nullptr;
  size_t memory_size = 0;
  bool owns_memory = false;
  std::vector<uint64_t> offsets;  // per tensor; only activations are meaningful
  std::vector<bool> is_activation;
  std::vector<int> alias_root;    // per tensor: the tensor whose memory holds it (views, in-place layers)
  std::vector<char> runs_kernel;  // per layer, see runsKernel()
  uint64_t workspace_offset = 0;
  size_t workspace_size = 0;

  std::vector<void*> host_buffers;  // per tensor: device copy of a host value (owned)
  std::map<int, void*> bound;       // user I/O addresses by tensor id
  bool pointers_dirty = true;
  std::vector<std::vector<const void*>> in_ptrs;
  std::vector<std::vector<void*>> out_ptrs;
  struct OutputCopy {
    void* dst;
    const void* src;
    size_t bytes;
  };
  std::vector<OutputCopy> output_copies;

  uint64_t weights_seen = 0;
  bool graph_mode = false;
  struct CapturedGraph {
    std::vector<uintptr_t> key;
    void* exec = nullptr;
  };
  std::list<CapturedGraph> graphs;  // most recent first
  std::vector<uintptr_t> graph_key;  // the current signature; rebuilt with the pointers
  static constexpr size_t kMaxGraphs = 8;

  Profiler* profiler = nullptr;
  std::vector<void*> events;
  bool profile_pending = false;

  ~Impl() {
    reportPending();
    for (auto& g : graphs) device->destroyGraph(g.exec);
    for (void* e : events) device->destroyEvent(e);
    freeHostBuffers();
    if (owns_memory) device->free(memory);
  }

  const plan::Plan& plan() const { return engine->plan; }

  int inputId(const std::string& name) const {
    int tid = engine->tensorId(name);
    for (int i : plan().graph.inputs)
      if (i == tid) return tid;
    throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not an input of the engine");
  }

  void freeHostBuffers() {
    for (void*& p : host_buffers) {
      if (p) device->free(p);
      p = nullptr;
    }
  }

  void invalidate() {
    resolved = false;
    pointers_dirty = true;
    ++generation;
  }

  //! "built for [1, 2]" or "built for [1, 2] to [3, 4]".
  std::string valuesRange(int p, const std::string& name) const {
    const ProfileShapeValues& pv = plan().profiles[p].shape_values.at(name);
    return "built for " + valuesText(pv.min) + (pv.min == pv.max ? "" : " to " + valuesText(pv.max));
  }

  //! Whether profile `p` takes a range of values for some shape input (not one value set).
  bool valueRanges(int p) const {
    for (const auto& [name, v] : plan().profiles[p].shape_values)
      if (v.min != v.max) return true;
    return false;
  }

  bool isShapeInput(const std::string& name) const { return plan().profiles[0].shape_values.count(name) != 0; }

  //! Whether `values` of shape input `name` lie within profile `p`'s min..max, entry by entry.
  bool valuesFit(int p, const std::string& name, const std::vector<int64_t>& values) const {
    const ProfileShapeValues& pv = plan().profiles[p].shape_values.at(name);
    if (values.size() != pv.min.size()) return false;
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i] < pv.min[i] || values[i] > pv.max[i]) return false;
    return true;
  }

  //! The tightest profile (smallest total max volume) that holds all of `dims` and `values`,
  //! or -1.
  int pickProfile(const std::map<std::string, Dims>& dims,
                  const std::map<std::string, std::vector<int64_t>>& values) const {
    int best = -1;
    double best_volume = 0;
    for (int p = 0; p < static_cast<int>(plan().profiles.size()); ++p) {
      bool ok = true;
      double vol = 0;
      for (const auto& [name, d] : dims) {
        ok = ok && fits(p, name, d);
        const ProfileDims& pd = plan().profiles[p].inputs.at(name);
        double v = 1;
        for (int64_t x : pd.max) v *= static_cast<double>(x);
        vol += v;
      }
      for (const auto& [name, v] : values) ok = ok && valuesFit(p, name, v);
      if (ok && (best < 0 || vol < best_volume)) {
        best = p;
        best_volume = vol;
      }
    }
    return best;
  }

  //! Shape inputs take profile `p`'s dims (fixed per profile); values `p` was not built for
  //! are dropped.
  void adoptShapeInputsOf(int p) {
    for (const auto& [name, pv] : plan().profiles[p].shape_values) {
      const Dims& d = plan().profiles[p].inputs.at(name).opt;
      if (auto it = input_dims.find(name); it != input_dims.end() && it->second != d) {
        it->second = d;
        invalidate();
      }
      if (auto it = input_values.find(name); it != input_values.end() && !valuesFit(p, name, it->second)) {
        input_values.erase(it);
        invalidate();
      }
    }
  }

  void switchProfile(int p) {
    if (p == profile) return;
    profile = p;
    invalidate();  // another profile: its offsets and kernels
    for (auto& g : graphs) device->destroyGraph(g.exec);
    graphs.clear();
    if (memory_mode == ContextMemory::kENGINE_MANAGED) allocateMemory(requiredBytes());
  }

  bool fits(int p, const std::string& name, const Dims& dims) const {
    const ProfileDims& pd = plan().profiles[p].inputs.at(name);
    if (dims.size() != pd.min.size()) return false;
    for (size_t d = 0; d < dims.size(); ++d)
      if (dims[d] < pd.min[d] || dims[d] > pd.max[d]) return false;
    return true;
  }

  void allocateMemory(size_t bytes) {
    if (memory_mode == ContextMemory::kUSER_MANAGED) return;
    if (memory && memory_size >= bytes) return;
    if (owns_memory) device->free(memory);
    memory = nullptr;
    memory = device->allocate(std::max<size_t>(bytes, 1));
    memory_size = bytes;
    owns_memory = true;
  }

  size_t requiredBytes() const {
    const plan::Profile& p = plan().profiles[profile];
    return p.activation_bytes + p.workspace_bytes;
  }

  void ensureKernels() {
    const uint64_t weights = engine->weights_generation.load();
    if (kernels_profile == profile && kernels_weights == weights) return;
    const auto& prototypes = engine->kernels[profile];
    std::vector<std::shared_ptr<backend::Kernel>> fresh(prototypes.size());
    for (size_t l = 0; l < prototypes.size(); ++l) {
      if (!prototypes[l]) continue;
      try {
        std::unique_ptr<backend::Kernel> own = prototypes[l]->clone();
        fresh[l] = own ? std::shared_ptr<backend::Kernel>(std::move(own)) : prototypes[l];
      } catch (const Error& e) {
        throw Error(e.code(), "layer '" + plan().layers[l].node.name + "': " + e.what());
      }
    }
    kernels = std::move(fresh);
    kernels_profile = profile;
    kernels_weights = weights;
  }

  void resolve() {
    for (int tid : plan().graph.inputs) {
      const std::string& name = plan().graph.tensors[tid].name;
      if (isShapeInput(name) && (!input_dims.count(name) || !input_values.count(name)))
        throw Error(ErrorCode::kInvalidArgument, "shape input '" + name + "' has no values: call setInputShapeValues");
      if (!input_dims.count(name))
        throw Error(ErrorCode::kInvalidArgument, "input '" + name + "' has no shape: call setInputShape");
    }
    runtime::InputValues values;
    for (const auto& [name, _] : plan().profiles[profile].shape_values) {
      auto it = input_values.find(name);
      if (it == input_values.end())
        throw Error(ErrorCode::kInvalidArgument, "shape input '" + name + "' has no values: call setInputShapeValues");
      values[name] = runtime::shapeInputTensor(plan().graph.tensors[inputId(name)], input_dims.at(name), it->second);
    }
    runtime::resolveShapes(plan().graph, plan().layers, input_dims, tensors, values);
    const size_t n_layers = plan().layers.size();
    views.assign(n_layers, backend::LayerView{});
    for (size_t l = 0; l < n_layers; ++l)
      if (runsKernel(l)) views[l] = runtime::makeLayerView(plan().layers[l].node, plan().graph, tensors);
    ensureKernels();
    for (size_t l = 0; l < n_layers; ++l) {
      if (!runsKernel(l)) continue;
      try {
        kernels[l]->reshape(views[l]);
      } catch (const Error& e) {
        const plan::TacticChoice& c = plan().layers[l].tactics[profile];
        throw Error(e.code(), "layer '" + plan().layers[l].node.name + "', tactic " + c.provider + ":" + c.config.name +
                                  ": " + e.what());
      }
    }

    // Activation memory.
    const plan::Profile& prof = plan().profiles[profile];
    is_activation.assign(tensors.size(), false);
    for (size_t t = 0; t < prof.offsets.size(); ++t) is_activation[t] = prof.offsets[t] >= 0;
    alias_root = memory::aliasRoots(plan().layers, tensors.size(), static_cast<size_t>(profile));
    // Plan for the shapes actually given: on request, and where a range of shape input values
    // lets shapes outgrow what the builder planned.
    if (memory_mode == ContextMemory::kSHAPE_SIZED || valueRanges(profile)) {
      const memory::ActivationRequests a = memory::activationRequests(
          plan().layers, tensors.size(), static_cast<size_t>(profile), plan().debug_tensors,
          [&](int tid) { return bool(is_activation[tid]); },
          [&](int tid) { return runtime::tensorBytes(tensors[tid]); });
      std::vector<uint64_t> placed;
      size_t total = memory::planMemory(a.requests, placed);
      offsets.assign(tensors.size(), 0);
      for (size_t r = 0; r < a.requests.size(); ++r) offsets[a.tensor[r]] = placed[r];
      workspace_size = 0;
      for (size_t l = 0; l < n_layers; ++l)
        if (runsKernel(l))
          workspace_size = std::max(workspace_size, kernels[l]->workspaceSize(views[l]));
      workspace_offset = (total + 255) / 256 * 256;
      allocateMemory(workspace_offset + workspace_size);
    } else {
      offsets.assign(tensors.size(), 0);
      for (size_t t = 0; t < prof.offsets.size(); ++t)
        if (prof.offsets[t] >= 0) offsets[t] = static_cast<uint64_t>(prof.offsets[t]);
      workspace_offset = (prof.activation_bytes + 255) / 256 * 256;
      workspace_size = prof.workspace_bytes;
      if (memory_mode == ContextMemory::kENGINE_MANAGED) allocateMemory(workspace_offset + workspace_size);
    }

    // Host values that device layers read, and graph outputs computed on the host.
    freeHostBuffers();
    host_buffers.assign(tensors.size(), nullptr);
    auto upload = [&](int tid) {
      if (host_buffers[tid] || !tensors[tid].value || plan().graph.tensors[tid].value) return;
      const ir::Tensor& v = *tensors[tid].value;
      host_buffers[tid] = device->allocate(std::max<size_t>(v.byteSize(), 1));
      device->copyToDevice(host_buffers[tid], v.raw(), v.byteSize(), nullptr);
    };
    for (size_t l = 0; l < n_layers; ++l) {
      if (plan().layers[l].host) continue;
      for (int tid : plan().layers[l].node.inputs)
        if (tid != ir::kAbsent) upload(tid);
    }
    for (int tid : plan().graph.outputs) upload(tid);
    device->synchronize(nullptr);
    resolved = true;
    pointers_dirty = true;
  }

  //! False for host layers and views (which alias their input and run nothing); read on the
  //! enqueue path, so computed once per context rather than from the tactic's name each run.
  bool runsKernel(size_t l) const { return runs_kernel[l] != 0; }

  void* address(int tid) const {
    if (!alias_root.empty() && alias_root[tid] != tid) return address(alias_root[tid]);
    // A host value (shape input, host-layer output) is read where the context put it, even
    // when the tensor is also bound (a graph output is filled from it after the run).
    if (host_buffers[tid]) return host_buffers[tid];
    if (auto it = bound.find(tid); it != bound.end()) return it->second;
    if (engine->constants[tid]) return engine->constants[tid];
    if (is_activation[tid]) return static_cast<std::byte*>(memory) + offsets[tid];
    return nullptr;
  }

  void computePointers() {
    if (memory_mode == ContextMemory::kUSER_MANAGED && !memory)
      throw Error(ErrorCode::kInvalidArgument, "the context was created without memory: call setDeviceMemory first (" +
                                                   std::to_string(requiredBytes()) + " bytes)");
    if (memory_mode == ContextMemory::kUSER_MANAGED && workspace_offset + workspace_size > memory_size)
      throw Error(ErrorCode::kInvalidArgument, "the shape input values given need " +
                                                   std::to_string(workspace_offset + workspace_size) +
                                                   " bytes of context memory, more than the " +
                                                   std::to_string(memory_size) + " given to setDeviceMemory");
    for (int tid : engine->io)
      if (!bound.count(tid) && !isShapeInput(plan().graph.tensors[tid].name))
        throw Error(ErrorCode::kInvalidArgument, "no address is bound to '" + plan().graph.tensors[tid].name +
                                                     "': call setTensorAddress");
    const size_t n_layers = plan().layers.size();
    in_ptrs.assign(n_layers, {});
    out_ptrs.assign(n_layers, {});
    for (size_t l = 0; l < n_layers; ++l) {
      if (!runsKernel(l)) continue;
      for (int tid : plan().layers[l].node.inputs) in_ptrs[l].push_back(tid == ir::kAbsent ? nullptr : address(tid));
      for (int tid : plan().layers[l].node.outputs) out_ptrs[l].push_back(tid == ir::kAbsent ? nullptr : address(tid));
    }
    // Graph outputs no device layer writes: copy them from where they are.
    output_copies.clear();
    std::vector<bool> written(tensors.size(), false);
    for (size_t l = 0; l < n_layers; ++l)
      if (!plan().layers[l].host)
        for (int tid : plan().layers[l].node.outputs)
          if (tid != ir::kAbsent) written[tid] = true;
    for (int tid : plan().graph.outputs) {
      if (written[tid]) continue;
      const void* src = engine->constants[tid] ? engine->constants[tid] : host_buffers[tid];
      for (int in : plan().graph.inputs)
        if (in == tid && bound.count(tid) && !host_buffers[tid]) src = bound.at(tid);  // a shape input: its values
      if (src && src != bound.at(tid)) output_copies.push_back({bound.at(tid), src, runtime::tensorBytes(tensors[tid])});
    }
    // What a captured graph bakes in: shapes (generation), profile, every address.
    graph_key.clear();
    graph_key.push_back(generation);
    graph_key.push_back(static_cast<uintptr_t>(profile));
    for (const auto& [tid, p] : bound) graph_key.push_back(reinterpret_cast<uintptr_t>(p));
    graph_key.push_back(reinterpret_cast<uintptr_t>(memory));
    pointers_dirty = false;
  }

  void runLayers(void* stream) {
    const size_t n_layers = plan().layers.size();
    void* workspace = workspace_size ? static_cast<std::byte*>(memory) + workspace_offset : nullptr;
    for (size_t l = 0; l < n_layers; ++l) {
      const plan::Layer& layer = plan().layers[l];
      if (!runsKernel(l)) continue;
      if (profiler) device->recordEvent(events[2 * l], stream);
      device->pushRange(layer.node.name.c_str());
      kernels[l]->run(backend::RunArgs{.layer = &views[l],
                                       .inputs = in_ptrs[l],
                                       .outputs = out_ptrs[l],
                                       .workspace = workspace,
                                       .workspace_size = workspace_size,
                                       .stream = stream});
      device->popRange();
      if (profiler) device->recordEvent(events[2 * l + 1], stream);
    }
    for (const OutputCopy& c : output_copies) device->copyOnDevice(c.dst, c.src, c.bytes, stream);
  }

  void reportPending() {
    if (!profile_pending || !profiler) return;
    profile_pending = false;
    for (size_t l = 0; l < plan().layers.size(); ++l) {
      const plan::Layer& layer = plan().layers[l];
      if (!runsKernel(l)) continue;
      float ms = device->elapsedMs(events[2 * l], events[2 * l + 1]);
      const plan::TacticChoice& c = layer.tactics[profile];
      profiler->reportLayerTime(layer.node.name, c.provider + ":" + c.config.name, c.source, ms);
    }
  }

  void enqueue(void* stream) {
    reportPending();
    if (weights_seen != engine->weights_generation.load()) {
      weights_seen = engine->weights_generation.load();
      resolved = false;  // new prototypes: clone and reshape again
      pointers_dirty = true;
      for (auto& g : graphs) device->destroyGraph(g.exec);
      graphs.clear();
    }
    if (!resolved) resolve();
    if (pointers_dirty) computePointers();
    if (graph_mode && !profiler) {
      for (auto it = graphs.begin(); it != graphs.end(); ++it) {
        if (it->key != graph_key) continue;
        graphs.splice(graphs.begin(), graphs, it);
        device->launchGraph(it->exec, stream);
        return;
      }
      void* exec = device->captureGraph([&](void* s) { runLayers(s); }, stream);
      if (exec) {
        graphs.push_front({graph_key, exec});
        if (graphs.size() > kMaxGraphs) {
          device->destroyGraph(graphs.back().exec);
          graphs.pop_back();
        }
        device->launchGraph(exec, stream);
        return;
      }
    }
    runLayers(stream);
    if (profiler) {
      profile_pending = true;
      if (device->kind() == DeviceKind::kCPU) reportPending();
    }
  }
};

// ---- public ---------------------------------------------------------------------------------

std::unique_ptr<ExecutionContext> Engine::createExecutionContext(ContextMemory memory) {
  auto impl = std::make_unique<ExecutionContext::Impl>();
  impl->engine = impl_;
  impl->device = impl_->device;
  impl->id = impl_->next_context_id++;
  impl->memory_mode = memory;
  for (const plan::Layer& layer : impl_->plan.layers) impl->runs_kernel.push_back(!layer.host && !layer.isView());
  // Inputs whose every profile fixes the shape need no setInputShape.
  for (int tid : impl_->plan.graph.inputs) {
    const std::string& name = impl_->plan.graph.tensors[tid].name;
    const ProfileDims& pd = impl_->plan.profiles[0].inputs.at(name);
    if (pd.min == pd.max && impl_->plan.profiles.size() == 1) impl->input_dims[name] = pd.min;
  }
  // Likewise shape inputs whose one profile fixes their values.
  for (const auto& [name, pv] : impl_->plan.profiles[0].shape_values)
    if (pv.min == pv.max && impl_->plan.profiles.size() == 1) impl->input_values[name] = pv.min;
  if (memory == ContextMemory::kENGINE_MANAGED) impl->allocateMemory(impl->requiredBytes());
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(impl)));
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

const Engine::Impl& ExecutionContext::engine() const { return *impl_->engine; }

void ExecutionContext::setOptimizationProfile(int32_t profile) {
  const int32_t n = static_cast<int32_t>(impl_->plan().profiles.size());
  if (profile < 0 || profile >= n)
    throw Error(ErrorCode::kInvalidArgument, "optimization profile " + std::to_string(profile) + " does not exist (the engine has " +
                                                 std::to_string(n) + ")");
  if (impl_->profile != profile) {
    impl_->profile = profile;
    impl_->invalidate();
    for (auto& g : impl_->graphs) impl_->device->destroyGraph(g.exec);
    impl_->graphs.clear();
    if (impl_->memory_mode == ContextMemory::kENGINE_MANAGED) impl_->allocateMemory(impl_->requiredBytes());
  }
  impl_->explicit_profile = true;
  // Shape inputs belong to their profile: they take its dims, and values another profile was
  // built for are dropped, to be given again (resolving names any that is missing).
  impl_->adoptShapeInputsOf(profile);
  for (const auto& [name, dims] : impl_->input_dims)
    if (!impl_->fits(profile, name, dims))
      throw Error(ErrorCode::kInvalidArgument, "input '" + name + "' has shape " + toString(dims) +
                                                   ", outside optimization profile " + std::to_string(profile));
}

int32_t ExecutionContext::optimizationProfile() const { return impl_->profile; }

void ExecutionContext::setInputShape(const std::string& input, const Dims& dims) {
  int tid = impl_->inputId(input);
  const ir::TensorInfo& t = impl_->plan().graph.tensors[tid];
  if (dims.size() != t.shape.size())
    throw Error(ErrorCode::kInvalidArgument, "input '" + input + "' has rank " + std::to_string(t.shape.size()) + ", got " +
                                                 toString(dims));
  auto range = [&](int p) {
    const ProfileDims& pd = impl_->plan().profiles[p].inputs.at(input);
    return "min " + toString(pd.min) + ", max " + toString(pd.max);
  };
  if (impl_->explicit_profile) {
    if (!impl_->fits(impl_->profile, input, dims))
      throw Error(ErrorCode::kInvalidArgument, "input '" + input + "' shape " + toString(dims) + " is outside optimization profile " +
                                                   std::to_string(impl_->profile) + " (" + range(impl_->profile) + ")");
  } else {
    // The tightest profile containing every shape (and shape input value) given so far.
    std::map<std::string, Dims> wanted = impl_->input_dims;
    wanted[input] = dims;
    const int best = impl_->pickProfile(wanted, impl_->input_values);
    if (best < 0) {
      std::string ranges;
      for (int p = 0; p < static_cast<int>(impl_->plan().profiles.size()); ++p)
        ranges += "\n  profile " + std::to_string(p) + ": " + range(p);
      throw Error(ErrorCode::kInvalidArgument, "input '" + input + "' shape " + toString(dims) +
                                                   " fits no optimization profile:" + ranges);
    }
    impl_->switchProfile(best);
  }
  auto it = impl_->input_dims.find(input);
  if (it != impl_->input_dims.end() && it->second == dims) return;
  impl_->input_dims[input] = dims;
  impl_->invalidate();
}

Dims ExecutionContext::tensorShape(const std::string& name) const {
  int tid = impl_->engine->tensorId(name);
  if (tid < 0) throw Error(ErrorCode::kInvalidArgument, "the engine has no tensor named '" + name + "'");
  if (auto it = impl_->input_dims.find(name); it != impl_->input_dims.end()) return it->second;
  if (!impl_->resolved && allInputShapesSpecified()) impl_->resolve();
  if (impl_->resolved) return impl_->tensors[tid].shape;
  Dims d = impl_->plan().graph.tensors[tid].shape;
  for (auto& x : d)
    if (x < 0) x = -1;
  return d;
}

bool ExecutionContext::allInputShapesSpecified() const {
  for (int tid : impl_->plan().graph.inputs) {
    const std::string& name = impl_->plan().graph.tensors[tid].name;
    if (!impl_->input_dims.count(name)) return false;
    if (impl_->isShapeInput(name) && !impl_->input_values.count(name)) return false;
  }
  return true;
}

void ExecutionContext::setInputShapeValues(const std::string& input, const std::vector<int64_t>& values) {
  impl_->inputId(input);  // throws for a name that is no input
  if (!impl_->isShapeInput(input))
    throw Error(ErrorCode::kInvalidArgument,
                "input '" + input +
                    "' is not a shape input of the engine (no shape depends on its values): "
                    "bind its data with setTensorAddress");
  if (impl_->explicit_profile) {
    if (!impl_->valuesFit(impl_->profile, input, values))
      throw Error(ErrorCode::kInvalidArgument, "shape input '" + input + "' values " + valuesText(values) +
                                                   " are not those of optimization profile " +
                                                   std::to_string(impl_->profile) + " (" +
                                                   impl_->valuesRange(impl_->profile, input) + ")");
  } else {
    std::map<std::string, Dims> dims = impl_->input_dims;
    dims.erase(input);  // the profile fixes a shape input's dims
    std::map<std::string, std::vector<int64_t>> wanted = impl_->input_values;
    wanted[input] = values;
    int best = impl_->pickProfile(dims, wanted);
    if (best < 0) {
      // Values of another profile: switch to it; the other shape inputs take its dims and
      // lose values of the old profile, to be given again.
      for (auto it = dims.begin(); it != dims.end();)
        it = impl_->isShapeInput(it->first) ? dims.erase(it) : std::next(it);
      best = impl_->pickProfile(dims, {{input, values}});
      if (best >= 0) impl_->adoptShapeInputsOf(best);
    }
    if (best < 0) {
      std::string ranges;
      for (int p = 0; p < static_cast<int>(impl_->plan().profiles.size()); ++p)
        ranges += "\n  profile " + std::to_string(p) + ": " + impl_->valuesRange(p, input);
      throw Error(ErrorCode::kInvalidArgument, "shape input '" + input + "' values " + valuesText(values) +
                                                   " are not those of any optimization profile (with the shapes given "
                                                   "so far):" +
                                                   ranges);
    }
    impl_->switchProfile(best);
  }
  const Dims dims = impl_->plan().profiles[impl_->profile].inputs.at(input).opt;
  auto it = impl_->input_values.find(input);
  if (it != impl_->input_values.end() && it->second == values && impl_->input_dims[input] == dims) return;
  impl_->input_values[input] = values;
  impl_->input_dims[input] = dims;
  impl_->invalidate();
}

std::vector<int64_t> ExecutionContext::inputShapeValues(const std::string& input) const {
  impl_->inputId(input);
  auto it = impl_->input_values.find(input);
  return it == impl_->input_values.end() ? std::vector<int64_t>{} : it->second;
}

void ExecutionContext::setTensorAddress(const std::string& name, void* address) {
  int tid = impl_->engine->tensorId(name);
  bool io = std::find(impl_->engine->io.begin(), impl_->engine->io.end(), tid) != impl_->engine->io.end();
  if (tid < 0 || !io) throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not an input or output of the engine");
  if (!address) throw Error(ErrorCode::kInvalidArgument, "null address for '" + name + "'");
  auto it = impl_->bound.find(tid);
  if (it != impl_->bound.end() && it->second == address) return;
  impl_->bound[tid] = address;
  impl_->pointers_dirty = true;
}

void* ExecutionContext::tensorAddress(const std::string& name) const {
  int tid = impl_->engine->tensorId(name);
  auto it = impl_->bound.find(tid);
  return it == impl_->bound.end() ? nullptr : it->second;
}

void ExecutionContext::setDeviceMemory(void* memory, size_t size) {
  if (impl_->memory_mode != ContextMemory::kUSER_MANAGED)
    throw Error(ErrorCode::kInvalidArgument, "setDeviceMemory needs a context created with ContextMemory::kUSER_MANAGED");
  if (!memory || size < impl_->requiredBytes())
    throw Error(ErrorCode::kInvalidArgument, "the context needs " + std::to_string(impl_->requiredBytes()) +
                                                 " bytes of device memory, got " + std::to_string(size));
  impl_->memory = memory;
  impl_->memory_size = size;
  impl_->pointers_dirty = true;
  for (auto& g : impl_->graphs) impl_->device->destroyGraph(g.exec);
  impl_->graphs.clear();
}

size_t ExecutionContext::requiredMemorySize() const { return impl_->requiredBytes(); }

void ExecutionContext::enqueue(void* stream) { impl_->enqueue(stream); }

void ExecutionContext::setCudaGraphMode(bool on) {
  impl_->graph_mode = on;
  if (!on) {
    for (auto& g : impl_->graphs) impl_->device->destroyGraph(g.exec);
    impl_->graphs.clear();
  }
}
bool ExecutionContext::cudaGraphMode() const { return impl_->graph_mode; }
size_t ExecutionContext::cudaGraphCount() const { return impl_->graphs.size(); }

void ExecutionContext::setProfiler(Profiler* profiler) {
  impl_->reportPending();
  impl_->profiler = profiler;
  if (profiler && impl_->events.empty()) {
    impl_->events.resize(2 * impl_->plan().layers.size());
    for (void*& e : impl_->events) e = impl_->device->createEvent();
  }
}

void ExecutionContext::reportProfile() { impl_->reportPending(); }

Dims ExecutionContext::readDebugTensor(const std::string& name, void* host, size_t size, DataType* type) const {
  int tid = impl_->engine->tensorId(name);
  const auto& debug = impl_->plan().debug_tensors;
  bool is_debug = std::find(debug.begin(), debug.end(), tid) != debug.end();
  bool is_io = std::find(impl_->engine->io.begin(), impl_->engine->io.end(), tid) != impl_->engine->io.end();
  if (tid < 0 || !(is_debug || is_io))
    throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not a debug tensor of the engine (mark it at build time)");
  if (!impl_->resolved) throw Error(ErrorCode::kInvalidArgument, "debug tensor '" + name + "': the context has not run yet");
  const ir::TensorInfo& t = impl_->tensors[tid];
  size_t bytes = runtime::tensorBytes(t);
  if (size < bytes)
    throw Error(ErrorCode::kInvalidArgument, "debug tensor '" + name + "' needs " + std::to_string(bytes) + " bytes, got " +
                                                 std::to_string(size));
  if (t.value && !impl_->plan().graph.tensors[tid].value) {
    std::copy(t.value->bytes().begin(), t.value->bytes().end(), static_cast<std::byte*>(host));
  } else {
    const void* src = impl_->address(tid);
    impl_->device->synchronize(nullptr);
    impl_->device->copyToHost(host, src, bytes, nullptr);
    impl_->device->synchronize(nullptr);
  }
  if (type) *type = t.type;
  return t.shape;
}

}  // namespace kiln
