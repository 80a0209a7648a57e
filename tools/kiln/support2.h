// More of what the subcommands share (build, bench, inspect, refit, compare, cache): atomic
// file output, sizes and devices on the command line, optimization profiles, tactic sources,
// the --deny-tactic algorithm selector and build progress on the terminal.
#pragma once

#include <cstddef>
#include <functional>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::tool {

//! Writes `bytes` to a temporary file next to `path`, then renames it over `path`: readers
//! see the old file or the whole new one, and a failure leaves no file behind. kIo on error.
void writeFileAtomic(const std::string& path, std::span<const std::byte> bytes);
void writeFileAtomic(const std::string& path, const std::string& text);
//! The whole file; kIo naming it when it cannot be read.
std::vector<std::byte> readFileBytes(const std::string& path);
//! kIo naming the file when it does not exist (for inputs that must).
void requireFile(const std::string& path, const std::string& what);

//! "512M", "1G", "64k", "1.5GiB", "1048576" -> bytes (binary units). kInvalidArgument.
size_t parseSize(const std::string& text);

//! "gpu", "cpu" or "auto" (a GPU when one is present). "gpu" without one is kInvalidArgument.
DeviceKind parseDeviceOption(const std::string& text);

//! One --profile value: 'INPUT:MIN,OPT,MAX[;INPUT2:MIN,OPT,MAX]' with dims like 1x3x224x224.
OptimizationProfile parseProfile(const std::string& text);

//! "-cudnn,+cublaslt,openblas" (no sign: on) applied to `config`. kInvalidArgument naming
//! an unknown source and listing the known ones.
void applyTacticSources(const std::string& text, BuilderConfig& config);

//! The --deny-tactic list, as an algorithm selector. A rule 'LAYER_REGEX:SOURCE[:ID]' denies,
//! on every layer whose name matches LAYER_REGEX as a whole, the tactics of SOURCE ("*" for
//! any source), or only the one with tactic id ID (decimal or 0x hex) when given.
class DenyTacticSelector : public AlgorithmSelector {
 public:
  void addRule(const std::string& text);
  bool empty() const { return rules_.empty(); }
  std::vector<size_t> selectAlgorithms(const std::string& layer, const std::string& op, int32_t profile,
                                       std::span<const TacticInfo> candidates) override;

 private:
  struct Rule {
    std::string text;
    std::regex layer;
    bool any_source = false;
    TacticSource source = TacticSource::kREFERENCE;
    bool has_id = false;
    uint64_t id = 0;
  };
  std::vector<Rule> rules_;
};

//! Build progress: a bar redrawn in place when stderr is a terminal, plain lines otherwise
//! (every 10% and, when verbose, every layer), nothing when quiet. Cancels the build after
//! SIGINT (Ctrl-C), so that nothing half-built is written.
class BuildProgress : public ProgressMonitor {
 public:
  BuildProgress();
  ~BuildProgress() override;
  bool layerDone(int32_t done, int32_t total, const std::string& layer) override;
  //! Ends the bar's line (call after the build, whatever its outcome).
  void finish();

 private:
  bool tty_ = false;
  bool drawn_ = false;
  int last_decile_ = -1;
};

//! Shared build flags of `build` and `compare --all-layers`.
struct PrecisionFlags {
  bool fp16 = false;
  bool bf16 = false;
  bool tf32 = false;
  void apply(BuilderConfig& config) const;
};

//! Runs a subcommand with kiln's log level set from -v / -q; a kiln::Error whose message spans several lines is
//! rethrown as one line ("a; b; c"), so that every error is a single line on stderr.
int runOneLineErrors(const std::function<int()>& command);

}  // namespace kiln::tool
