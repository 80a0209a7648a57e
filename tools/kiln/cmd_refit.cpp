// kiln refit ENGINE.plan --weights FILE -o OUT.plan: new weights for a refittable plan.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

struct RefitOptions {
  std::string plan;
  std::string weights;
  std::string output;
};

std::string joinNames(const std::vector<std::string>& names, size_t limit = 8) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return out;
}

int refitCommand(const RefitOptions& o) {
  requireFile(o.plan, "plan");
  requireFile(o.weights, "weights file");
  namespace fs = std::filesystem;
  if (fs::absolute(o.output) == fs::absolute(o.weights))
    throw Error(ErrorCode::kInvalidArgument, "-o " + o.output + " would overwrite the weights file");
  requireWritableFile("-o", o.output);
  std::map<std::string, NamedWeight> weights = readWeightsFile(o.weights);
  // A weight-stripped plan loads with the new weights; refit below then checks and applies them.
  Engine engine = [&] {
    try {
      return Engine::load(o.plan, WeightsSource{""});
    } catch (const Error& e) {
      if (std::string(e.what()).find("without its weights") == std::string::npos) throw;
      return Engine::load(o.plan, WeightsSource{o.weights});
    }
  }();
  if (!engine.refittable())
    throw Error(ErrorCode::kInvalidArgument, o.plan + " is not refittable (build it with --refittable)");
  Refitter refitter(engine);
  std::vector<std::string> names = refitter.weightNames();
  std::vector<std::string> given, kept;
  for (const std::string& name : names) {
    auto it = weights.find(name);
    if (it == weights.end()) {
      kept.push_back(name);
      continue;
    }
    refitter.setNamedWeights(name, it->second.type, it->second.dims, it->second.values);
    given.push_back(name);
  }
  std::set<std::string> known(names.begin(), names.end());
  std::vector<std::string> unknown;
  for (const auto& [name, w] : weights)
    if (!known.count(name)) unknown.push_back(name);
  if (given.empty())
    throw Error(ErrorCode::kInvalidArgument, o.weights + " holds none of the engine's " + std::to_string(names.size()) +
                                                 " weights (" + joinNames(names, 4) + ")");
  std::vector<std::string> missing = refitter.missingWeights();
  if (!missing.empty())
    throw Error(ErrorCode::kInvalidArgument, "weights missing from " + o.weights +
                                                 " that must be given together with the ones it holds: " +
                                                 joinNames(missing, 16) + " (no plan written)");
  std::vector<std::string> updated = refitter.refit();
  engine.save(o.output);  // atomic: a temporary file renamed over OUT

  if (verbosity() == Verbosity::kQuiet) return 0;
  std::cout << "kiln refit " << o.plan << " with " << o.weights << " -> " << o.output << "\n";
  std::cout << "  updated: " << updated.size() << " of " << names.size() << " weights\n";
  for (const std::string& n : updated) std::cout << "    " << n << "\n";
  std::cout << "  missing (not in " << fs::path(o.weights).filename().string() << ", old values kept): " << kept.size()
            << "\n";
  for (const std::string& n : kept) std::cout << "    " << n << "\n";
  if (engine.weightsStripped())
    std::cout << "  note: the plan is weight-stripped, and so is " << o.output << ": load it with --weights\n";
  if (!unknown.empty()) {
    std::cout << "  ignored (not weights of the engine): " << unknown.size() << "\n";
    if (verbosity() == Verbosity::kVerbose)
      for (const std::string& n : unknown) std::cout << "    " << n << "\n";
  }
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "refit",
    .help = "Put new weights into a refittable plan without rebuilding it",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<RefitOptions>();
          app.add_option("plan", o->plan, "ENGINE.plan (built with --refittable)")->required();
          app.add_option("--weights", o->weights, "New weights: FILE.onnx (initializers) or FILE.safetensors")
              ->required();
          app.add_option("-o,--output", o->output, "OUT.plan to write (atomically)")->required();
          return [o] { return runOneLineErrors([o] { return refitCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
