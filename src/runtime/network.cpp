#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <iostream>

#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "passes/shape_inputs.h"
#include "runtime/network_impl.h"

namespace kiln {

// ---- Network --------------------------------------------------------------------------------

Network::Network() : impl_(std::make_unique<Impl>()) {}
Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::Network(const Network& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Network& Network::operator=(const Network& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}

Network::Impl& Network::impl() { return *impl_; }
const Network::Impl& Network::impl() const { return *impl_; }

namespace {
const ir::TensorInfo& tensorNamed(const ir::Graph& g, const std::string& name) {
  int id = g.find(name);
  if (id < 0) throw Error(ErrorCode::kInvalidArgument, "the network has no tensor named '" + name + "'");
  return g.tensors[id];
}
}  // namespace

int32_t Network::numInputs() const { return static_cast<int32_t>(impl_->graph.inputs.size()); }
int32_t Network::numOutputs() const { return static_cast<int32_t>(impl_->graph.outputs.size()); }

std::string Network::inputName(int32_t index) const {
  if (index < 0 || index >= numInputs()) throw Error(ErrorCode::kInvalidArgument, "input index " + std::to_string(index) + " out of range");
  return impl_->graph.tensors[impl_->graph.inputs[index]].name;
}

std::string Network::outputName(int32_t index) const {
  if (index < 0 || index >= numOutputs()) throw Error(ErrorCode::kInvalidArgument, "output index " + std::to_string(index) + " out of range");
  return impl_->graph.tensors[impl_->graph.outputs[index]].name;
}

DataType Network::tensorType(const std::string& tensor) const { return tensorNamed(impl_->graph, tensor).type; }

Dims Network::tensorDims(const std::string& tensor) const {
  const ir::TensorInfo& t = tensorNamed(impl_->graph, tensor);
  Dims d = t.shape;
  for (auto& x : d)
    if (x < 0) x = -1;
  return d;
}

std::string Network::dimensionName(const std::string& tensor, int32_t dim) const {
  const ir::TensorInfo& t = tensorNamed(impl_->graph, tensor);
  if (dim < 0 || dim >= static_cast<int32_t>(t.shape.size())) return "";
  int64_t d = t.shape[dim];
  return d <= ir::kFirstSymbol ? impl_->graph.dimToString(d) : "";
}

int32_t Network::numLayers() const { return static_cast<int32_t>(impl_->graph.nodes.size()); }

LayerDescription Network::layer(int32_t index) const {
  if (index < 0 || index >= numLayers()) throw Error(ErrorCode::kInvalidArgument, "layer index " + std::to_string(index) + " out of range");
  const ir::Node& n = impl_->graph.nodes[index];
  LayerDescription d{.name = n.name, .op = n.op};
  for (int id : n.inputs) d.inputs.push_back(id == ir::kAbsent ? "" : impl_->graph.tensors[id].name);
  for (int id : n.outputs) d.outputs.push_back(id == ir::kAbsent ? "" : impl_->graph.tensors[id].name);
  return d;
}

bool Network::isShapeInput(const std::string& input) const {
  for (const passes::ShapeInput& s : passes::findShapeInputs(impl_->graph))
    if (impl_->graph.tensors[s.tensor].name == input) return true;
  return false;
}

std::vector<std::string> Network::weightNames() const {
  std::vector<std::string> names;
  for (const auto& t : impl_->graph.tensors)
    if (t.is_initializer) names.push_back(t.name);
  return names;
}

void Network::markDebug(const std::string& tensor) {
  const ir::TensorInfo& t = tensorNamed(impl_->graph, tensor);
  if (t.value) throw Error(ErrorCode::kInvalidArgument, "tensor '" + tensor + "' is a constant; only computed tensors can be debug tensors");
  impl_->debug_tensors.insert(tensor);
}

bool Network::isDebug(const std::string& tensor) const { return impl_->debug_tensors.count(tensor) != 0; }

std::vector<std::string> Network::debugTensors() const {
  return {impl_->debug_tensors.begin(), impl_->debug_tensors.end()};
}

// ---- OnnxParser -----------------------------------------------------------------------------

Network OnnxParser::parseFile(const std::string& path) {
  Network network;
  network.impl().graph = onnx::importFile(path);
  return network;
}

Network OnnxParser::parse(std::span<const std::byte> model, const std::string& display_name) {
  Network network;
  network.impl().graph = onnx::importBytes(model, {}, display_name);
  return network;
}

// ---- logging --------------------------------------------------------------------------------

namespace {
class StderrLogger final : public ILogger {
 public:
  void log(Severity severity, std::string_view message) noexcept override {
    static const char* names[] = {"error", "warning", "info", "verbose"};
    std::lock_guard<std::mutex> lock(mutex_);
    std::cerr << "kiln: " << names[static_cast<int>(severity)] << ": " << message << "\n";
  }

 private:
  std::mutex mutex_;
};

StderrLogger g_default_logger;
std::atomic<ILogger*> g_logger{&g_default_logger};
std::atomic<Severity> g_level{Severity::kWARNING};
}  // namespace

void setLogger(ILogger* logger) { g_logger = logger ? logger : &g_default_logger; }
void setLogLevel(Severity level) { g_level = level; }
Severity logLevel() { return g_level; }
void log(Severity severity, std::string_view message) {
  ILogger* logger = g_logger.load();
  if (logger == &g_default_logger && static_cast<int>(severity) > static_cast<int>(g_level.load())) return;
  logger->log(severity, message);
}

const char* version() { return KILN_VERSION_STRING; }

// ---- tactic sources -------------------------------------------------------------------------

std::string_view toString(TacticSource source) {
  switch (source) {
    case TacticSource::kREFERENCE: return "reference";
    case TacticSource::kCPU: return "cpu";
    case TacticSource::kOPENBLAS: return "openblas";
    case TacticSource::kKILN_CUDA: return "kiln";
    case TacticSource::kCUBLAS: return "cublas";
    case TacticSource::kCUBLAS_LT: return "cublaslt";
    case TacticSource::kCUDNN: return "cudnn";
  }
  return "unknown";
}

bool parseTacticSource(std::string_view name, TacticSource& source) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "cuda" || lower == "kiln_cuda") lower = "kiln";
  for (int32_t i = 0; i < kNumTacticSources; ++i) {
    if (toString(static_cast<TacticSource>(i)) == lower) {
      source = static_cast<TacticSource>(i);
      return true;
    }
  }
  return false;
}

}  // namespace kiln
