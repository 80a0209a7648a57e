// kiln inspect ENGINE.plan [--json]: what a plan holds (I/O, profiles, layers and their
// tactics, memory, refittable weights, compatibility).
#include <algorithm>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

using Json = nlohmann::ordered_json;

struct InspectOptions {
  std::string plan;
  std::string weights;
  bool json = false;
};

std::string deviceName(DeviceKind d) { return d == DeviceKind::kGPU ? "gpu" : "cpu"; }
std::string levelName(HardwareCompatibility h) { return h == HardwareCompatibility::kAMPERE_PLUS ? "ampere+" : "same"; }

Json dimsJson(const Dims& d) { return Json(d); }

Json collect(Engine& engine) {
  Json j;
  j["inputs"] = Json::array();
  j["outputs"] = Json::array();
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    Json t = {
        {"name", name}, {"type", toString(engine.tensorType(name))}, {"shape", dimsJson(engine.tensorShape(name))}};
    (engine.tensorIOMode(name) == TensorIOMode::kINPUT ? j["inputs"] : j["outputs"]).push_back(t);
  }
  j["profiles"] = Json::array();
  for (int32_t p = 0; p < engine.numOptimizationProfiles(); ++p) {
    Json inputs = Json::object();
    for (const Json& in : j["inputs"]) {
      std::string name = in["name"];
      ProfileDims pd = engine.profileDims(name, p);
      inputs[name] = {{"min", dimsJson(pd.min)}, {"opt", dimsJson(pd.opt)}, {"max", dimsJson(pd.max)}};
      if (engine.isShapeInput(name)) {
        const ProfileShapeValues v = engine.profileShapeValues(name, p);
        inputs[name]["shape_values"] = {{"min", v.min}, {"opt", v.opt}, {"max", v.max}};
      }
    }
    j["profiles"].push_back({{"index", p}, {"inputs", inputs}});
  }
  j["layers"] = Json::array();
  std::vector<std::vector<LayerInfo>> per_profile;
  for (int32_t p = 0; p < std::max(1, engine.numOptimizationProfiles()); ++p) per_profile.push_back(engine.layers(p));
  j["views"] = Json::array();  // reshapes that alias their input: no kernel, so not layers
  for (size_t l = 0; l < per_profile[0].size(); ++l) {
    const LayerInfo& info = per_profile[0][l];
    if (info.tactic == "view:alias") {
      j["views"].push_back(info.name);
      continue;
    }
    Json layer = {{"name", info.name},
                  {"op", info.op},
                  {"tactic", info.tactic},
                  {"tactic_id", info.tactic_id},
                  {"source", toString(info.source)},
                  {"precision", info.precision},
                  {"inputs", info.inputs},
                  {"outputs", info.outputs}};
    if (per_profile.size() > 1) {
      Json by = Json::array();
      for (const auto& pl : per_profile)
        if (l < pl.size())
          by.push_back({{"tactic", pl[l].tactic}, {"tactic_id", pl[l].tactic_id}, {"source", toString(pl[l].source)}});
      layer["tactics_by_profile"] = by;
    }
    j["layers"].push_back(layer);
  }
  Json memory = {{"weights_bytes", engine.weightsSize()}, {"profiles", Json::array()}};
  for (int32_t p = 0; p < std::max(1, engine.numOptimizationProfiles()); ++p) {
    int in_place = 0;
    for (const LayerInfo& info : engine.layers(p)) in_place += info.inplace_input >= 0 ? 1 : 0;
    const size_t bound = engine.activationLowerBound(p);
    // activation_bytes and its without-reuse twin count the workspace too (a context's whole
    // block, as deviceMemorySize); the plan's own size and its lower bound do not.
    memory["profiles"].push_back({{"index", p},
                                  {"activation_bytes", engine.deviceMemorySize(p)},
                                  {"activation_bytes_without_reuse", engine.deviceMemorySizeWithoutReuse(p)},
                                  {"workspace_bytes", engine.workspaceSize(p)},
                                  {"activation_plan_bytes", engine.activationSize(p)},
                                  {"activation_lower_bound_bytes", bound > 0 ? Json(bound) : Json(nullptr)},
                                  {"in_place_layers", in_place}});
  }
  j["memory"] = memory;
  j["refittable_weights"] = Json::array();
  if (engine.refittable()) {
    Refitter refitter(engine);
    for (const std::string& n : refitter.weightNames()) j["refittable_weights"].push_back(n);
  }
  CompatibilityInfo c = engine.compatibility();
  j["compatibility"] = {{"device", deviceName(c.device)},    {"architecture", c.architecture},
                        {"level", levelName(c.level)},       {"format_version", c.format_version},
                        {"kiln_version", c.kiln_version},    {"version_compatible", c.version_compatible},
                        {"refittable", engine.refittable()}, {"weights_stripped", engine.weightsStripped()}};
  j["debug_tensors"] = engine.debugTensors();
  return j;
}

std::string shapeText(const Json& dims) { return toString(dims.get<Dims>()); }

void printText(const std::string& path, const Json& j) {
  const Json& c = j["compatibility"];
  std::cout << "plan " << path << "\n";
  std::cout << "compatibility: " << c["device"].get<std::string>() << " " << c["architecture"].get<std::string>()
            << ", hardware compat " << c["level"].get<std::string>() << ", format v"
            << c["format_version"].get<uint32_t>() << ", built by kiln " << c["kiln_version"].get<std::string>()
            << (c["version_compatible"].get<bool>() ? ", version-compatible" : "")
            << (c["refittable"].get<bool>() ? ", refittable" : "")
            << (c["weights_stripped"].get<bool>() ? ", weights stripped" : "") << "\n";
  for (const char* kind : {"inputs", "outputs"}) {
    std::cout << kind << ":\n";
    for (const Json& t : j[kind])
      std::cout << "  " << t["name"].get<std::string>() << "  " << t["type"].get<std::string>() << "  "
                << shapeText(t["shape"]) << "\n";
  }
  std::cout << "profiles: " << j["profiles"].size() << "\n";
  for (const Json& p : j["profiles"])
    for (const auto& [name, r] : p["inputs"].items()) {
      std::cout << "  " << p["index"].get<int>() << ": " << name << "  min " << shapeText(r["min"]) << "  opt "
                << shapeText(r["opt"]) << "  max " << shapeText(r["max"]);
      if (r.contains("shape_values")) {  // one list when fixed (min = opt = max), else min, opt, max
        const auto list = [](const Json& values) {
          std::string text;
          for (const Json& v : values) text += (text.empty() ? "" : ", ") + v.dump();
          return "[" + text + "]";
        };
        const Json& sv = r["shape_values"];
        if (sv["min"] == sv["max"]) std::cout << "  shape values " << list(sv["opt"]);
        else
          std::cout << "  shape values min " << list(sv["min"]) << " opt " << list(sv["opt"]) << " max "
                    << list(sv["max"]);
      }
      std::cout << "\n";
    }
  const Json& m = j["memory"];
  std::cout << "memory: weights " << formatBytes(m["weights_bytes"].get<size_t>()) << "\n";
  for (const Json& p : m["profiles"]) {
    const Json& bound = p["activation_lower_bound_bytes"];
    const size_t workspace = p["workspace_bytes"].get<size_t>();
    std::cout << "  profile " << p["index"].get<int>() << ": activations "
              << formatBytes(p["activation_plan_bytes"].get<size_t>()) << " (lower bound "
              << (bound.is_null() ? std::string("not recorded") : formatBytes(bound.get<size_t>()))
              << ", without reuse " << formatBytes(p["activation_bytes_without_reuse"].get<size_t>() - workspace)
              << "; " << p["in_place_layers"].get<int>() << " layer(s) in place), workspace " << formatBytes(workspace)
              << "\n";
  }
  std::cout << "layers: " << j["layers"].size() << " (tactics of profile 0)";
  if (!j["views"].empty()) std::cout << "; " << j["views"].size() << " views alias their input and run nothing";
  std::cout << "\n";
  size_t wn = 4, wo = 2, wt = 6, ws = 6;
  for (const Json& l : j["layers"]) {
    wn = std::max(wn, l["name"].get<std::string>().size());
    wo = std::max(wo, l["op"].get<std::string>().size());
    wt = std::max(wt, l["tactic"].get<std::string>().size());
    ws = std::max(ws, l["source"].get<std::string>().size());
  }
  auto row = [&](const std::string& a, const std::string& b, const std::string& c2, const std::string& d,
                 const std::string& e) {
    std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << a << "  " << std::setw(static_cast<int>(wo))
              << b << "  " << std::setw(static_cast<int>(wt)) << c2 << "  " << std::setw(static_cast<int>(ws)) << d
              << "  " << e << "\n";
  };
  row("name", "op", "tactic", "source", "precision");
  for (const Json& l : j["layers"]) row(l["name"], l["op"], l["tactic"], l["source"], l["precision"]);
  std::cout << "refittable weights: ";
  if (!c["refittable"].get<bool>()) std::cout << "none (not built with --refittable)\n";
  else {
    std::cout << j["refittable_weights"].size() << "\n";
    for (const Json& n : j["refittable_weights"]) std::cout << "  " << n.get<std::string>() << "\n";
  }
  if (!j["debug_tensors"].empty()) {
    std::cout << "debug tensors: " << j["debug_tensors"].size() << "\n";
    for (const Json& n : j["debug_tensors"]) std::cout << "  " << n.get<std::string>() << "\n";
  }
}

// An ONNX model (before any build): its I/O with named dynamic dimensions, layers, weights.
Json collectModel(const Network& net) {
  auto tensor = [&](const std::string& name) {
    Json dims = Json::array();
    Dims d = net.tensorDims(name);
    for (size_t i = 0; i < d.size(); ++i) {
      std::string param = d[i] < 0 ? net.dimensionName(name, static_cast<int32_t>(i)) : "";
      if (d[i] >= 0) dims.push_back(d[i]);
      else dims.push_back(param.empty() ? Json(-1) : Json(param));
    }
    return Json{{"name", name}, {"type", toString(net.tensorType(name))}, {"shape", dims}};
  };
  Json j = {
      {"inputs", Json::array()}, {"outputs", Json::array()}, {"layers", Json::array()}, {"weights", net.weightNames()}};
  for (int32_t i = 0; i < net.numInputs(); ++i) {
    j["inputs"].push_back(tensor(net.inputName(i)));
    if (net.isShapeInput(net.inputName(i))) j["inputs"].back()["shape_input"] = true;
  }
  for (int32_t i = 0; i < net.numOutputs(); ++i) j["outputs"].push_back(tensor(net.outputName(i)));
  for (int32_t l = 0; l < net.numLayers(); ++l) {
    LayerDescription d = net.layer(l);
    j["layers"].push_back({{"name", d.name}, {"op", d.op}, {"inputs", d.inputs}, {"outputs", d.outputs}});
  }
  return j;
}

void printModel(const std::string& path, const Json& j) {
  auto shape = [](const Json& dims) {
    std::string s;
    for (const Json& d : dims)
      s += (s.empty() ? "" : "x") + (d.is_string() ? d.get<std::string>() : std::to_string(d.get<int64_t>()));
    return s.empty() ? std::string("scalar") : s;
  };
  std::cout << "model " << path << "\n";
  for (const char* kind : {"inputs", "outputs"}) {
    std::cout << kind << ":\n";
    for (const Json& t : j[kind])
      std::cout << "  " << t["name"].get<std::string>() << "  " << t["type"].get<std::string>() << "  "
                << shape(t["shape"])
                << (t.value("shape_input", false) ? "  (shape input: build with --shape-values)" : "") << "\n";
  }
  std::cout << "layers: " << j["layers"].size() << "\n";
  for (const Json& l : j["layers"])
    std::cout << "  " << l["name"].get<std::string>() << "  " << l["op"].get<std::string>() << "\n";
  std::cout << "weights: " << j["weights"].size() << "\n";
  if (verbosity() == Verbosity::kVerbose)
    for (const Json& w : j["weights"]) std::cout << "  " << w.get<std::string>() << "\n";
}

int inspectCommand(const InspectOptions& o) {
  requireFile(o.plan, "plan");
  if (isOnnxModel(o.plan)) {
    Json j = collectModel(OnnxParser::parseFile(o.plan));
    if (o.json) std::cout << j.dump(2) << "\n";
    else printModel(o.plan, j);
    return 0;
  }
  if (!o.weights.empty()) requireFile(o.weights, "weights file");
  Engine engine = [&] {
    try {
      return Engine::load(o.plan, WeightsSource{o.weights});
    } catch (const Error& e) {
      std::string what = e.what();
      if (o.weights.empty() && what.find("without its weights") != std::string::npos)
        throw Error(e.code(), what + " (kiln inspect --weights FILE)");
      throw;
    }
  }();
  Json j = collect(engine);
  if (o.json) {
    j.erase("debug_tensors");  // the JSON keys are a contract: inputs ... compatibility
    std::cout << j.dump(2) << "\n";
  } else printText(o.plan, j);
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "inspect",
    .help = "Show what a plan holds (I/O, profiles, layers and tactics, memory, refittable weights, compatibility), "
            "or a model's I/O, layers and weights",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<InspectOptions>();
          app.add_option("plan", o->plan, "ENGINE.plan (or MODEL.onnx)")->required();
          app.add_flag(
              "--json", o->json,
              "JSON output (keys: inputs, outputs, profiles, layers, memory, refittable_weights, compatibility)");
          app.add_option("--weights", o->weights, "Weights (.onnx or .safetensors) for a weight-stripped plan");
          return [o] { return runOneLineErrors([o] { return inspectCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
