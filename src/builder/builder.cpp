// Builder::buildSerializedNetwork: passes, then per profile and layer the choice of a tactic
// (candidates from the enabled sources, timing with the timing cache, the algorithm
// selector), memory planning, and the plan.
#include <fnmatch.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "builder/memory_plan.h"
#include "builder/timing_cache_impl.h"
#include "ir/op_schema.h"
#include "ir/ops/conv_epilogue.h"
#include "kiln/builder.h"
#include "kiln/logger.h"
#include "passes/channels_last.h"
#include "passes/fold_casts.h"
#include "passes/pipeline.h"
#include "passes/precision.h"
#include "passes/precision_guard.h"
#include "passes/shape_inputs.h"
#include "plan/plan_format.h"
#include "runtime/network_impl.h"
#include "runtime/shape_resolver.h"

namespace kiln {

namespace {

using Json = nlohmann::ordered_json;

struct Candidate {
  const backend::TacticProvider* provider = nullptr;
  backend::TacticConfig config;
  uint64_t id = 0;
  double time_ms = -1;
  bool failed = false;
  std::string rejected;  //!< why it does not run at every shape of the profile ("" if it does)
};

//! The candidates of the enabled sources for one layer at a profile's min/opt/max shapes,
//! within the hardware compatibility and the workspace limit: what the build may time.
std::vector<Candidate> gatherCandidates(const ir::Node& node, const backend::LayerView& vmin,
                                        const backend::LayerView& vopt, const backend::LayerView& vmax,
                                        const BuilderConfig& config, const backend::BuildOptions& options,
                                        DeviceKind kind) {
  std::vector<Candidate> candidates;
  for (const backend::TacticProvider* provider : backend::providersFor(node.op, kind)) {
    if (!config.tacticSourceEnabled(provider->source())) continue;
    std::vector<backend::TacticConfig> configs;
    try {
      configs = provider->candidates(vmin, vopt, vmax, options);
    } catch (const Error& e) {
      log(Severity::kVERBOSE,
          std::string(provider->name()) + " offers nothing for " + node.describe() + ": " + e.what());
    }
    for (auto& cfg : configs) {
      if (config.hardwareCompatibility() == HardwareCompatibility::kAMPERE_PLUS && !cfg.portable) continue;
      if (cfg.workspace > config.workspaceLimit()) continue;
      uint64_t id = backend::tacticId(provider->name(), cfg);
      candidates.push_back(Candidate{.provider = provider, .config = std::move(cfg), .id = id});
    }
  }
  return candidates;
}

// ---- profiles --------------------------------------------------------------------------------

std::string dimsText(const Dims& d) { return toString(d); }

//! "[1, 2, 3]": shape values in messages.
std::string valuesText(const std::vector<int64_t>& v) {
  std::string text;
  for (int64_t x : v) text += (text.empty() ? "" : ", ") + std::to_string(x);
  return "[" + text + "]";
}

//! The checks of one profile's (`where`) values for shape input `name` that need no pass: an
//! integer input of the network, one value set (min = opt = max).
void checkShapeValues(const ir::Graph& graph, const std::string& where, const std::string& name,
                      const ProfileShapeValues& values) {
  const int id = graph.find(name);
  if (id < 0 || std::find(graph.inputs.begin(), graph.inputs.end(), id) == graph.inputs.end())
    throw Error(ErrorCode::kInvalidArgument,
                where + ": shape values for '" + name + "', which is not an input of the network");
  const ir::TensorInfo& t = graph.tensors[id];
  const std::string in = where + ", shape input '" + name + "'";
  if (t.type != DataType::kINT64 && t.type != DataType::kINT32)
    throw Error(ErrorCode::kInvalidArgument, in + ": the input is " + std::string(toString(t.type)) +
                                                 "; shape values are for int32 and int64 inputs");
  bool ordered = values.min.size() == values.opt.size() && values.opt.size() == values.max.size();
  for (size_t k = 0; ordered && k < values.min.size(); ++k)
    ordered = values.min[k] <= values.opt[k] && values.opt[k] <= values.max[k];
  if (!ordered)
    throw Error(ErrorCode::kInvalidArgument,
                in + ": need min <= opt <= max, entry by entry, in lists of one length; got min " +
                    valuesText(values.min) + ", opt " + valuesText(values.opt) + ", max " + valuesText(values.max));
}

//! A profile's shape-input values as tensors, at its min, opt and max.
struct ValueSets {
  runtime::InputValues min, opt, max;
};

std::vector<std::map<std::string, ProfileDims>> validateProfiles(const ir::Graph& graph, const BuilderConfig& config) {
  std::vector<std::map<std::string, ProfileDims>> profiles;
  std::vector<OptimizationProfile> given = config.profiles();
  bool dynamic = false;
  for (int id : graph.inputs)
    for (int64_t d : graph.tensors[id].shape)
      if (d < 0) dynamic = true;
  if (given.empty()) {
    if (dynamic) {
      for (int id : graph.inputs) {
        const ir::TensorInfo& t = graph.tensors[id];
        if (!ir::allKnown(t.shape))
          throw Error(ErrorCode::kInvalidArgument, "input '" + t.name + "' has dynamic dimensions " +
                                                       graph.shapeToString(t) +
                                                       ": add an optimization profile giving its min, opt and max");
      }
    }
    given.emplace_back();
  }
  for (size_t p = 0; p < given.size(); ++p) {
    const std::string where = "optimization profile " + std::to_string(p);
    std::map<std::string, ProfileDims> dims;
    for (const auto& [name, _] : given[p].all()) {
      int id = graph.find(name);
      if (id < 0 || std::find(graph.inputs.begin(), graph.inputs.end(), id) == graph.inputs.end())
        throw Error(ErrorCode::kInvalidArgument, where + ": '" + name + "' is not an input of the network");
    }
    for (const auto& [name, values] : given[p].allShapeValues()) checkShapeValues(graph, where, name, values);
    for (int id : graph.inputs) {
      const ir::TensorInfo& t = graph.tensors[id];
      ProfileDims pd;
      const ProfileShapeValues* values = given[p].hasShapeValues(t.name) ? &given[p].shapeValues(t.name) : nullptr;
      if (given[p].hasDimensions(t.name)) {
        pd = given[p].dimensions(t.name);
      } else if (values && !ir::allKnown(t.shape) && t.rank_known && t.shape.size() <= 1) {
        // A shape input's dims follow from its values: a 1-D input is as long as they are.
        const Dims d = t.shape.empty() ? Dims{} : Dims{static_cast<int64_t>(values->opt.size())};
        pd = {d, d, d};
      } else if (ir::allKnown(t.shape)) {
        pd = {t.shape, t.shape, t.shape};
      } else {
        throw Error(ErrorCode::kInvalidArgument,
                    where + " does not cover dynamic input '" + t.name + "' " + graph.shapeToString(t));
      }
      const std::string in = where + ", input '" + t.name + "'";
      if (pd.min.size() != t.shape.size() || pd.opt.size() != t.shape.size() || pd.max.size() != t.shape.size())
        throw Error(ErrorCode::kInvalidArgument, in + ": min/opt/max must have rank " + std::to_string(t.shape.size()) +
                                                     " like " + graph.shapeToString(t));
      for (size_t d = 0; d < t.shape.size(); ++d) {
        if (pd.min[d] < 0 || !(pd.min[d] <= pd.opt[d] && pd.opt[d] <= pd.max[d]))
          throw Error(ErrorCode::kInvalidArgument, in + ": need 0 <= min <= opt <= max in every dimension, got min " +
                                                       dimsText(pd.min) + ", opt " + dimsText(pd.opt) + ", max " +
                                                       dimsText(pd.max));
        if (ir::isKnown(t.shape[d]) && (pd.min[d] != t.shape[d] || pd.max[d] != t.shape[d]))
          throw Error(ErrorCode::kInvalidArgument, in + ": dimension " + std::to_string(d) + " is fixed at " +
                                                       std::to_string(t.shape[d]) + " in the model");
      }
      if (values && (pd.min != pd.max || volume(pd.opt) != static_cast<int64_t>(values->opt.size())))
        throw Error(ErrorCode::kInvalidArgument, in + ": " + std::to_string(values->opt.size()) +
                                                     " shape values do not fill its shape " + dimsText(pd.opt) +
                                                     (pd.min != pd.max ? " (a shape input's dims must be fixed)" : ""));
      dims[t.name] = pd;
    }
    profiles.push_back(std::move(dims));
  }
  return profiles;
}

//! An odd size strictly between lo and hi, near their middle; lo when there is none.
int64_t oddBetween(int64_t lo, int64_t hi) {
  const int64_t mid = lo + (hi - lo) / 2;
  for (int64_t v : {mid, mid - 1, mid + 1})
    if (v > lo && v < hi && v % 2 != 0) return v;
  return lo;
}

//! Input shapes at which a chosen tactic must run before the builder accepts it, besides opt
//! (where it was timed): the profile's min and max, and an odd size between them in every
//! dimension that varies (odd sizes break alignment assumptions that min, opt and max, often
//! powers of two, hide). A tactic that refuses one of them is dropped for the next best, so
//! the runtime never meets a shape inside the profile that its tactic refuses.
struct ShapeProbe {
  std::string name;  //!< "min", "max", "odd"
  std::map<std::string, Dims> dims;
  std::vector<ir::TensorInfo> tensors;  //!< resolved; empty when the graph rejects these dims
};

std::map<std::string, Dims> oddDims(const std::map<std::string, ProfileDims>& profile) {
  std::map<std::string, Dims> dims;
  for (const auto& [name, pd] : profile) {
    Dims d = pd.min;
    for (size_t i = 0; i < d.size(); ++i) d[i] = oddBetween(pd.min[i], pd.max[i]);
    dims[name] = d;
  }
  return dims;
}

bool sameShapes(const backend::LayerView& a, const backend::LayerView& b) {
  if (a.inputs.size() != b.inputs.size() || a.outputs.size() != b.outputs.size()) return false;
  for (size_t i = 0; i < a.inputs.size(); ++i)
    if (a.inputs[i].shape != b.inputs[i].shape) return false;
  for (size_t o = 0; o < a.outputs.size(); ++o)
    if (a.outputs[o].shape != b.outputs[o].shape) return false;
  return true;
}

std::string shapesText(const std::map<std::string, Dims>& dims) {
  std::string text;
  for (const auto& [name, d] : dims) text += (text.empty() ? "" : ", ") + name + ":" + toString(d);
  return text;
}

// ---- graph preparation -----------------------------------------------------------------------

//! Layers evaluated on the host: Shape and Size, and foldable layers whose inputs are all
//! host values (constants, shape inputs, outputs of host layers).
std::vector<bool> markHostLayers(const ir::Graph& graph, const std::vector<passes::ShapeInput>& shape_inputs) {
  std::vector<bool> host_value(graph.tensors.size(), false);
  for (size_t id = 0; id < graph.tensors.size(); ++id) host_value[id] = graph.tensors[id].value != nullptr;
  for (const passes::ShapeInput& s : shape_inputs) host_value[s.tensor] = true;
  std::vector<bool> host(graph.nodes.size(), false);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    const ir::OpSchema* schema = ir::findSchema(node.op);
    bool h = node.op == "Shape" || node.op == "Size";
    if (!h && schema && schema->foldable && !node.inputs.empty()) {
      h = true;
      for (int id : node.inputs)
        if (id != ir::kAbsent && !host_value[id]) h = false;
    }
    host[n] = h;
    if (h)
      for (int id : node.outputs)
        if (id != ir::kAbsent) host_value[id] = true;
  }
  return host;
}

//! Per profile, the values of each shape input of `graph` (after the passes). One error names
//! every shape input a profile gives no values for; values for other inputs are dropped with
//! a warning (they determine no shape).
std::vector<std::map<std::string, ProfileShapeValues>> shapeValuesPerProfile(
    const ir::Graph& graph, const std::vector<passes::ShapeInput>& shape_inputs, const BuilderConfig& config,
    size_t profile_count) {
  std::vector<std::map<std::string, ProfileShapeValues>> result(profile_count);
  for (size_t p = 0; p < profile_count; ++p) {
    const OptimizationProfile* given = p < config.profiles().size() ? &config.profiles()[p] : nullptr;
    std::string missing;
    int missing_count = 0;
    for (const passes::ShapeInput& s : shape_inputs) {
      const std::string& name = graph.tensors[s.tensor].name;
      if (given && given->hasShapeValues(name)) {
        result[p][name] = given->shapeValues(name);
        continue;
      }
      missing +=
          (missing.empty() ? "" : ", ") + ("'" + name + "' (" + s.reader + " needs its values for its output shape)");
      ++missing_count;
    }
    if (missing_count > 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "optimization profile " + std::to_string(p) + " gives no values for shape input" +
                      (missing_count > 1 ? "s " : " ") + missing + ": call OptimizationProfile::setShapeValues for " +
                      (missing_count > 1 ? "each" : "it") + " (kiln build --shape-values NAME:V1,V2,...)");
    if (given)
      for (const auto& [name, v] : given->allShapeValues())
        if (!result[p].count(name))
          log(Severity::kWARNING,
              "optimization profile " + std::to_string(p) + ": input '" + name +
                  "' is not a shape input (no shape depends on its values); its shape values are ignored");
  }
  return result;
}

//! For an error of shapes that follow from values: "; input 'scales' (float32; its values decide
//! the output shape of node ...) cannot be a shape input: only int32 and int64 inputs can", or
//! "" when no such input was found.
std::string valueInputsHint(const ir::Graph& graph, const std::vector<passes::ShapeInput>& inputs) {
  std::string hint;
  for (const passes::ShapeInput& s : inputs) {
    const ir::TensorInfo& t = graph.tensors[s.tensor];
    hint += "; input '";
    hint += t.name;
    hint += "' (";
    hint += toString(t.type);
    hint += ", read by ";
    hint += s.reader;
    hint += ") cannot be a shape input: only int32 and int64 inputs can (give it as a constant instead)";
  }
  return hint;
}

// ---- precision --------------------------------------------------------------------------------

//! "fp32", "fp16", "bf16": how --layer-precision names a precision.
std::string_view precisionFlag(DataType t) {
  return t == DataType::kHALF ? "fp16" : t == DataType::kBF16 ? "bf16" : "fp32";
}

//! The guard's sample inputs: the configured calibration inputs, else random values in [-1, 1]
//! (zeros for integers and booleans) at profile 0's opt shape, a dynamic first dimension at 1 (else at min).
std::map<std::string, ir::Tensor> sampleInputs(const ir::Graph& graph, const BuilderConfig& config,
                                               const std::map<std::string, ProfileDims>& profile,
                                               const runtime::InputValues& shape_values) {
  std::map<std::string, ir::Tensor> inputs;
  for (const auto& [name, value] : shape_values) inputs.emplace(name, *value);
  for (const auto& c : config.calibrationInputs()) {
    int id = graph.find(c.name);
    if (id < 0 || std::find(graph.inputs.begin(), graph.inputs.end(), id) == graph.inputs.end())
      throw Error(ErrorCode::kInvalidArgument, "calibration input '" + c.name + "' is not an input of the network");
    if (inputs.count(c.name)) continue;  // a shape input takes its profile's values
    const ir::TensorInfo& t = graph.tensors[id];
    if (c.type != t.type)
      throw Error(ErrorCode::kInvalidArgument, "calibration input '" + c.name + "' holds " +
                                                   std::string(toString(c.type)) + ", the input takes " +
                                                   std::string(toString(t.type)));
    ir::Tensor value(c.type, c.shape);
    if (value.byteSize() != c.data.size())
      throw Error(ErrorCode::kInvalidArgument, "calibration input '" + c.name + "': " + std::to_string(c.data.size()) +
                                                   " bytes for shape " + toString(c.shape) + " of " +
                                                   std::string(toString(c.type)));
    std::memcpy(value.raw(), c.data.data(), c.data.size());
    inputs.emplace(c.name, std::move(value));
  }
  std::mt19937 rng(2024);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (int id : graph.inputs) {
    const ir::TensorInfo& t = graph.tensors[id];
    if (inputs.count(t.name)) continue;
    const ProfileDims& pd = profile.at(t.name);
    // The guard runs the CPU reference, whose cost grows with the batch; one sample per
    // batch dim shows the ranges just as well. A fixed first dim keeps the profile's.
    Dims shape = pd.opt;
    if (!shape.empty()) shape[0] = t.rank_known && !t.shape.empty() && !ir::isKnown(t.shape[0]) ? 1 : pd.min[0];
    const int64_t count = volume(shape);
    std::vector<double> values(static_cast<size_t>(std::max<int64_t>(count, 0)), 0.0);
    if (isFloatingPoint(t.type))
      for (double& v : values) v = dist(rng);
    inputs.emplace(t.name, ir::Tensor::fromDouble(t.type, shape, values));
  }
  return inputs;
}

//! Each node's precision: the build's (kFLOAT for host layers), then the configured layer
//! precisions, then the precision guard's pins. Report entries go to `guard_report` (the
//! pinned layers) and `precisions` (the layers set by pattern). `obeyed_by` gets, per node,
//! the layer precision ("PATTERN:fp16") that binds it under kOBEY, or "".
std::vector<DataType> planPrecision(const ir::Graph& graph, const std::vector<bool>& host, DataType reduced,
                                    const BuilderConfig& config, const std::map<std::string, ProfileDims>& profile,
                                    const runtime::InputValues& shape_values, Json& guard_report, Json& precisions,
                                    std::vector<std::string>& obeyed_by) {
  std::vector<DataType> precision(graph.nodes.size(), reduced);
  std::vector<bool> obeyed(graph.nodes.size(), false);
  obeyed_by.assign(graph.nodes.size(), "");
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (host[n]) precision[n] = DataType::kFLOAT;
  for (const auto& lp : config.layerPrecisions()) {
    int matched = 0;
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      if (host[n] || fnmatch(lp.pattern.c_str(), graph.nodes[n].name.c_str(), 0) != 0) continue;
      precision[n] = lp.precision;
      obeyed[n] = lp.mode == PrecisionMode::kOBEY;
      obeyed_by[n] = obeyed[n] ? lp.pattern + ":" + std::string(precisionFlag(lp.precision)) : "";
      ++matched;
    }
    if (matched == 0)
      throw Error(ErrorCode::kInvalidArgument, "layer precision '" + lp.pattern + ":" +
                                                   std::string(toString(lp.precision)) +
                                                   "' matches no device layer of the network");
    precisions.push_back({{"pattern", lp.pattern},
                          {"precision", toString(lp.precision)},
                          {"mode", lp.mode == PrecisionMode::kOBEY ? "obey" : "prefer"},
                          {"layers", matched}});
  }
  const bool any_reduced =
      std::any_of(precision.begin(), precision.end(), [](DataType t) { return t != DataType::kFLOAT; });
  if (!any_reduced || !config.precisionGuard() || reduced == DataType::kFLOAT) return precision;

  passes::PrecisionGuardOptions options;
  options.fixed = obeyed;
  passes::PrecisionGuardResult result;
  try {
    result =
        passes::guardPrecision(graph, host, precision, sampleInputs(graph, config, profile, shape_values), options);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument && std::string(e.what()).rfind("calibration input", 0) == 0) throw;
    log(Severity::kWARNING, std::string("the precision guard could not run the network on the CPU reference, so no "
                                        "layer was checked: ") +
                                e.what());
    return precision;
  }
  for (const auto& p : result.pinned) guard_report.push_back({{"layer", p.layer}, {"reason", p.reason}});
  if (!result.agrees)
    log(Severity::kWARNING, "precision guard: after pinning " + std::to_string(result.pinned.size()) +
                                " layers to float32 the outputs still differ from float32 by " +
                                std::to_string(result.output_error) + " (relative L2)");
  return precision;
}

// ---- timing ----------------------------------------------------------------------------------

std::string layerSignature(const backend::LayerView& view, const backend::BuildOptions& options) {
  std::ostringstream os;
  os << view.node->op << "|opset" << view.opset << "|";
  for (const auto& [name, value] : view.attrs().all()) {
    os << name << "=";
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, int64_t> || std::is_same_v<V, float> || std::is_same_v<V, std::string>) {
            os << v;
          } else if constexpr (std::is_same_v<V, ir::Tensor>) {
            os << "tensor" << toString(v.shape());
          } else {
            for (const auto& x : v) os << x << ",";
          }
        },
        value);
    os << ";";
  }
  for (size_t i = 0; i < view.inputs.size(); ++i) {
    const auto& in = view.inputs[i];
    os << "|in:" << (in.present ? std::string(toString(in.type)) + "[" + toString(in.shape) + "]" : "-");
    if (view.isConstant(static_cast<int>(i))) os << "c";
    if (i < view.host_values.size() && view.host_values[i]) {
      os << "h";
      for (int64_t v : view.host_values[i]->toInt64()) os << v << ",";
    }
  }
  for (const auto& out : view.outputs) os << "|out:" << toString(out.type) << "[" << toString(out.shape) << "]";
  os << "|tf32=" << options.tf32;
  return os.str();
}

//! A tactic's workspace for one timing or check, freed on every way out.
struct Scratch {
  backend::Device& device;
  void* data;
  Scratch(backend::Device& d, size_t bytes) : device(d), data(bytes ? d.allocate(bytes) : nullptr) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { device.free(data); }
};

class Timer {
 public:
  Timer(backend::Device& device, int warmup, int repeats) : device_(device), warmup_(warmup), repeats_(repeats) {}
  ~Timer() { release(); }

  size_t peakBytes() const { return peak_; }

  //! Input and output buffers for one layer at its opt shapes, shared by all its candidates:
  //! enough rotating input copies that caches do not flatter the measurement (one when
  //! `rotate` is false).
  void prepare(const backend::LayerView& view, bool rotate = true) {
    release();
    size_t input_bytes = 0;
    for (size_t i = 0; i < view.inputs.size(); ++i)
      if (view.inputs[i].present && !view.isConstant(static_cast<int>(i)))
        input_bytes += elementSize(view.inputs[i].type) * static_cast<size_t>(volume(view.inputs[i].shape));
    const size_t l2_bytes = device_.kind() == DeviceKind::kGPU ? size_t{64} << 20 : size_t{8} << 20;
    rotations_ =
        input_bytes == 0 || !rotate ? 1 : static_cast<int>(std::clamp<size_t>(l2_bytes / input_bytes + 1, 1, 4));
    inputs_.assign(rotations_, {});
    for (int r = 0; r < rotations_; ++r) {
      for (size_t i = 0; i < view.inputs.size(); ++i) {
        const auto& in = view.inputs[i];
        if (!in.present) {
          inputs_[r].push_back(nullptr);
          continue;
        }
        const ir::Tensor* known = view.isConstant(static_cast<int>(i)) ? view.constants[i] : view.host_values[i];
        size_t bytes = elementSize(in.type) * static_cast<size_t>(volume(in.shape));
        void* p = allocate(bytes);
        if (known) {
          device_.copyToDevice(p, known->raw(), known->byteSize(), nullptr);
        } else if (isFloatingPoint(in.type)) {
          fillRandom(p, in.type, bytes);
        } else {
          device_.memset(p, 0, bytes, nullptr);  // zeros are valid indices everywhere
        }
        inputs_[r].push_back(p);
      }
    }
    outputs_.clear();
    for (const auto& out : view.outputs)
      outputs_.push_back(out.present ? allocate(elementSize(out.type) * static_cast<size_t>(volume(out.shape)))
                                     : nullptr);
    device_.synchronize(nullptr);
  }

  //! Median time of one candidate at the opt shapes (after prepare(view)); throws when the
  //! candidate fails.
  double time(const Candidate& c, const backend::LayerView& view) {
    std::unique_ptr<backend::Kernel> kernel = c.provider->instantiate(view, c.config, device_);
    kernel->reshape(view);
    size_t ws = kernel->workspaceSize(view);
    Scratch scratch(device_, ws);
    void* workspace = scratch.data;
    peak_ = std::max(peak_, live_ + ws);
    int call = 0;
    std::vector<double> times = device_.time(
        [&](void* s) {
          const auto& in = inputs_[call++ % rotations_];
          kernel->run(backend::RunArgs{.layer = &view,
                                       .inputs = in,
                                       .outputs = outputs_,
                                       .workspace = workspace,
                                       .workspace_size = ws,
                                       .stream = s});
        },
        warmup_, repeats_);
    std::sort(times.begin(), times.end());
    return times.empty() ? 0.0 : times[times.size() / 2];
  }

  //! Runs `c` once at each of `views`' shapes (skipping empty views) on fresh buffers (random
  //! floats, zero integers, the known values) and waits, as a context would: instantiated at
  //! `opt`, cloned, reshaped. Returns the index of the first view it refuses, with the reason
  //! in `why` (a failed run, or more workspace there than it declared: the runtime gives it no
  //! more); -1 when it runs at all of them. Replaces the buffers of prepare().
  int firstRefusal(const Candidate& c, const backend::LayerView& opt, const std::vector<backend::LayerView>& views,
                   std::string& why) {
    std::unique_ptr<backend::Kernel> kernel;
    void* stream = nullptr;
    struct Destroy {
      backend::Device& d;
      void*& s;
      ~Destroy() { d.destroyStream(s); }
    } destroy_stream{device_, stream};
    for (size_t i = 0; i < views.size(); ++i) {
      const backend::LayerView& view = views[i];
      if (!view.node) continue;
      try {
        if (!kernel) {
          kernel = c.provider->instantiate(opt, c.config, device_);
          kernel->reshape(opt);
          if (std::unique_ptr<backend::Kernel> clone = kernel->clone()) kernel = std::move(clone);
          stream = device_.createStream();
        }
        prepare(view, /*rotate=*/false);
        kernel->reshape(view);
        const size_t ws = kernel->workspaceSize(view);
        if (ws > c.config.workspace)
          throw Error(ErrorCode::kRuntime, "needs " + std::to_string(ws) + " bytes of workspace, more than the " +
                                               std::to_string(c.config.workspace) + " it declared");
        Scratch scratch(device_, ws);
        peak_ = std::max(peak_, live_ + ws);
        kernel->run(backend::RunArgs{.layer = &view,
                                     .inputs = inputs_[0],
                                     .outputs = outputs_,
                                     .workspace = scratch.data,
                                     .workspace_size = ws,
                                     .stream = stream});
        device_.synchronize(stream);
      } catch (const Error& e) {
        why = e.what();
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  void* allocate(size_t bytes) {
    void* p = device_.allocate(std::max<size_t>(bytes, 1));
    owned_.push_back(p);
    live_ += bytes;
    peak_ = std::max(peak_, live_);
    return p;
  }

  void release() {
    for (void* p : owned_) device_.free(p);
    owned_.clear();
    inputs_.clear();
    outputs_.clear();
    live_ = 0;
  }

  // Uniform values in [-1, 1]: a block of random values, repeated to fill the buffer (the
  // values only need to be realistic, not independent, for timing).
  void fillRandom(void* dst, DataType type, size_t bytes) {
    const size_t element = elementSize(type);
    const size_t count = bytes / element;
    const size_t block = std::min<size_t>(count, size_t{1} << 16);
    ir::Tensor values(DataType::kFLOAT, {static_cast<int64_t>(block)});
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : values.values<float>()) v = dist(rng_);
    ir::Tensor typed = type == DataType::kFLOAT ? values : values.cast(type);
    std::vector<std::byte> host(std::min(bytes, size_t{64} << 20));
    for (size_t off = 0; off < host.size(); off += typed.byteSize())
      std::memcpy(host.data() + off, typed.raw(), std::min(typed.byteSize(), host.size() - off));
    for (size_t off = 0; off < bytes; off += host.size()) {
      device_.copyToDevice(static_cast<std::byte*>(dst) + off, host.data(), std::min(host.size(), bytes - off),
                           nullptr);
      device_.synchronize(nullptr);
    }
  }

  backend::Device& device_;
  int warmup_;
  int repeats_;
  int rotations_ = 1;
  std::vector<void*> owned_;
  std::vector<std::vector<const void*>> inputs_;
  std::vector<void*> outputs_;
  size_t live_ = 0;
  size_t peak_ = 0;
  std::mt19937 rng_{1234};
};

//! Layers that run as views: a Reshape, Flatten, Squeeze, Unsqueeze or Identity on the
//! device whose output is not a graph output (those must land in the user's buffer) keeps
//! its input's bytes, so it needs neither a kernel nor memory.
std::vector<bool> viewLayers(const plan::Plan& plan, const ir::Graph& graph) {
  static const std::set<std::string> kViewOps = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  std::vector<bool> is_output(graph.tensors.size(), false);
  for (int id : graph.outputs) is_output[id] = true;
  std::vector<bool> view(plan.layers.size(), false);
  for (size_t l = 0; l < plan.layers.size(); ++l) {
    const ir::Node& n = plan.layers[l].node;
    if (plan.layers[l].host || !kViewOps.count(n.op) || !n.domain.empty()) continue;
    if (n.inputs.empty() || n.inputs[0] == ir::kAbsent || n.outputs.size() != 1 || n.outputs[0] == ir::kAbsent)
      continue;
    const int in = n.inputs[0], out = n.outputs[0];
    if (is_output[out] || graph.tensors[in].type != graph.tensors[out].type) continue;
    view[l] = true;
  }
  return view;
}

Json passesJson(const std::vector<passes::PassResult>& results) {
  Json j = Json::array();
  for (const auto& r : results) j.push_back({{"name", r.name}, {"changes", r.changes}, {"ran", r.ran}, {"ms", r.ms}});
  return j;
}

size_t peakHostBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// ---- timing through the cache ---------------------------------------------------------------

//! Times each candidate of a layer at its opt shapes `vopt`, taking what the cache (if any) holds
//! for this device and recording what it does not; a candidate that fails gets failed = true.
//! Returns whether every time came from the cache; `timings` counts the measurements made.
bool timeCandidates(std::vector<Candidate>& candidates, const ir::Node& node, const backend::LayerView& vopt,
                    const backend::BuildOptions& options, backend::Device& device, Timer& timer,
                    TimingCache::Impl* cache, int& timings) {
  const std::string key = layerSignature(vopt, options);
  const TimingCacheEntry* entry = cache ? cache->lookup(key, device.identity()) : nullptr;
  bool all_cached = entry != nullptr;
  bool prepared = false;
  for (Candidate& c : candidates) {
    bool found = false;
    if (entry)
      for (const TacticTiming& t : entry->timings)
        if (t.tactic_id == c.id) {
          c.time_ms = t.time_ms;
          c.failed = t.time_ms < 0;
          found = true;
        }
    if (found) continue;
    all_cached = false;
    try {
      if (!prepared) {
        timer.prepare(vopt);
        prepared = true;
      }
      c.time_ms = timer.time(c, vopt);
    } catch (const Error& e) {
      c.failed = true;
      c.time_ms = -1;
      log(Severity::kVERBOSE, node.describe() + ": tactic " + c.config.name + " failed: " + e.what());
    }
    ++timings;
  }
  if (cache && !all_cached) {
    TimingCacheEntry fresh{.key = key, .device = device.identity()};
    for (const Candidate& c : candidates)
      fresh.timings.push_back(
          TacticTiming{.tactic_id = c.id, .tactic = c.config.name, .time_ms = c.failed ? -1 : c.time_ms});
    cache->merge(fresh);
  }
  return all_cached;
}

// ---- precision by tactic ---------------------------------------------------------------------

//! Whether any provider of the enabled sources offers a candidate for the layer (what
//! gatherCandidates would find, stopping at the first).
bool hasCandidate(const ir::Node& node, const backend::LayerView& vmin, const backend::LayerView& vopt,
                  const backend::LayerView& vmax, const BuilderConfig& config, const backend::BuildOptions& options,
                  DeviceKind kind) {
  for (const backend::TacticProvider* provider : backend::providersFor(node.op, kind)) {
    if (!config.tacticSourceEnabled(provider->source())) continue;
    std::vector<backend::TacticConfig> configs;
    try {
      configs = provider->candidates(vmin, vopt, vmax, options);
    } catch (const Error&) {
      continue;
    }
    for (const auto& cfg : configs)
      if ((config.hardwareCompatibility() != HardwareCompatibility::kAMPERE_PLUS || cfg.portable) &&
          cfg.workspace <= config.workspaceLimit())
        return true;
  }
  return false;
}

//! `graph`'s nodes as plan layers (host marks from `host`), for the trial resolutions below.
std::vector<plan::Layer> trialLayers(const ir::Graph& graph, const std::vector<bool>& host) {
  std::vector<plan::Layer> layers;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    layers.push_back(plan::Layer{.node = graph.nodes[n], .host = host[n]});
  return layers;
}

//! The tensors of `graph` at profile `profile`'s min, opt and max shapes (with its shape
//! values); false when they do not resolve.
bool resolveAtProfile(const ir::Graph& graph, const std::vector<plan::Layer>& layers,
                      const std::map<std::string, ProfileDims>& profile, const ValueSets& values,
                      std::vector<ir::TensorInfo>& tmin, std::vector<ir::TensorInfo>& topt,
                      std::vector<ir::TensorInfo>& tmax) {
  std::map<std::string, Dims> min_dims, opt_dims, max_dims;
  for (const auto& [name, pd] : profile) {
    min_dims[name] = pd.min;
    opt_dims[name] = pd.opt;
    max_dims[name] = pd.max;
  }
  try {
    runtime::resolveShapes(graph, layers, min_dims, tmin, values.min);
    runtime::resolveShapes(graph, layers, opt_dims, topt, values.opt);
    runtime::resolveShapes(graph, layers, max_dims, tmax, values.max);
  } catch (const Error&) {
    return false;
  }
  return true;
}

//! Indices of the device layers of `graph` (views aside) for which `asked` holds that no
//! enabled tactic runs at some profile's shapes. Empty when the shapes do not resolve: the
//! build then reports that itself.
std::set<size_t> layersWithoutTactic(const ir::Graph& graph, const std::vector<bool>& host,
                                     const std::function<bool(size_t)>& asked,
                                     const std::vector<std::map<std::string, ProfileDims>>& profiles,
                                     const std::vector<ValueSets>& values, const BuilderConfig& config,
                                     const backend::BuildOptions& options, DeviceKind kind) {
  bool any = false;
  for (size_t l = 0; l < graph.nodes.size() && !any; ++l) any = !host[l] && asked(l);
  if (!any) return {};
  plan::Plan trial;
  trial.layers = trialLayers(graph, host);
  const std::vector<bool> view = viewLayers(trial, graph);
  std::set<size_t> missing;
  for (size_t p = 0; p < profiles.size(); ++p) {
    std::vector<ir::TensorInfo> tmin, topt, tmax;
    if (!resolveAtProfile(graph, trial.layers, profiles[p], values[p], tmin, topt, tmax)) return {};
    for (size_t l = 0; l < trial.layers.size(); ++l) {
      if (host[l] || view[l] || missing.count(l) || !asked(l)) continue;
      const ir::Node& node = trial.layers[l].node;
      if (!hasCandidate(node, runtime::makeLayerView(node, graph, tmin), runtime::makeLayerView(node, graph, topt),
                        runtime::makeLayerView(node, graph, tmax), config, options, kind))
        missing.insert(l);
    }
  }
  return missing;
}

//! The summed time of the fastest candidate of each device layer of `graph` (views cost
//! nothing) at each profile's opt shapes, timed as the build times them (through `cache`): what
//! choosing between two forms of a network by timing compares. Infinity when the shapes do not
//! resolve or a layer has no candidate that runs.
double timedGraphMs(const ir::Graph& graph, const std::vector<bool>& host,
                    const std::vector<std::map<std::string, ProfileDims>>& profiles,
                    const std::vector<ValueSets>& values, const BuilderConfig& config,
                    const backend::BuildOptions& options, backend::Device& device, Timer& timer,
                    TimingCache::Impl* cache, int& timings) {
  constexpr double kNone = std::numeric_limits<double>::infinity();
  plan::Plan trial;
  trial.layers = trialLayers(graph, host);
  const std::vector<bool> view = viewLayers(trial, graph);
  double total = 0;
  for (size_t p = 0; p < profiles.size(); ++p) {
    std::vector<ir::TensorInfo> tmin, topt, tmax;
    if (!resolveAtProfile(graph, trial.layers, profiles[p], values[p], tmin, topt, tmax)) return kNone;
    for (size_t l = 0; l < trial.layers.size(); ++l) {
      if (host[l] || view[l]) continue;
      const ir::Node& node = trial.layers[l].node;
      const backend::LayerView vopt = runtime::makeLayerView(node, graph, topt);
      std::vector<Candidate> candidates =
          gatherCandidates(node, runtime::makeLayerView(node, graph, tmin), vopt,
                           runtime::makeLayerView(node, graph, tmax), config, options, device.kind());
      const int level = config.optimizationLevel();
      if (level == 1 && candidates.size() > 2) candidates.resize(2);
      if (level == 2 && candidates.size() > 4) candidates.resize(4);
      timeCandidates(candidates, node, vopt, options, device, timer, cache, timings);
      double best = kNone;
      for (const Candidate& c : candidates)
        if (!c.failed && c.time_ms >= 0) best = std::min(best, c.time_ms);
      if (best == kNone) return kNone;
      total += best;
    }
  }
  return total;
}

//! What settlePrecision did, for the build report.
struct SettledPrecision {
  Json fallback = Json::array();  //!< layers run in another precision than planned
  int folded_casts = 0;
  double fold_ms = 0;
};

//! Turns `graph` (after the passes; `host` its host-layer marks) into the graph the builder
//! times: each node converted to its planned `precision` (see planPrecision), then, when
//! `fold` holds, Casts folded into their producers (passes::foldCasts). Checked against the
//! tactics of the build: a folded layer that no tactic runs keeps its Cast; a layer with no
//! tactic in its planned reduced precision runs in float32 (reported in the result's
//! `fallback`), unless `obeyed_by` binds it: then the build fails, naming the layer and the
//! precision. A layer that has no tactic in float32 either is left to the build's own error.
SettledPrecision settlePrecision(ir::Graph& graph, std::vector<bool>& host, std::vector<DataType> precision,
                                 const std::vector<std::string>& obeyed_by, bool fold,
                                 const std::vector<std::map<std::string, ProfileDims>>& profiles,
                                 const std::vector<ValueSets>& values, const std::set<std::string>& keep,
                                 const BuilderConfig& config, const backend::BuildOptions& options, DeviceKind kind) {
  SettledPrecision settled;
  const std::string where = kind == DeviceKind::kGPU ? "GPU" : "CPU";
  std::set<std::string> refused;  // producers whose Cast stays
  // Each round either keeps a Cast or moves a reduced layer to float32, so the rounds end.
  for (;;) {
    ir::Graph g = graph;
    std::vector<bool> h = host;
    std::vector<int> origin(g.nodes.size());
    for (size_t n = 0; n < origin.size(); ++n) origin[n] = static_cast<int>(n);
    if (std::any_of(precision.begin(), precision.end(), [](DataType t) { return t != DataType::kFLOAT; }))
      passes::convertFloatPrecision(g, precision, h, &origin);
    int folded = 0;
    double fold_ms = 0;
    if (fold) {
      const auto t0 = std::chrono::steady_clock::now();
      folded = passes::foldCasts(g, keep, refused, h, &origin);
      fold_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    // Only reduced layers and folded ones may change; the rest (float32 layers, the Casts the
    // conversion placed) are left to the build, which names any that has no tactic.
    const auto foldedHere = [&](size_t l) {
      return origin[l] >= 0 && g.nodes[l].attrs.has("output_type") && !graph.nodes[origin[l]].attrs.has("output_type");
    };
    const auto asked = [&](size_t l) {
      return origin[l] >= 0 && (precision[origin[l]] != DataType::kFLOAT || foldedHere(l));
    };
    bool changed = false;
    for (size_t l : layersWithoutTactic(g, h, asked, profiles, values, config, options, kind)) {
      const ir::Node& node = g.nodes[l];
      const int o = origin[l];
      if (foldedHere(l)) {
        log(Severity::kVERBOSE, node.describe() + ": no tactic writes its float32 output directly; its Cast stays");
        refused.insert(node.name);
        changed = true;
        continue;
      }
      const DataType requested = precision[o];
      const std::string no_tactic =
          "no tactic of the enabled sources runs it in " + std::string(toString(requested)) + " on the " + where;
      if (!obeyed_by[o].empty())
        throw Error(ErrorCode::kBuildFailed, "layer '" + node.name + "' (" + node.op + ") must run in " +
                                                 std::string(toString(requested)) + " (layer precision '" +
                                                 obeyed_by[o] + "', obeyed), but " + no_tactic +
                                                 "; with precision constraints 'prefer' it would run in float32");
      precision[o] = DataType::kFLOAT;
      changed = true;
      log(Severity::kINFO, "layer '" + node.name + "' (" + node.op + ") runs in float32: " + no_tactic);
      settled.fallback.push_back({{"layer", node.name},
                                  {"op", node.op},
                                  {"requested", toString(requested)},
                                  {"used", toString(DataType::kFLOAT)},
                                  {"reason", no_tactic}});
    }
    if (!changed) {
      graph = std::move(g);
      host = std::move(h);
      settled.folded_casts = folded;
      settled.fold_ms = fold_ms;
      return settled;
    }
  }
}

}  // namespace

std::vector<std::byte> Builder::buildSerializedNetwork(const Network& network, const BuilderConfig& config,
                                                       std::string* report_json) {
  const auto start = std::chrono::steady_clock::now();
  backend::Device& device = backend::device(config.device());
  const Network::Impl& net = network.impl();

  ir::Graph graph = net.graph;
  std::vector<std::map<std::string, ProfileDims>> profiles = validateProfiles(graph, config);
  const bool refit = config.getFlag(BuilderFlag::kREFIT);
  const bool strip = config.getFlag(BuilderFlag::kSTRIP_WEIGHTS);
  if (strip && !refit)
    throw Error(ErrorCode::kInvalidArgument, "stripping weights needs a refittable build (kREFIT / --refittable)");

  // Passes.
  std::vector<passes::PassResult> pass_results = passes::runPipeline(
      graph, passes::PassContext{.keep = net.debug_tensors, .opt_level = config.optimizationLevel()},
      config.graphDumpDirectory());
  // Shape inputs: every profile fixes their values, so they are host values like constants.
  std::vector<passes::ShapeInput> value_inputs;  // inputs of other types whose values shapes need
  const std::vector<passes::ShapeInput> shape_inputs = passes::findShapeInputs(graph, &value_inputs);
  const std::vector<std::map<std::string, ProfileShapeValues>> shape_values =
      shapeValuesPerProfile(graph, shape_inputs, config, profiles.size());
  std::vector<ValueSets> profile_values(profiles.size());
  for (size_t p = 0; p < profiles.size(); ++p)
    for (const auto& [name, v] : shape_values[p]) {
      const ir::TensorInfo& input = graph.tensors[graph.find(name)];
      const Dims& dims = profiles[p].at(name).opt;
      profile_values[p].min[name] = runtime::shapeInputTensor(input, dims, v.min);
      profile_values[p].opt[name] = runtime::shapeInputTensor(input, dims, v.opt);
      profile_values[p].max[name] = runtime::shapeInputTensor(input, dims, v.max);
    }
  std::vector<bool> host = markHostLayers(graph, shape_inputs);
  DataType reduced = DataType::kFLOAT;
  if (config.getFlag(BuilderFlag::kFP16)) reduced = DataType::kHALF;
  else if (config.getFlag(BuilderFlag::kBF16)) reduced = DataType::kBF16;
  Json guard_report = Json::array(), layer_precisions = Json::array();
  std::vector<std::string> obeyed_by;
  const std::vector<DataType> precision = planPrecision(
      graph, host, reduced, config, profiles[0], profile_values[0].opt, guard_report, layer_precisions, obeyed_by);
  backend::BuildOptions options{.fp16 = reduced == DataType::kHALF,
                                .bf16 = reduced == DataType::kBF16,
                                .tf32 = config.getFlag(BuilderFlag::kTF32),
                                .hardware = config.hardwareCompatibility(),
                                .workspace_limit = config.workspaceLimit(),
                                .opt_level = config.optimizationLevel()};
  // Casts fold like the other fusions: not at level 0, which builds the graph as imported.
  const bool fold_casts = config.optimizationLevel() >= 1;
  const SettledPrecision settled = settlePrecision(graph, host, precision, obeyed_by, fold_casts, profiles,
                                                   profile_values, net.debug_tensors, config, options, device.kind());
  pass_results.push_back(passes::PassResult{
      .name = "fold_casts", .changes = settled.folded_casts, .ms = settled.fold_ms, .ran = fold_casts});
  // The timing cache: the user's, or, when the build times the layout of the network, one of
  // the build's own, so that the tactic selection below reuses those timings.
  TimingCache::Impl build_cache;
  TimingCache::Impl* cache = config.timingCache() ? &config.timingCache()->impl() : nullptr;
  int layout_timings = 0;
  Json layout_report = {{"timed", false}};
  // Channels last for the tensor-core convolutions of reduced-precision GPU builds (level 1 up,
  // like the other layout-changing rewrites).
  const bool channels_last = device.kind() == DeviceKind::kGPU && config.optimizationLevel() >= 1 &&
                             reduced != DataType::kFLOAT && config.tacticSourceEnabled(TacticSource::kCUDNN);
  {
    const auto t0 = std::chrono::steady_clock::now();
    passes::ChannelsLastResult layout;
    ir::Graph nchw_graph;  // the network before the step, while the step may still be undone
    std::vector<bool> nchw_host_marks;
    if (channels_last) {
      nchw_graph = graph;
      nchw_host_marks = host;
      layout = passes::convertToChannelsLast(graph, host, net.debug_tensors);
      // NHWC convolutions run on cuDNN, depthwise ones on kiln's own kernel (cuda.conv) too:
      // where no enabled tactic runs one (a source off, hardware compatibility, the workspace
      // limit), the step runs again without depthwise convolutions, and if a layer still has
      // none the network stays NCHW.
      const auto nhwc = [&](size_t l) {
        const ir::Node& n = graph.nodes[l];
        return (n.op == "FusedConv" && ir::convChannelsLast(n.attrs)) || n.op == "NhwcMaxPool";
      };
      if (layout.convolutions > 0) {
        std::set<size_t> missing =
            layersWithoutTactic(graph, host, nhwc, profiles, profile_values, config, options, device.kind());
        if (!missing.empty() && layout.depthwise > 0) {
          log(Severity::kINFO, "channels last: no enabled tactic runs layer '" + graph.nodes[*missing.begin()].name +
                                   "' in NHWC; depthwise convolutions stay NCHW");
          graph = nchw_graph;
          host = nchw_host_marks;
          layout = passes::convertToChannelsLast(graph, host, net.debug_tensors, {.depthwise = false});
          missing = layout.convolutions > 0 ? layersWithoutTactic(graph, host, nhwc, profiles, profile_values, config,
                                                                  options, device.kind())
                                            : std::set<size_t>{};
        }
        if (!missing.empty()) {
          log(Severity::kINFO, "channels last: no enabled tactic runs layer '" + graph.nodes[*missing.begin()].name +
                                   "' in NHWC; the convolutions stay NCHW");
          graph = std::move(nchw_graph);
          host = std::move(nchw_host_marks);
          layout = {};
        }
      }
    }
    // Timing, not the rule alone, decides (optimization level 3 up): the network with its
    // channels-last regions against the network without them, each layer at its fastest
    // candidate, summed over the profiles' opt shapes. The timings go to the build's cache, so
    // the form kept is not timed twice.
    if (layout.convolutions > 0 && config.optimizationLevel() >= 3) {
      if (!cache) cache = &build_cache;
      Timer layout_timer(device, 3, 5 + 2 * config.optimizationLevel());
      const double nhwc_ms = timedGraphMs(graph, host, profiles, profile_values, config, options, device, layout_timer,
                                          cache, layout_timings);
      const double nchw_ms = timedGraphMs(nchw_graph, nchw_host_marks, profiles, profile_values, config, options,
                                          device, layout_timer, cache, layout_timings);
      layout_report = {{"timed", true}, {"nhwc_ms", nhwc_ms}, {"nchw_ms", nchw_ms}};
      if (nchw_ms < nhwc_ms) {
        log(Severity::kINFO, "channels last: the network is faster in NCHW (" + std::to_string(nchw_ms) +
                                 " ms against " + std::to_string(nhwc_ms) +
                                 " ms summed over its layers); it stays NCHW");
        graph = std::move(nchw_graph);
        host = std::move(nchw_host_marks);
        layout = {};
      }
    }
    layout_report["chosen"] = layout.convolutions > 0 ? "NHWC" : "NCHW";
    layout_report["timings"] = layout_timings;
    pass_results.push_back(passes::PassResult{
        .name = "channels_last",
        .changes = layout.convolutions,
        .ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
        .ran = channels_last});
    if (layout.convolutions > 0)
      log(Severity::kINFO, "channels last: " + std::to_string(layout.convolutions) + " convolutions NHWC, " +
                               std::to_string(layout.transposes) + " layout conversions at region edges");
  }

  plan::Plan plan;
  plan.header = plan::Header{.format_version = plan::kFormatVersion,
                             .kiln_version = KILN_VERSION_STRING,
                             .device = device.kind(),
                             .device_identity = device.identity(),
                             .architecture = device.architecture(),
                             .hardware = config.hardwareCompatibility(),
                             .refittable = refit,
                             .weights_stripped = strip,
                             .version_compatible = config.getFlag(BuilderFlag::kVERSION_COMPATIBLE)};
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    plan.layers.push_back(plan::Layer{.node = graph.nodes[n], .host = host[n]});
  for (const std::string& name : net.debug_tensors) {
    int id = graph.find(name);
    if (id < 0) throw Error(ErrorCode::kInvalidArgument, "debug tensor '" + name + "' is not in the network");
    plan.debug_tensors.push_back(id);
  }

  const bool gpu = device.kind() == DeviceKind::kGPU;
  Timer timer(device, gpu ? 3 : 1, gpu ? 5 + 2 * config.optimizationLevel() : 3);

  if (cache && cache->size() > 0) {
    bool any = false;
    for (const auto& e : cache->entries()) any = any || e.device == device.identity();
    if (!any)
      log(Severity::kWARNING,
          "the timing cache holds only entries from other devices or library versions; "
          "they are ignored (this device: " +
              device.identity() + ")");
  }

  const std::vector<bool> view = viewLayers(plan, graph);
  int device_layers = 0;
  for (const auto& l : plan.layers) device_layers += l.host ? 0 : 1;
  const int total_steps = device_layers * static_cast<int>(profiles.size());
  int steps = 0;
  int timings = 0;
  int hits = 0;
  int misses = 0;
  Json report_layers = Json::array();
  Json report_memory = Json::array();  // per profile: the memory plan

  for (size_t p = 0; p < profiles.size(); ++p) {
    plan::Profile profile{.inputs = profiles[p], .shape_values = shape_values[p]};
    std::map<std::string, Dims> min_dims, opt_dims, max_dims;
    for (const auto& [name, pd] : profiles[p]) {
      min_dims[name] = pd.min;
      opt_dims[name] = pd.opt;
      max_dims[name] = pd.max;
    }
    std::vector<ir::TensorInfo> tmin, topt, tmax;
    auto resolve = [&](const std::map<std::string, Dims>& dims, const runtime::InputValues& values,
                       std::vector<ir::TensorInfo>& out, const char* which) {
      try {
        runtime::resolveShapes(graph, plan.layers, dims, out, values);
      } catch (const Error& e) {
        ErrorCode code = e.code() == ErrorCode::kUnsupported ? ErrorCode::kUnsupported : ErrorCode::kInvalidArgument;
        throw Error(code, "optimization profile " + std::to_string(p) + " (" + which + "): " + e.what() +
                              valueInputsHint(graph, value_inputs));
      }
    };
    resolve(min_dims, profile_values[p].min, tmin, "min");
    resolve(opt_dims, profile_values[p].opt, topt, "opt");
    resolve(max_dims, profile_values[p].max, tmax, "max");
    std::vector<ShapeProbe> probes = {{.name = "min", .dims = min_dims, .tensors = tmin},
                                      {.name = "max", .dims = max_dims, .tensors = tmax},
                                      {.name = "odd", .dims = oddDims(profiles[p]), .tensors = {}}};
    if (probes[2].dims == min_dims || probes[2].dims == opt_dims || probes[2].dims == max_dims) {
      probes.pop_back();
    } else {
      try {
        runtime::resolveShapes(graph, plan.layers, probes[2].dims, probes[2].tensors, profile_values[p].opt);
      } catch (const Error& e) {
        log(Severity::kVERBOSE, "optimization profile " + std::to_string(p) + ": no odd-size check at " +
                                    shapesText(probes[2].dims) + ": " + e.what());
        probes.pop_back();
      }
    }

    std::vector<std::string> layer_names;
    std::vector<TacticInfo> final_choices;
    std::map<std::string, std::vector<std::string>> unsupported;  // op -> layers without tactics
    for (size_t l = 0; l < plan.layers.size(); ++l) {
      plan::Layer& layer = plan.layers[l];
      if (layer.host) continue;
      const ir::Node& node = layer.node;
      if (view[l]) {
        backend::TacticConfig alias{.name = "alias", .formats = "any"};
        const uint64_t id = backend::tacticId(plan::Layer::kViewProvider, alias);
        layer.tactics.push_back(plan::TacticChoice{.provider = plan::Layer::kViewProvider,
                                                   .config = std::move(alias),
                                                   .id = id,
                                                   .source = TacticSource::kREFERENCE});
        // Reported like any layer, with its one (untimed) candidate.
        const Json only = {{"source", "view"}, {"tactic", "view:alias"}, {"id", id},       {"workspace", 0},
                           {"time_ms", -1.0},  {"failed", false},        {"allowed", true}};
        report_layers.push_back({{"name", node.name},
                                 {"op", node.op},
                                 {"profile", p},
                                 {"candidates", Json::array({only})},
                                 {"choice", "view:alias"},
                                 {"source", "view"},
                                 {"time_ms", -1.0},
                                 {"cache", "none"}});
        ++steps;
        if (config.progressMonitor() && !config.progressMonitor()->layerDone(steps, total_steps, node.name))
          throw Error(ErrorCode::kCancelled,
                      "the build was cancelled by the progress monitor at layer '" + node.name + "'");
        continue;
      }
      backend::LayerView vmin = runtime::makeLayerView(node, graph, tmin);
      backend::LayerView vopt = runtime::makeLayerView(node, graph, topt);
      backend::LayerView vmax = runtime::makeLayerView(node, graph, tmax);

      std::vector<Candidate> candidates = gatherCandidates(node, vmin, vopt, vmax, config, options, device.kind());
      if (candidates.empty()) {
        // Collect every such layer, so that one error lists them all.
        unsupported[node.op].push_back(node.name);
        continue;
      }
      const int level = config.optimizationLevel();
      if (level == 1 && candidates.size() > 2) candidates.resize(2);
      if (level == 2 && candidates.size() > 4) candidates.resize(4);

      // Timing, through the cache.
      std::string cache_state = "none";
      if (level > 0 && candidates.size() > 1) {
        const bool all_cached = timeCandidates(candidates, node, vopt, options, device, timer, cache, timings);
        if (all_cached) ++hits;
        else ++misses;
        cache_state = all_cached ? "hit" : "miss";
      }

      std::vector<TacticInfo> infos;
      std::vector<size_t> usable;
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (candidates[i].failed) continue;
        const Candidate& c = candidates[i];
        infos.push_back(TacticInfo{.source = c.provider->source(),
                                   .id = c.id,
                                   .name = std::string(c.provider->name()) + ":" + c.config.name,
                                   .formats = c.config.formats,
                                   .workspace = c.config.workspace,
                                   .time_ms = c.time_ms});
        usable.push_back(i);
      }
      if (usable.empty())
        throw Error(ErrorCode::kBuildFailed,
                    "layer '" + node.name + "' (" + node.op + "): every candidate tactic failed");
      std::vector<size_t> allowed(infos.size());
      for (size_t i = 0; i < allowed.size(); ++i) allowed[i] = i;
      if (config.algorithmSelector()) {
        allowed = config.algorithmSelector()->selectAlgorithms(node.name, node.op, static_cast<int32_t>(p), infos);
        for (size_t a : allowed)
          if (a >= infos.size())
            throw Error(ErrorCode::kInvalidArgument, "the algorithm selector returned index " + std::to_string(a) +
                                                         " for layer '" + node.name + "', which has " +
                                                         std::to_string(infos.size()) + " candidates");
        if (allowed.empty())
          throw Error(ErrorCode::kBuildFailed, "layer '" + node.name + "' (" + node.op +
                                                   "): the algorithm selector denied all " +
                                                   std::to_string(infos.size()) + " candidate tactics");
      }
      // The fastest allowed candidate that runs at every probe shape of the profile.
      std::vector<backend::LayerView> probe_views;
      for (const ShapeProbe& probe : probes) {
        backend::LayerView v = runtime::makeLayerView(node, graph, probe.tensors);
        probe_views.push_back(sameShapes(v, vopt) ? backend::LayerView{} : std::move(v));
      }
      size_t best = 0;
      for (;;) {
        bool found = false;
        for (size_t a : allowed) {
          if (!candidates[usable[a]].rejected.empty()) continue;
          if (!found || (infos[a].time_ms >= 0 && (infos[best].time_ms < 0 || infos[a].time_ms < infos[best].time_ms)))
            best = a;
          found = true;
        }
        if (!found) {
          std::string reasons;
          for (size_t a : allowed) reasons += "\n  " + infos[a].name + ": " + candidates[usable[a]].rejected;
          throw Error(ErrorCode::kBuildFailed, "layer '" + node.name + "' (" + node.op +
                                                   "): no allowed tactic runs at every shape of optimization profile " +
                                                   std::to_string(p) + ":" + reasons);
        }
        Candidate& c = candidates[usable[best]];
        std::string why;
        const int refused = timer.firstRefusal(c, vopt, probe_views, why);
        if (refused < 0) break;
        c.rejected =
            "fails at the " + probes[refused].name + " shapes (" + shapesText(probes[refused].dims) + "): " + why;
        log(Severity::kINFO, node.describe() + ": tactic " + infos[best].name + " is not used: " + c.rejected);
      }
      const Candidate& chosen = candidates[usable[best]];
      layer.tactics.push_back(plan::TacticChoice{.provider = std::string(chosen.provider->name()),
                                                 .config = chosen.config,
                                                 .id = chosen.id,
                                                 .source = chosen.provider->source(),
                                                 .time_ms = chosen.time_ms});
      layer_names.push_back(node.name);
      final_choices.push_back(infos[best]);

      Json cands = Json::array();
      for (size_t i = 0; i < candidates.size(); ++i) {
        const Candidate& c = candidates[i];
        bool is_allowed = false;
        for (size_t a : allowed)
          if (usable[a] == i) is_allowed = true;
        cands.push_back({{"source", toString(c.provider->source())},
                         {"tactic", std::string(c.provider->name()) + ":" + c.config.name},
                         {"id", c.id},
                         {"workspace", c.config.workspace},
                         {"time_ms", c.time_ms},
                         {"failed", c.failed},
                         {"allowed", is_allowed}});
        if (!c.rejected.empty()) cands.back()["rejected"] = c.rejected;
      }
      report_layers.push_back({{"name", node.name},
                               {"op", node.op},
                               {"profile", p},
                               {"candidates", cands},
                               {"choice", std::string(chosen.provider->name()) + ":" + chosen.config.name},
                               {"source", toString(chosen.provider->source())},
                               {"time_ms", chosen.time_ms},
                               {"cache", cache_state}});
      ++steps;
      if (config.progressMonitor() && !config.progressMonitor()->layerDone(steps, total_steps, node.name))
        throw Error(ErrorCode::kCancelled,
                    "the build was cancelled by the progress monitor at layer '" + node.name + "'");
    }
    if (!unsupported.empty()) {
      std::string enabled;
      for (int32_t src = 0; src < kNumTacticSources; ++src)
        if (config.tacticSourceEnabled(static_cast<TacticSource>(src)))
          enabled += (enabled.empty() ? "" : ",") + std::string(toString(static_cast<TacticSource>(src)));
      std::string list;
      size_t layers_without = 0;
      for (const auto& [op, names] : unsupported) {
        layers_without += names.size();
        list += (list.empty() ? "" : "; ") + op + " x" + std::to_string(names.size()) + " (first: layer '" +
                names.front() + "')";
      }
      throw Error(ErrorCode::kBuildFailed,
                  (layers_without == 1 ? "layer '" + unsupported.begin()->second.front() + "' (" +
                                             unsupported.begin()->first + "): no tactic"
                                       : std::to_string(layers_without) + " layers have no tactic") +
                      " of the enabled sources (" + enabled + ") on the " +
                      (gpu ? std::string("GPU") : std::string("CPU")) + " for profile " + std::to_string(p) +
                      " (workspace limit " + std::to_string(config.workspaceLimit()) + " bytes): " + list);
    }
    if (config.algorithmSelector())
      config.algorithmSelector()->reportAlgorithms(static_cast<int32_t>(p), layer_names, final_choices);

    // Memory: activations are tensors produced by device layers that are not graph outputs.
    std::vector<bool> is_output(graph.tensors.size(), false);
    for (int id : graph.outputs) is_output[id] = true;
    const auto wanted = [&](int id) { return !is_output[id]; };
    // With a range of shape values the largest tensors need not come from the max values (a
    // Slice's output shrinks as its start grows): plan for the largest of min, opt and max.
    // Contexts plan again for the values they are given (see ExecutionContext).
    const bool value_ranges = std::any_of(shape_values[p].begin(), shape_values[p].end(),
                                          [](const auto& v) { return v.second.min != v.second.max; });
    const auto bytes = [&](int id) {
      const size_t at_max = runtime::tensorBytes(tmax[id]);
      if (!value_ranges) return at_max;
      return std::max({at_max, runtime::tensorBytes(tmin[id]), runtime::tensorBytes(topt[id])});
    };
    // Without reuse: every activation in a buffer of its own (none in place either).
    const memory::ActivationRequests separate =
        memory::activationRequests(plan.layers, graph.tensors.size(), p, plan.debug_tensors, wanted, bytes);
    for (const auto& r : separate.requests) profile.no_reuse_bytes += (r.size + 255) / 256 * 256;
    const int in_place = memory::planInPlace(plan.layers, p, graph, plan.debug_tensors, wanted);
    const memory::ActivationRequests activations =
        memory::activationRequests(plan.layers, graph.tensors.size(), p, plan.debug_tensors, wanted, bytes);
    const std::vector<memory::BufferRequest>& requests = activations.requests;
    const std::vector<int>& request_tensor = activations.tensor;
    std::vector<uint64_t> offsets;
    profile.activation_bytes = memory::planMemory(requests, offsets);
    profile.activation_lower_bound = memory::peakLiveBytes(requests);
    profile.offsets.assign(graph.tensors.size(), -1);
    for (size_t r = 0; r < requests.size(); ++r) profile.offsets[request_tensor[r]] = static_cast<int64_t>(offsets[r]);
    for (const auto& layer : plan.layers)
      if (!layer.host && !layer.isView())
        profile.workspace_bytes = std::max<uint64_t>(profile.workspace_bytes, layer.tactics[p].config.workspace);
    report_memory.push_back({{"profile", p},
                             {"activation_bytes", profile.activation_bytes},
                             {"activation_lower_bound_bytes", profile.activation_lower_bound},
                             {"activation_bytes_without_reuse", profile.no_reuse_bytes},
                             {"workspace_bytes", profile.workspace_bytes},
                             {"in_place_layers", in_place}});
    plan.profiles.push_back(std::move(profile));
  }

  // Weights: a refittable plan keeps the weight program; values only the program reads are
  // dropped (refit needs every member of a group anyway; stripped loading reads them). Tensor
  // ids stay as they are (offsets and layers refer to them); unused tensors just lose values.
  if (!refit) graph.weight_program.clear();
  graph.nodes.clear();
  plan.weight_program.nodes = std::move(graph.weight_program);
  graph.weight_program.clear();
  plan.graph = std::move(graph);
  {
    std::vector<bool> used_by_layers(plan.graph.tensors.size(), false);
    std::vector<bool> used(plan.graph.tensors.size(), false);
    for (const auto& l : plan.layers)
      for (int id : l.node.inputs)
        if (id != ir::kAbsent) used_by_layers[id] = used[id] = true;
    for (int id : plan.graph.outputs) used_by_layers[id] = used[id] = true;
    std::vector<bool> derived(plan.graph.tensors.size(), false);
    for (const auto& n : plan.weight_program.nodes) {
      for (int id : n.inputs)
        if (id != ir::kAbsent) used[id] = true;
      for (int o : n.outputs)
        if (o != ir::kAbsent) derived[o] = true;
    }
    for (size_t id = 0; id < plan.graph.tensors.size(); ++id) {
      ir::TensorInfo& t = plan.graph.tensors[id];
      if (!t.value) continue;
      if (!used[id]) t.value.reset();
      else if (refit && t.is_initializer && !used_by_layers[id]) t.value.reset();
      else if (strip && (t.is_initializer || derived[id])) t.value.reset();
    }
  }

  std::vector<std::byte> bytes = plan::serialize(plan);

  if (report_json) {
    double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    Json report = {{"device", device.description()},
                   {"device_identity", device.identity()},
                   {"profiles", profiles.size()},
                   {"layers", report_layers},
                   {"timings", timings},
                   {"timing_cache", {{"hits", hits}, {"misses", misses}}},
                   {"wall_time_ms", wall_ms},
                   {"peak_host_memory_bytes", peakHostBytes()},
                   {"peak_device_memory_bytes", gpu ? timer.peakBytes() : 0},
                   {"plan_bytes", bytes.size()},
                   {"memory", report_memory},
                   {"passes", passesJson(pass_results)},
                   {"layout", layout_report},
                   {"precision_guard", guard_report},
                   {"precision_fallback", settled.fallback},
                   {"layer_precisions", layer_precisions}};
    *report_json = report.dump(2);
  }
  return bytes;
}

}  // namespace kiln
