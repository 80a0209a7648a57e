// kiln cache inspect FILE; kiln cache merge A B... -o OUT: timing cache files.
#include <algorithm>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

using Json = nlohmann::ordered_json;

struct CacheOptions {
  std::string file;
  bool json = false;
  std::vector<std::string> inputs;
  std::string output;
};

TimingCache loadExisting(const std::string& path) {
  requireFile(path, "timing cache");
  return TimingCache::load(path);
}

int inspectCache(const CacheOptions& o) {
  TimingCache cache = loadExisting(o.file);
  std::vector<TimingCacheEntry> entries = cache.entries();
  std::map<std::string, size_t> devices;
  for (const auto& e : entries) ++devices[e.device];
  if (o.json) {
    Json j = {{"file", o.file}, {"entries", Json::array()}, {"devices", Json::object()}};
    for (const auto& [d, n] : devices) j["devices"][d] = n;
    for (const auto& e : entries) {
      Json t = Json::array();
      for (const auto& x : e.timings)
        t.push_back({{"tactic_id", x.tactic_id}, {"tactic", x.tactic}, {"time_ms", x.time_ms}});
      j["entries"].push_back({{"key", e.key}, {"device", e.device}, {"timings", t}});
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "timing cache " << o.file << ": " << entries.size() << " entries\n";
  std::cout << "devices:\n";
  for (const auto& [d, n] : devices) std::cout << "  " << d << ": " << n << " entries\n";
  const bool verbose = verbosity() == Verbosity::kVerbose;
  if (verbosity() == Verbosity::kQuiet) return 0;
  std::cout << "entries (fastest tactic; -v lists every timing):\n";
  for (const auto& e : entries) {
    const TacticTiming* best = nullptr;
    for (const auto& t : e.timings)
      if (t.time_ms >= 0 && (!best || t.time_ms < best->time_ms)) best = &t;
    std::cout << "  " << e.key << "\n    " << e.timings.size() << " timed, fastest "
              << (best ? best->tactic + " " + formatMs(best->time_ms) : std::string("none (all failed)")) << "\n";
    if (verbose)
      for (const auto& t : e.timings)
        std::cout << "      " << t.tactic << " (id " << t.tactic_id
                  << "): " << (t.time_ms < 0 ? std::string("failed") : formatMs(t.time_ms)) << "\n";
  }
  return 0;
}

int mergeCaches(const CacheOptions& o) {
  if (o.inputs.size() < 2) throw Error(ErrorCode::kInvalidArgument, "cache merge needs at least two input files");
  requireWritableFile("-o", o.output);
  TimingCache merged;
  for (const std::string& in : o.inputs) merged.combine(loadExisting(in));
  merged.save(o.output);  // atomic
  if (verbosity() != Verbosity::kQuiet)
    std::cout << "merged " << o.inputs.size() << " timing caches into " << o.output << ": " << merged.size()
              << " entries\n";
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "cache",
    .help = "Inspect or merge timing cache files",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<CacheOptions>();
          app.require_subcommand(1);
          CLI::App* inspect = app.add_subcommand("inspect", "List a timing cache's entries and devices");
          inspect->fallthrough();
          inspect->add_option("file", o->file, "Timing cache file")->required();
          inspect->add_flag("--json", o->json, "JSON output");
          CLI::App* merge = app.add_subcommand("merge", "Merge timing caches (on conflict the faster time wins)");
          merge->fallthrough();
          merge->add_option("inputs", o->inputs, "Timing cache files (two or more)")->required();
          merge->add_option("-o,--output", o->output, "Merged cache file to write (atomically)")->required();
          return [o, inspect] {
            return runOneLineErrors([&] { return inspect->parsed() ? inspectCache(*o) : mergeCaches(*o); });
          };
        },
});

}  // namespace
}  // namespace kiln::tool
