// kiln compare MODEL.onnx ENGINE.plan: run an engine and the CPU reference oracle on the same
// inputs and report how far apart they are, per output and (--all-layers) per layer, so that
// a bad tactic can be found and then excluded with `kiln build --deny-tactic`.
//
// This is the one subcommand that reaches past the public API: the oracle is kiln's CPU
// reference backend (kiln::cpu::runReference) run over the imported graph itself.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "backends/cpu/reference.h"
#include "commands.h"
#include "ir/tensor.h"
#include "runtime/network_impl.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

struct CompareOptions {
  std::string model;
  std::string plan;
  std::vector<std::string> shapes;
  std::vector<std::string> inputs;
  std::string weights;
  bool all_layers = false;
  double rtol = -1;
  double atol = -1;
  uint32_t seed = 1;
  PrecisionFlags precision;
  std::string device = "auto";
  std::string tactic_sources;
  std::vector<std::string> deny;
};

struct Diff {
  double max_abs = 0;
  double max_rel = 0;
  size_t mismatches = 0;
  size_t count = 0;
  std::string problem;  // shape or type mismatch
  bool pass() const { return problem.empty() && mismatches == 0; }
};

// numpy.allclose's rule: |actual - expected| <= atol + rtol * |expected|; NaN equals NaN.
Diff compareValues(const ir::Tensor& expected, const ir::Tensor& actual, double rtol, double atol) {
  Diff d;
  if (expected.shape() != actual.shape()) {
    d.problem = "shape " + toString(actual.shape()) + ", expected " + toString(expected.shape());
    return d;
  }
  std::vector<double> e = expected.toDouble();
  std::vector<double> a = actual.toDouble();
  d.count = e.size();
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) || std::isnan(a[i])) {
      if (std::isnan(e[i]) != std::isnan(a[i])) {
        ++d.mismatches;
        d.max_abs = d.max_rel = INFINITY;
      }
      continue;
    }
    if (std::isinf(e[i]) || std::isinf(a[i])) {
      if (e[i] != a[i]) {
        ++d.mismatches;
        d.max_abs = d.max_rel = INFINITY;
      }
      continue;
    }
    double abs = std::fabs(a[i] - e[i]);
    double rel = abs / std::max(std::fabs(e[i]), 1e-12);
    if (abs == 0) rel = 0;
    d.max_abs = std::max(d.max_abs, abs);
    d.max_rel = std::max(d.max_rel, rel);
    if (abs > atol + rtol * std::fabs(e[i])) ++d.mismatches;
  }
  return d;
}

ir::Tensor toTensor(const HostTensor& h) {
  ir::Tensor t(h.type, h.dims);
  if (!h.bytes.empty()) std::memcpy(t.raw(), h.bytes.data(), std::min(h.bytes.size(), t.byteSize()));
  return t;
}

// The same values in another element type (engines built for reduced precision may take
// float16 inputs where the model declares float32).
HostTensor castTo(const HostTensor& h, DataType type) {
  if (h.type == type) return h;
  ir::Tensor t = toTensor(h).cast(type);
  HostTensor out{.type = type, .dims = h.dims};
  out.bytes.assign(t.bytes().begin(), t.bytes().end());
  return out;
}

std::string num(double v) {
  if (std::isinf(v)) return "inf";
  std::ostringstream s;
  s << std::setprecision(3) << std::scientific << v;
  return s.str();
}

// Default tolerances follow the engine's lowest precision (TF32 counts like float16's mantissa).
void defaultTolerances(const std::vector<LayerInfo>& layers, bool tf32, double& rtol, double& atol) {
  bool half = false, bf16 = false;
  for (const LayerInfo& l : layers) {
    std::string p = l.precision + " " + l.tactic;
    half = half || p.find("16") != std::string::npos;
    bf16 = bf16 || p.find("bf16") != std::string::npos || p.find("bfloat16") != std::string::npos;
    tf32 = tf32 || p.find("tf32") != std::string::npos;
  }
  double r = 1e-4, a = 1e-4;
  if (bf16) r = a = 5e-2;
  else if (half) r = a = 2e-2;
  else if (tf32) r = a = 1e-2;
  if (rtol < 0) rtol = r;
  if (atol < 0) atol = a;
}

struct Run {
  std::map<std::string, HostTensor> inputs;   // what was fed (given or random)
  std::map<std::string, HostTensor> outputs;  // the engine's outputs
};

// Sets shapes, fills inputs (given, else random from `seed` in input order) and runs once.
Run runEngine(Engine& engine, ExecutionContext& context, const std::map<std::string, Dims>& shapes,
              const std::map<std::string, HostTensor>& given, uint32_t seed,
              const std::map<std::string, HostTensor>* fixed_inputs = nullptr) {
  Run run;
  uint32_t s = seed;
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kINPUT) continue;
    if (engine.isShapeInput(name)) {
      // Its values: those fed before, else a given file's, else the profile's (never random).
      const HostTensor* known = fixed_inputs ? &fixed_inputs->at(name) : nullptr;
      if (auto it = given.find(name); !known && it != given.end()) known = &it->second;
      ShapeValues values;
      if (known) values[name] = toTensor(castTo(*known, DataType::kINT64)).toInt64();
      setShapeValues(engine, context, values, {});
      const std::vector<int64_t> v = context.inputShapeValues(name);
      HostTensor t{.type = engine.tensorType(name), .dims = context.tensorShape(name)};
      const ir::Tensor typed = ir::Tensor::fromInt64(t.dims, v).cast(t.type);
      t.bytes.assign(typed.bytes().begin(), typed.bytes().end());
      run.inputs[name] = std::move(t);
      ++s;
      continue;
    }
    Dims dims;
    if (fixed_inputs) dims = fixed_inputs->at(name).dims;
    else if (auto it = given.find(name); it != given.end()) dims = it->second.dims;
    else if (auto sh = shapes.find(name); sh != shapes.end()) dims = sh->second;
    else dims = engine.profileDims(name, 0).opt;
    context.setInputShape(name, dims);
    if (fixed_inputs) run.inputs[name] = castTo(fixed_inputs->at(name), engine.tensorType(name));
    else if (auto it = given.find(name); it != given.end()) run.inputs[name] = it->second;
    else run.inputs[name] = randomTensor(engine.tensorType(name), dims, s);
    ++s;
  }
  IoBuffers io(engine, context);
  Stream stream(engine.device());
  io.setInputs(run.inputs, stream, seed);
  context.enqueue(stream.handle());
  io.downloadOutputs(stream);
  stream.synchronize();
  for (const std::string& name : io.outputNames()) run.outputs[name] = io.output(name);
  return run;
}

int compareCommand(const CompareOptions& o) {
  requireFile(o.model, "model");
  requireFile(o.plan, "plan");
  std::map<std::string, Dims> shapes;
  for (const auto& s : o.shapes) parseShapes(s, shapes);
  const GivenInputs given = readGivenInputs(o.inputs);
  // Check the --all-layers build flags before the (possibly slow) work.
  BuilderConfig debug_config;
  DenyTacticSelector selector;
  if (o.all_layers) {
    o.precision.apply(debug_config);
    if (!o.tactic_sources.empty()) applyTacticSources(o.tactic_sources, debug_config);
    for (const std::string& d : o.deny) selector.addRule(d);
    if (!selector.empty()) debug_config.setAlgorithmSelector(&selector);
    debug_config.setDevice(parseDeviceOption(o.device));
  } else if (o.precision.fp16 || o.precision.bf16 || o.precision.tf32 || !o.tactic_sources.empty() || !o.deny.empty()) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "--fp16/--bf16/--tf32/--tactic-sources/--deny-tactic describe the --all-layers build; add --all-layers");
  }

  Network network = OnnxParser::parseFile(o.model);
  Engine engine = Engine::load(o.plan, WeightsSource{o.weights});
  checkInputs(inputSpecs(engine), "engine", shapes, given);
  for (int32_t i = 0; i < network.numOutputs(); ++i)
    if (engine.tensorIOMode(network.outputName(i)) != TensorIOMode::kOUTPUT)
      throw Error(ErrorCode::kInvalidArgument, o.plan + " has no output '" + network.outputName(i) + "' of " + o.model +
                                                   ": was it built from another model?");

  double rtol = o.rtol, atol = o.atol;
  defaultTolerances(engine.layers(), o.precision.tf32, rtol, atol);
  const bool quiet = verbosity() == Verbosity::kQuiet;

  std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
  Run run = runEngine(engine, *context, shapes, given.tensors, o.seed);

  std::map<std::string, ir::Tensor> oracle_inputs;
  for (const auto& [name, t] : run.inputs) oracle_inputs[name] = toTensor(castTo(t, network.tensorType(name)));
  std::map<std::string, ir::Tensor> oracle = cpu::runReference(network.impl().graph, oracle_inputs, o.all_layers);

  bool failed = false;
  std::string first_failure;
  if (!quiet) {
    std::cout << "kiln compare " << o.model << " vs " << o.plan << " (rtol " << num(rtol) << ", atol " << num(atol)
              << ")\n";
    for (const auto& [name, t] : run.inputs)
      std::cout << "  input  " << name << " " << toString(t.type) << " " << toString(t.dims)
                << (given.tensors.count(name)   ? " (given)"
                    : engine.isShapeInput(name) ? " (the profile's shape values)"
                                                : " (random)")
                << "\n";
  }
  for (int32_t i = 0; i < network.numOutputs(); ++i) {
    std::string name = network.outputName(i);
    auto it = oracle.find(name);
    if (it == oracle.end()) throw Error(ErrorCode::kInternal, "the reference produced no output '" + name + "'");
    Diff d = compareValues(it->second, toTensor(run.outputs.at(name)), rtol, atol);
    failed = failed || !d.pass();
    if (!d.pass() && first_failure.empty()) first_failure = "output " + name;
    if (quiet) continue;
    std::cout << "  output " << name << ": ";
    if (!d.problem.empty()) std::cout << d.problem << "  FAIL\n";
    else
      std::cout << "max abs " << num(d.max_abs) << ", max rel " << num(d.max_rel) << ", " << d.mismatches << "/"
                << d.count << " past tolerance  " << (d.pass() ? "PASS" : "FAIL") << "\n";
  }

  if (o.all_layers) {
    // A plan keeps only the tensors marked for debugging when it was built, so build the
    // model again with every intermediate tensor marked, at the shapes just run.
    std::set<std::string> outputs;
    for (int32_t i = 0; i < network.numOutputs(); ++i) outputs.insert(network.outputName(i));
    for (int32_t l = 0; l < network.numLayers(); ++l)
      for (const std::string& t : network.layer(l).outputs)
        if (!t.empty() && !outputs.count(t)) network.markDebug(t);
    OptimizationProfile profile;
    bool dynamic = false;
    for (const auto& [name, t] : run.inputs) {
      if (engine.isShapeInput(name)) {
        const std::vector<int64_t> v = toTensor(castTo(t, DataType::kINT64)).toInt64();
        profile.setShapeValues(name, v, v, v);
        dynamic = true;
      }
      Dims declared = network.tensorDims(name);
      if (std::any_of(declared.begin(), declared.end(), [](int64_t d) { return d < 0; })) {
        profile.setDimensions(name, {t.dims, t.dims, t.dims});
        dynamic = true;
      }
    }
    if (dynamic) debug_config.addOptimizationProfile(profile);
    if (!quiet) std::cout << "per layer (a build of " << o.model << " with every intermediate tensor kept):\n";
    Engine debug_engine = [&] {
      BuildProgress progress;  // only while building: it holds Ctrl-C back to cancel the build
      debug_config.setProgressMonitor(&progress);
      return Engine::deserialize(Builder::buildSerializedNetwork(network, debug_config));
    }();
    std::unique_ptr<ExecutionContext> debug_context = debug_engine.createExecutionContext();
    Run debug_run = runEngine(debug_engine, *debug_context, shapes, given.tensors, o.seed, &run.inputs);
    std::map<std::string, LayerInfo> tactics;
    for (const LayerInfo& info : debug_engine.layers()) tactics[info.name] = info;

    size_t wn = 5, wo = 2;
    for (int32_t l = 0; l < network.numLayers(); ++l) {
      wn = std::max(wn, network.layer(l).name.size());
      wo = std::max(wo, network.layer(l).op.size());
    }
    if (!quiet)
      std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << "layer"
                << "  " << std::setw(static_cast<int>(wo)) << "op"
                << "  " << std::setw(10) << "max abs"
                << "  " << std::setw(10) << "max rel"
                << "  result  tactic\n";
    std::string first_bad;
    for (int32_t l = 0; l < network.numLayers(); ++l) {
      LayerDescription layer = network.layer(l);
      Diff worst;
      bool compared = false;
      for (const std::string& t : layer.outputs) {
        if (t.empty()) continue;
        auto ref = oracle.find(t);
        if (ref == oracle.end()) continue;
        HostTensor actual;
        if (outputs.count(t)) {
          actual = debug_run.outputs.at(t);
        } else {
          std::vector<std::byte> buffer(std::max<size_t>(1, static_cast<size_t>(ref->second.numel()) * 8));
          DataType type = DataType::kFLOAT;
          try {
            actual.dims = debug_context->readDebugTensor(t, buffer.data(), buffer.size(), &type);
          } catch (const Error& e) {
            log(Severity::kVERBOSE, "layer '" + layer.name + "': tensor '" + t + "' not compared: " + e.what());
            continue;
          }
          actual.type = type;
          actual.bytes.assign(buffer.begin(),
                              buffer.begin() + static_cast<std::ptrdiff_t>(elementSize(type) * volume(actual.dims)));
        }
        Diff d = compareValues(ref->second, toTensor(actual), rtol, atol);
        compared = true;
        if (!d.pass() && worst.pass()) worst = d;
        else if (d.pass() == worst.pass()) {
          worst.max_abs = std::max(worst.max_abs, d.max_abs);
          worst.max_rel = std::max(worst.max_rel, d.max_rel);
          worst.mismatches += d.mismatches;
        }
      }
      if (!compared) {
        if (!quiet && verbosity() == Verbosity::kVerbose)
          std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << layer.name
                    << "  (not kept by the build)\n";
        continue;
      }
      if (!worst.pass() && first_bad.empty()) first_bad = layer.name;
      failed = failed || !worst.pass();
      if (quiet) continue;
      auto tac = tactics.find(layer.name);
      std::string tactic = tac == tactics.end()
                               ? std::string("(folded)")
                               : tac->second.tactic + " [" + std::string(toString(tac->second.source)) + "]";
      std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << layer.name << "  "
                << std::setw(static_cast<int>(wo)) << layer.op << "  " << std::setw(10)
                << (worst.problem.empty() ? num(worst.max_abs) : "-") << "  " << std::setw(10)
                << (worst.problem.empty() ? num(worst.max_rel) : "-") << "  " << (worst.pass() ? "PASS  " : "FAIL  ")
                << "  " << tactic << (worst.problem.empty() ? "" : "  (" + worst.problem + ")") << "\n";
    }
    if (!first_bad.empty()) {
      auto tac = tactics.find(first_bad);
      std::ostream& out = quiet ? std::cerr : std::cout;
      out << "first layer past tolerance: " << first_bad;
      if (tac != tactics.end())
        out << " (" << tac->second.op << ", tactic " << tac->second.tactic << ", source "
            << toString(tac->second.source) << "); exclude it with --deny-tactic '" << first_bad << ":"
            << toString(tac->second.source) << ":" << tac->second.tactic_id << "'";
      out << "\n";
      first_failure = first_bad;
    } else if (!quiet) {
      std::cout
          << "every layer within tolerance"
          << (failed ? " in this build, but the plan's outputs are not: its tactics or weights differ from this build's"
                     : "")
          << "\n";
    }
  }
  if (!quiet) std::cout << (failed ? "FAIL" : "PASS") << "\n";
  if (failed)
    std::cerr << "kiln compare: past tolerance (rtol " << num(rtol) << ", atol " << num(atol) << "): " << first_failure
              << "\n";
  return failed ? 1 : 0;
}

const CommandRegistrar kRegistrar({
    .name = "compare",
    .help = "Compare an engine with the CPU reference oracle on the same inputs (per output; --all-layers: per layer)",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<CompareOptions>();
          app.add_option("model", o->model, "MODEL.onnx the engine was built from")->required();
          app.add_option("plan", o->plan, "ENGINE.plan")->required();
          app.add_option("--shapes", o->shapes, "Input shapes NAME:1x3x224x224 (default: profile 0's opt)")
              ->allow_extra_args(false);
          app.add_option("--input", o->inputs, "Input values NAME=FILE.npy (repeatable); random where none is given")
              ->allow_extra_args(false);
          app.add_option("--weights", o->weights, "Weights (.onnx or .safetensors) for a weight-stripped plan");
          app.add_option("--rtol", o->rtol,
                         "Relative tolerance (default by precision: 1e-4 fp32, 1e-2 tf32, 2e-2 fp16, 5e-2 bf16)");
          app.add_option("--atol", o->atol, "Absolute tolerance (default as --rtol)");
          app.add_option("--seed", o->seed, "Seed of the random inputs")->capture_default_str();
          app.add_flag(
              "--all-layers", o->all_layers,
              "Also compare every intermediate tensor, from a build of the model with all of them kept; prints "
              "the first layer past tolerance");
          o->precision.addTo(app, "--all-layers build: ");
          app.add_option("--device", o->device, "--all-layers build: gpu, cpu or auto")
              ->check(CLI::IsMember({"gpu", "cpu", "auto"}));
          app.add_option("--tactic-sources", o->tactic_sources, "--all-layers build: tactic sources, as for build");
          app.add_option("--deny-tactic", o->deny, "--all-layers build: denied tactics, as for build")
              ->allow_extra_args(false);
          return [o] { return runOneLineErrors([o] { return compareCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
