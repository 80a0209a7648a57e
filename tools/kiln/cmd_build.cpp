// kiln build MODEL.onnx -o ENGINE.plan: optimize a model for this device and write its plan.
#include <chrono>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

struct BuildOptions {
  std::string model;
  std::string output;
  PrecisionFlags precision;
  std::vector<std::string> profiles;
  std::vector<std::string> shape_values;
  std::string timing_cache;
  std::string tactic_sources;
  std::vector<std::string> deny;
  bool refittable = false;
  std::string hardware_compat = "same";
  bool version_compatible = false;
  std::string workspace;
  int opt_level = -1;
  std::string device = "auto";
  bool strip_weights = false;
  std::string report;
  std::string dump_graph;
};

int buildCommand(const BuildOptions& o) {
  // Everything the command line alone can get wrong is checked before the model is read.
  if (o.strip_weights && !o.refittable)
    throw Error(ErrorCode::kInvalidArgument,
                "--strip-weights needs --refittable (a weight-stripped plan takes its weights by refit)");
  BuilderConfig config;
  o.precision.apply(config);
  // --shape-values: one flag per profile, in --profile order (or one for every profile; or,
  // without --profile, one profile per flag).
  if (!o.shape_values.empty() && !o.profiles.empty() && o.shape_values.size() != 1 &&
      o.shape_values.size() != o.profiles.size())
    throw Error(ErrorCode::kInvalidArgument, std::to_string(o.shape_values.size()) + " --shape-values flags for " +
                                                 std::to_string(o.profiles.size()) +
                                                 " --profile flags: give one per profile, or one for all");
  std::vector<OptimizationProfile> profiles;
  for (const std::string& p : o.profiles) profiles.push_back(parseProfile(p));
  if (profiles.empty()) profiles.resize(o.shape_values.size());
  for (size_t p = 0; p < profiles.size() && !o.shape_values.empty(); ++p)
    for (const auto& [name, values] : parseShapeValueRanges(o.shape_values[o.shape_values.size() == 1 ? 0 : p]))
      profiles[p].setShapeValues(name, values);
  for (const OptimizationProfile& p : profiles) config.addOptimizationProfile(p);
  if (!o.tactic_sources.empty()) applyTacticSources(o.tactic_sources, config);
  DenyTacticSelector selector;
  for (const std::string& d : o.deny) selector.addRule(d);
  if (!selector.empty()) config.setAlgorithmSelector(&selector);
  if (o.refittable) config.setFlag(BuilderFlag::kREFIT);
  if (o.strip_weights) config.setFlag(BuilderFlag::kSTRIP_WEIGHTS);
  if (o.version_compatible) config.setFlag(BuilderFlag::kVERSION_COMPATIBLE);
  config.setHardwareCompatibility(o.hardware_compat == "ampere+" ? HardwareCompatibility::kAMPERE_PLUS
                                                                 : HardwareCompatibility::kSAME_ARCHITECTURE);
  if (!o.workspace.empty()) config.setWorkspaceLimit(parseSize(o.workspace));
  if (o.opt_level >= 0) config.setOptimizationLevel(o.opt_level);
  config.setGraphDumpDirectory(o.dump_graph);
  config.setDevice(parseDeviceOption(o.device));
  if (std::filesystem::absolute(o.model) == std::filesystem::absolute(o.output))
    throw Error(ErrorCode::kInvalidArgument, "-o " + o.output + " would overwrite the model");
  requireFile(o.model, "model");
  // Where the results go is checked before the build, which may take long, not after it.
  requireWritableFile("-o", o.output);
  if (!o.report.empty()) requireWritableFile("--report", o.report);
  if (!o.timing_cache.empty()) requireWritableFile("--timing-cache", o.timing_cache);

  TimingCache cache;
  if (!o.timing_cache.empty()) {
    cache = TimingCache::load(o.timing_cache);  // a missing file is an empty cache
    config.setTimingCache(&cache);
  }
  const bool quiet = verbosity() == Verbosity::kQuiet;

  const auto start = std::chrono::steady_clock::now();
  Network network = OnnxParser::parseFile(o.model);
  BuildProgress progress;
  config.setProgressMonitor(&progress);
  std::string report;
  std::vector<std::byte> plan;
  try {
    plan = Builder::buildSerializedNetwork(network, config, &report);
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  writeFileAtomic(o.output, plan);
  if (!o.report.empty()) writeFileAtomic(o.report, report + "\n");
  if (!o.timing_cache.empty()) {
    // Another build may have written the cache meanwhile: merge with what is there now.
    TimingCache current = TimingCache::load(o.timing_cache);
    cache.combine(current);
    cache.save(o.timing_cache);
  }

  if (quiet) return 0;
  nlohmann::json r = nlohmann::json::parse(report, nullptr, false);
  std::cout << "kiln build " << o.model << " -> " << o.output << "\n";
  if (!r.is_discarded()) {
    std::cout << "  device:       " << r.value("device", std::string()) << "\n";
    size_t layers = r.contains("layers") ? r["layers"].size() : 0;
    const size_t profiles = std::max<size_t>(1, r.value("profiles", size_t{1}));
    std::cout << "  layers:       " << layers / profiles << " (" << profiles << " profile(s))\n";
    std::cout << "  timings:      " << r.value("timings", 0);
    if (r.contains("timing_cache"))
      std::cout << " (timing cache: " << r["timing_cache"].value("hits", 0) << " hits, "
                << r["timing_cache"].value("misses", 0) << " misses)";
    std::cout << "\n";
    if (r.contains("passes")) {
      std::string fused;
      for (const auto& p : r["passes"])
        if (p.value("changes", 0) > 0)
          fused += (fused.empty() ? "" : ", ") + p.value("name", std::string()) + " " + std::to_string(p.value("changes", 0));
      std::cout << "  optimizer:    " << (fused.empty() ? std::string("no rewrites") : fused) << "\n";
    }
    const auto& pinned = r.contains("precision_guard") ? r["precision_guard"] : nlohmann::json::array();
    if (!pinned.empty())
      std::cout << "  precision:    the precision guard pinned " << pinned.size() << " layer(s) to float32 (first: "
                << pinned[0].value("layer", std::string()) << ": " << pinned[0].value("reason", std::string()) << ")\n";
    else if ((o.precision.fp16 || o.precision.bf16) && !o.precision.no_guard)
      std::cout << "  precision:    the precision guard pinned no layer to float32\n";
    const auto& fallback = r.contains("precision_fallback") ? r["precision_fallback"] : nlohmann::json::array();
    if (!fallback.empty())
      std::cout << "  precision:    " << fallback.size()
                << " layer(s) run in float32, having no tactic in their precision (first: "
                << fallback[0].value("layer", std::string()) << ", " << fallback[0].value("requested", std::string())
                << ": " << fallback[0].value("reason", std::string()) << ")\n";
    if (r.contains("memory"))
      for (const auto& m : r["memory"])
        std::cout << "  memory:       "
                  << (profiles > 1 ? "profile " + std::to_string(m.value("profile", 0)) + ": " : "") << "activations "
                  << formatBytes(m.value("activation_bytes", size_t{0})) << " (lower bound "
                  << formatBytes(m.value("activation_lower_bound_bytes", size_t{0})) << ", without reuse "
                  << formatBytes(m.value("activation_bytes_without_reuse", size_t{0})) << "; "
                  << m.value("in_place_layers", 0) << " layer(s) in place), workspace "
                  << formatBytes(m.value("workspace_bytes", size_t{0})) << "\n";
  }
  std::cout << "  plan:         " << formatBytes(plan.size()) << (o.strip_weights ? " (weights stripped)" : "")
            << (o.refittable ? ", refittable" : "") << "\n";
  if (!o.timing_cache.empty())
    std::cout << "  timing cache: " << o.timing_cache << " (" << cache.size() << " entries)\n";
  if (!o.report.empty()) std::cout << "  report:       " << o.report << "\n";
  std::cout << "  build time:   " << formatMs(build_ms) << "\n";
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "build",
    .help = "Build an engine from an ONNX model and write its plan",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<BuildOptions>();
          app.add_option("model", o->model, "MODEL.onnx")->required();
          app.add_option("-o,--output", o->output, "ENGINE.plan to write (atomically)")->required();
          o->precision.addTo(app);
          app.add_option("--profile", o->profiles,
                         "An optimization profile 'INPUT:MIN,OPT,MAX[;INPUT2:MIN,OPT,MAX]', dims like 1x3x224x224 "
                         "(repeatable: one flag per profile)")
              ->allow_extra_args(false);
          app.add_option("--shape-values", o->shape_values,
                         "Values of shape inputs (inputs that determine shapes, e.g. a Reshape's target) "
                         "'INPUT:V1,V2,...[;INPUT2:...]', e.g. 'shape:2,-1', or a range 'INPUT:MIN/OPT/MAX', e.g. "
                         "'starts:0/1/3' (repeatable: one flag per --profile, in order, or one for all)")
              ->allow_extra_args(false);
          app.add_option("--timing-cache", o->timing_cache, "Timing cache file: read if present, written back merged");
          app.add_option("--tactic-sources", o->tactic_sources,
                         "Switch tactic sources on/off, e.g. -cudnn,+cublaslt (reference, cpu, openblas, kiln, cublas, "
                         "cublaslt, cudnn)");
          app.add_option("--deny-tactic", o->deny,
                         "Exclude tactics 'LAYER_REGEX:SOURCE[:ID]' (SOURCE may be '*'; the regex must match the whole "
                         "layer name; repeatable)")
              ->allow_extra_args(false);
          app.add_flag("--refittable", o->refittable, "The engine can be refitted with new weights");
          app.add_option("--hardware-compat", o->hardware_compat, "same (default) or ampere+ (any sm >= 80 GPU)")
              ->check(CLI::IsMember({"same", "ampere+"}));
          app.add_flag("--version-compatible", o->version_compatible, "The plan may be loaded by later kiln versions");
          app.add_option("--workspace", o->workspace, "Largest tactic workspace: bytes or e.g. 512M, 1G (default 1G)");
          app.add_option("--opt-level", o->opt_level, "0 (no timing, no fusion) .. 5 (most candidates); default 3")
              ->check(CLI::Range(0, 5));
          app.add_option("--device", o->device, "gpu, cpu or auto (default: gpu when present)")
              ->check(CLI::IsMember({"gpu", "cpu", "auto"}));
          app.add_flag("--strip-weights", o->strip_weights, "With --refittable: leave the weights out of the plan");
          app.add_option("--dump-graph", o->dump_graph,
                         "Write the graph after each optimizer pass to this folder (NN_<pass>.txt)");
          app.add_option("--report", o->report, "Write the build report (JSON: per-layer candidates, times, choice)");
          return [o] { return runOneLineErrors([o] { return buildCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
