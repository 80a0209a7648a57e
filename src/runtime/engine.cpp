#include <filesystem>
#include <fstream>
#include <map>

#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "plan/plan_format.h"
#include "runtime/engine_impl.h"
#include "runtime/shape_resolver.h"
#include "runtime/weights_loader.h"

namespace kiln {

Engine::Impl::~Impl() {
  kernels.clear();
  freeConstants(constants);
}

int Engine::Impl::tensorId(const std::string& name) const { return plan.graph.find(name); }

std::vector<void*> Engine::Impl::uploadConstants(size_t* bytes) const {
  std::vector<void*> table(plan.graph.tensors.size(), nullptr);
  size_t total = 0;
  try {
    for (const plan::Layer& layer : plan.layers) {
      if (layer.host) continue;
      for (int id : layer.node.inputs) {
        if (id == ir::kAbsent || table[id]) continue;
        const ir::TensorInfo& t = plan.graph.tensors[id];
        if (!t.value) continue;
        table[id] = device->allocate(std::max<size_t>(t.value->byteSize(), 1));
        device->copyToDevice(table[id], t.value->raw(), t.value->byteSize(), nullptr);
        total += t.value->byteSize();
      }
    }
    // Graph outputs that are constants are copied from the device too.
    for (int id : plan.graph.outputs) {
      const ir::TensorInfo& t = plan.graph.tensors[id];
      if (table[id] || !t.value) continue;
      table[id] = device->allocate(std::max<size_t>(t.value->byteSize(), 1));
      device->copyToDevice(table[id], t.value->raw(), t.value->byteSize(), nullptr);
      total += t.value->byteSize();
    }
    device->synchronize(nullptr);
  } catch (...) {
    freeConstants(table);
    throw;
  }
  if (bytes) *bytes = total;
  return table;
}

void Engine::Impl::freeConstants(std::vector<void*>& table) const {
  for (void*& p : table) {
    if (p) device->free(p);
    p = nullptr;
  }
}

std::shared_ptr<backend::Kernel> Engine::Impl::makeKernel(size_t l, size_t p) const {
  const plan::Layer& layer = plan.layers[l];
  const plan::TacticChoice& choice = layer.tactics.at(p);
  const backend::TacticProvider* provider = backend::findProvider(choice.provider);
  if (!provider)
    throw Error(ErrorCode::kInvalidPlan, "layer '" + layer.node.name + "' uses tactic provider '" + choice.provider +
                                             "', which this kiln does not have");
  // Instantiate at the profile's opt shapes.
  std::map<std::string, Dims> opt;
  for (const auto& [name, dims] : plan.profiles[p].inputs) opt[name] = dims.opt;
  std::vector<ir::TensorInfo> tensors;
  runtime::resolveShapes(plan.graph, plan.layers, opt, tensors,
                         runtime::profileInputValues(plan.graph, plan.profiles[p]));
  backend::LayerView view = runtime::makeLayerView(layer.node, plan.graph, tensors);
  try {
    std::shared_ptr<backend::Kernel> kernel = provider->instantiate(view, choice.config, *device);
    kernel->reshape(view);
    return kernel;
  } catch (const Error& e) {
    throw Error(e.code(), "layer '" + layer.node.name + "', tactic " + choice.provider + ":" + choice.config.name + ": " +
                              e.what());
  }
}

void Engine::Impl::instantiate() {
  constants = uploadConstants(&constant_bytes);
  kernels.resize(plan.profiles.size());
  std::map<std::pair<size_t, uint64_t>, std::shared_ptr<backend::Kernel>> shared;
  for (size_t p = 0; p < plan.profiles.size(); ++p) {
    kernels[p].resize(plan.layers.size());
    for (size_t l = 0; l < plan.layers.size(); ++l) {
      if (plan.layers[l].host || plan.layers[l].isView()) continue;
      auto key = std::make_pair(l, plan.layers[l].tactics.at(p).id);
      auto it = shared.find(key);
      kernels[p][l] = it != shared.end() ? it->second : (shared[key] = makeKernel(l, p));
    }
  }
  io.clear();
  for (int id : plan.graph.inputs) io.push_back(id);
  for (int id : plan.graph.outputs) io.push_back(id);
}

// ---- loading --------------------------------------------------------------------------------

namespace {

void checkCompatible(const plan::Header& h, backend::Device& device, const std::string& name) {
  if (h.device != device.kind())
    throw Error(ErrorCode::kInvalidPlan, name + ": the plan was built for the " +
                                             std::string(h.device == DeviceKind::kGPU ? "GPU" : "CPU") + " backend");
  if (h.device == DeviceKind::kGPU) {
    std::string here = device.architecture();
    if (h.hardware == HardwareCompatibility::kSAME_ARCHITECTURE && h.architecture != here)
      throw Error(ErrorCode::kInvalidPlan, name + ": the plan was built for " + h.architecture + ", this GPU is " + here +
                                               " (build with --hardware-compat ampere+ to run on any sm >= 80)");
    if (h.hardware == HardwareCompatibility::kAMPERE_PLUS) {
      int sm = 0;
      if (here.rfind("sm_", 0) == 0) sm = std::atoi(here.c_str() + 3);
      if (sm < 80)
        throw Error(ErrorCode::kInvalidPlan, name + ": the plan needs an sm >= 80 GPU (ampere+), this GPU is " + here);
    }
  } else if (h.architecture != device.architecture()) {
    throw Error(ErrorCode::kInvalidPlan, name + ": the plan was built for " + h.architecture + ", this machine is " +
                                             device.architecture());
  }
}

}  // namespace

Engine::Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;
Engine::Impl& Engine::impl() { return *impl_; }
const Engine::Impl& Engine::impl() const { return *impl_; }

Engine Engine::deserialize(std::span<const std::byte> bytes, const WeightsSource& weights) {
  auto impl = std::make_shared<Impl>();
  impl->plan = plan::deserialize(bytes, "plan");
  backend::Device& device = backend::device(impl->plan.header.device);
  checkCompatible(impl->plan.header, device, "plan");
  impl->device = &device;
  if (impl->plan.header.weights_stripped) {
    if (weights.path.empty())
      throw Error(ErrorCode::kInvalidArgument, "the plan was built without its weights: give the model (.onnx) or a "
                                               ".safetensors file to take them from");
    runtime::loadStrippedWeights(impl->plan, weights.path);
  } else if (!weights.path.empty()) {
    runtime::loadStrippedWeights(impl->plan, weights.path);  // acts as a refit on load
  }
  impl->instantiate();
  return Engine(std::move(impl));
}

Engine Engine::load(const std::string& path, const WeightsSource& weights) {
  std::vector<std::byte> bytes = onnx::readFileBytes(path);
  try {
    return deserialize(bytes, weights);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("plan:", 0) == 0) msg = path + msg.substr(4);
    else msg = path + ": " + msg;
    throw Error(e.code(), msg);
  }
}

std::vector<std::byte> Engine::serialize() const { return plan::serialize(impl_->plan); }

void Engine::save(const std::string& path) const {
  std::vector<std::byte> bytes = serialize();
  runtime::writeFileAtomically(path, bytes);
}

// ---- queries --------------------------------------------------------------------------------

int32_t Engine::numIOTensors() const { return static_cast<int32_t>(impl_->io.size()); }

std::string Engine::ioTensorName(int32_t index) const {
  if (index < 0 || index >= numIOTensors())
    throw Error(ErrorCode::kInvalidArgument, "I/O tensor index " + std::to_string(index) + " is out of range");
  return impl_->plan.graph.tensors[impl_->io[index]].name;
}

TensorIOMode Engine::tensorIOMode(const std::string& name) const {
  int id = impl_->tensorId(name);
  for (int i : impl_->plan.graph.inputs)
    if (i == id) return TensorIOMode::kINPUT;
  for (int o : impl_->plan.graph.outputs)
    if (o == id) return TensorIOMode::kOUTPUT;
  return TensorIOMode::kNONE;
}

namespace {
const ir::TensorInfo& ioTensor(const Engine::Impl& impl, const std::string& name) {
  int id = impl.tensorId(name);
  if (id < 0) throw Error(ErrorCode::kInvalidArgument, "the engine has no tensor named '" + name + "'");
  return impl.plan.graph.tensors[id];
}
}  // namespace

DataType Engine::tensorType(const std::string& name) const { return ioTensor(*impl_, name).type; }

Dims Engine::tensorShape(const std::string& name) const {
  Dims d = ioTensor(*impl_, name).shape;
  for (auto& x : d)
    if (x < 0) x = -1;
  return d;
}

int32_t Engine::numOptimizationProfiles() const { return static_cast<int32_t>(impl_->plan.profiles.size()); }

ProfileDims Engine::profileDims(const std::string& input, int32_t profile) const {
  if (profile < 0 || profile >= numOptimizationProfiles())
    throw Error(ErrorCode::kInvalidArgument, "optimization profile " + std::to_string(profile) + " does not exist (the engine has " +
                                                 std::to_string(numOptimizationProfiles()) + ")");
  const auto& inputs = impl_->plan.profiles[profile].inputs;
  auto it = inputs.find(input);
  if (it == inputs.end()) throw Error(ErrorCode::kInvalidArgument, "'" + input + "' is not an input of the engine");
  return it->second;
}

bool Engine::isShapeInput(const std::string& input) const {
  return impl_->plan.profiles.at(0).shape_values.count(input) != 0;
}

ProfileShapeValues Engine::profileShapeValues(const std::string& input, int32_t profile) const {
  if (profile < 0 || profile >= numOptimizationProfiles())
    throw Error(ErrorCode::kInvalidArgument, "optimization profile " + std::to_string(profile) +
                                                 " does not exist (the engine has " +
                                                 std::to_string(numOptimizationProfiles()) + ")");
  const auto& values = impl_->plan.profiles[profile].shape_values;
  auto it = values.find(input);
  if (it == values.end())
    throw Error(ErrorCode::kInvalidArgument, "'" + input + "' is not a shape input of the engine");
  return it->second;
}

size_t Engine::deviceMemorySize(int32_t profile) const {
  const auto& p = impl_->plan.profiles.at(profile);
  return p.activation_bytes + p.workspace_bytes;
}
size_t Engine::deviceMemorySizeWithoutReuse(int32_t profile) const {
  const auto& p = impl_->plan.profiles.at(profile);
  return p.no_reuse_bytes + p.workspace_bytes;
}
DevicePeak Engine::devicePeak() const { return impl_->device->peak(); }
size_t Engine::weightsSize() const { return impl_->constant_bytes; }
size_t Engine::activationSize(int32_t profile) const { return impl_->plan.profiles.at(profile).activation_bytes; }
size_t Engine::activationLowerBound(int32_t profile) const {
  return impl_->plan.profiles.at(profile).activation_lower_bound;
}
size_t Engine::workspaceSize(int32_t profile) const { return impl_->plan.profiles.at(profile).workspace_bytes; }

std::vector<LayerInfo> Engine::layers(int32_t profile) const {
  std::vector<LayerInfo> out;
  const auto& g = impl_->plan.graph;
  for (const plan::Layer& layer : impl_->plan.layers) {
    LayerInfo info{.name = layer.node.name, .op = layer.node.op};
    if (layer.host) {
      info.tactic = "host";
      info.precision = "host";
    } else {
      const plan::TacticChoice& c = layer.tactics.at(profile);
      info.tactic = c.provider + ":" + c.config.name;
      info.source = c.source;
      info.tactic_id = c.id;
      info.inplace_input = c.inplace_input;
    }
    for (int id : layer.node.inputs) info.inputs.push_back(id == ir::kAbsent ? "" : g.tensors[id].name);
    for (int id : layer.node.outputs) info.outputs.push_back(id == ir::kAbsent ? "" : g.tensors[id].name);
    if (!layer.host) {
      // The type the layer computes in: its output's, or its inputs' where a folded Cast
      // widens the output (output_type, see passes/fold_casts.h).
      DataType t = DataType::kFLOAT;
      for (int id : layer.node.outputs)
        if (id != ir::kAbsent) {
          t = g.tensors[id].type;
          break;
        }
      if (layer.node.attrs.has("output_type") && !layer.node.inputs.empty() && layer.node.inputs[0] != ir::kAbsent)
        t = g.tensors[layer.node.inputs[0]].type;
      info.precision = std::string(toString(t));
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> Engine::debugTensors() const {
  std::vector<std::string> names;
  for (int id : impl_->plan.debug_tensors) names.push_back(impl_->plan.graph.tensors[id].name);
  return names;
}

bool Engine::refittable() const { return impl_->plan.header.refittable; }
bool Engine::weightsStripped() const { return impl_->plan.header.weights_stripped; }
DeviceKind Engine::device() const { return impl_->plan.header.device; }

CompatibilityInfo Engine::compatibility() const {
  const plan::Header& h = impl_->plan.header;
  return CompatibilityInfo{.format_version = h.format_version,
                           .kiln_version = h.kiln_version,
                           .device = h.device,
                           .architecture = h.architecture,
                           .level = h.hardware,
                           .version_compatible = h.version_compatible};
}

}  // namespace kiln
