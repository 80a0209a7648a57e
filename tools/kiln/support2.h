// More of what the subcommands share (build, bench, inspect, refit, compare, cache, run):
// atomic file output and output paths checked up front, sizes and devices on the command
// line, optimization profiles, tactic sources, the --deny-tactic algorithm selector and build
// progress on the terminal.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/kiln.h"

namespace CLI {
class App;
}

namespace kiln::tool {

//! Writes `bytes` to a temporary file next to `path`, then renames it over `path`: readers
//! see the old file or the whole new one, and a failure leaves no file behind. kIo on error.
void writeFileAtomic(const std::string& path, std::span<const std::byte> bytes);
void writeFileAtomic(const std::string& path, const std::string& text);
//! The whole file; kIo naming it when it cannot be read.
std::vector<std::byte> readFileBytes(const std::string& path);
//! kIo naming the file when it does not exist (for inputs that must).
void requireFile(const std::string& path, const std::string& what);

//! For outputs written at the end of slow work (a plan, a report, a cache): kInvalidArgument,
//! "FLAG 'PATH': why", unless `path` can be written then: its folder exists and is writable
//! and `path` is not a folder. Creates nothing, so that a failed command leaves no file.
void requireWritableFile(const std::string& flag, const std::string& path);
//! The same for a folder created when missing (run --output-dir): it is a writable folder, or
//! the nearest folder above it that exists is writable and nothing in between is a file.
void requireWritableFolder(const std::string& flag, const std::string& path);

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

//! Build progress: one line redrawn in place ('\r', clear to end of line, cut to the
//! terminal's width) when stderr is a terminal (not TERM=dumb), plain lines otherwise (every
//! 10% and, when verbose, every layer), nothing when quiet. While it lives, kiln's log
//! messages are printed above the bar rather than into it. Cancels the build after SIGINT
//! (Ctrl-C), so that nothing half-built is written.
class BuildProgress : public ProgressMonitor, public ILogger {
 public:
  BuildProgress();
  ~BuildProgress() override;
  bool layerDone(int32_t done, int32_t total, const std::string& layer) override;
  void log(Severity severity, std::string_view message) noexcept override;
  //! Ends the bar's line (call after the build, whatever its outcome).
  void finish();

 private:
  void draw();
  std::mutex mutex_;
  bool tty_ = false;
  int columns_ = 80;
  std::string line_;  // the bar as last drawn, redrawn after a log message
  bool drawn_ = false;
  int last_decile_ = -1;
};

//! Shared build flags of `build` and `compare --all-layers`.
struct PrecisionFlags {
  bool fp16 = false;
  bool bf16 = false;
  bool tf32 = false;
  bool no_guard = false;
  std::vector<std::string> layer_precisions;  //!< GLOB:fp32|fp16|bf16
  std::string constraints = "obey";           //!< obey | prefer
  std::vector<std::string> calibration;       //!< NAME=FILE.npy
  //! Adds the precision flags to a subcommand (`what` prefixes their help, e.g. "--all-layers build: ").
  void addTo(CLI::App& app, const std::string& what = "");
  //! Throws kInvalidArgument naming a malformed flag or an unreadable calibration file.
  void apply(BuilderConfig& config) const;
};

//! Runs a subcommand with kiln's log level set from -v / -q; a kiln::Error whose message spans several lines is
//! rethrown as one line ("a; b; c"), so that every error is a single line on stderr.
int runOneLineErrors(const std::function<int()>& command);

}  // namespace kiln::tool
