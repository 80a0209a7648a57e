#include "support2.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "commands.h"
#include "support.h"

namespace kiln::tool {

namespace fs = std::filesystem;

void writeFileAtomic(const std::string& path, std::span<const std::byte> bytes) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kIo, path + ": folder " + dir.string() + " does not exist");
  std::random_device rd;
  fs::path temp =
      dir / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::kIo, path + ": cannot write (" + std::strerror(errno) + ")");
  bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(::fileno(f)) == 0 && ok;
  int saved = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    fs::remove(temp, ec);
    throw Error(ErrorCode::kIo, path + ": write failed (" + std::strerror(saved) + ")");
  }
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw Error(ErrorCode::kIo, path + ": cannot replace (" + ec.message() + ")");
  }
}

void writeFileAtomic(const std::string& path, const std::string& text) {
  writeFileAtomic(path, std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

void requireFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::kIo, what + " '" + path + "' does not exist");
  if (fs::is_directory(path, ec)) throw Error(ErrorCode::kIo, what + " '" + path + "' is a folder, not a file");
}

namespace {
// `dir` (an existing folder) can take new files: the temporary file and the rename need
// write and search permission on it.
void requireWritableDir(const std::string& flag, const std::string& path, const fs::path& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(ErrorCode::kInvalidArgument,
                flag + " '" + path + "': folder '" + dir.string() + "' is not writable (" + std::strerror(errno) + ")");
}
}  // namespace

void requireWritableFile(const std::string& flag, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, flag + " '" + path + "': " + why);
  };
  if (path.empty()) throw bad("empty path");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw bad("it is a folder, not a file");
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::exists(dir, ec)) throw bad("folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw bad("'" + dir.string() + "' is not a folder");
  requireWritableDir(flag, path, dir);
}

void requireWritableFolder(const std::string& flag, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, flag + " '" + path + "': " + why);
  };
  if (path.empty()) throw bad("empty path");
  // create_directories makes every missing folder below the nearest one that exists.
  std::error_code ec;
  fs::path dir = fs::path(path).lexically_normal();
  while (!dir.empty() && !fs::exists(dir, ec)) dir = dir.has_relative_path() ? dir.parent_path() : fs::path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) throw bad("'" + dir.string() + "' is a file, not a folder");
  requireWritableDir(flag, path, dir);
}

std::vector<std::byte> readFileBytes(const std::string& path) {
  requireFile(path, "file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  in.seekg(0, std::ios::end);
  std::vector<std::byte> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw Error(ErrorCode::kIo, path + ": read failed");
  return bytes;
}

size_t parseSize(const std::string& text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument, "bad size '" + text + "' (expected bytes or e.g. 512M, 1G, 64K)");
  };
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  if (value < 0 || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw bad();
  std::string unit = text.substr(used);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();  // "MB", "GiB"
  if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
  double scale = 1;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k") scale = 1024.0;
  else if (unit == "m") scale = 1024.0 * 1024;
  else if (unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
  else throw bad();
  double bytes = value * scale;
  if (bytes > 1.8e19) throw bad();
  return static_cast<size_t>(bytes);
}

DeviceKind parseDeviceOption(const std::string& text) {
  if (text == "cpu") return DeviceKind::kCPU;
  if (text == "gpu") {
    if (!Builder::gpuAvailable())
      throw Error(ErrorCode::kInvalidArgument, "--device gpu: no usable CUDA GPU here (use --device cpu)");
    return DeviceKind::kGPU;
  }
  if (text == "auto" || text.empty()) return Builder::gpuAvailable() ? DeviceKind::kGPU : DeviceKind::kCPU;
  throw Error(ErrorCode::kInvalidArgument, "--device '" + text + "': expected gpu, cpu or auto");
}

OptimizationProfile parseProfile(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "bad --profile '" + text + "': " + why +
                     " (expected 'INPUT:MIN,OPT,MAX[;INPUT2:...]', e.g. 'image:1x3x224x224,8x3x224x224,16x3x224x224')");
  };
  OptimizationProfile profile;
  std::stringstream ss(text);
  std::string item;
  int count = 0;
  while (std::getline(ss, item, ';')) {
    if (item.empty()) continue;
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) throw bad("'" + item + "' has no INPUT: prefix");
    std::string name = item.substr(0, colon);
    std::vector<std::string> parts;
    std::stringstream ds(item.substr(colon + 1));
    std::string part;
    while (std::getline(ds, part, ',')) parts.push_back(part);
    if (parts.size() != 3)
      throw bad("input '" + name + "' needs three shapes MIN,OPT,MAX, got " + std::to_string(parts.size()));
    ProfileDims pd;
    try {
      pd = {parseDims(parts[0]), parseDims(parts[1]), parseDims(parts[2])};
    } catch (const Error& e) {
      throw bad(e.what());
    }
    if (pd.min.empty() && !parts[0].empty() && parts[0] != "scalar") throw bad("empty shape");
    if (pd.min.size() != pd.opt.size() || pd.opt.size() != pd.max.size())
      throw bad("input '" + name + "': MIN, OPT and MAX have different ranks");
    for (size_t i = 0; i < pd.min.size(); ++i)
      if (pd.min[i] > pd.opt[i] || pd.opt[i] > pd.max[i])
        throw bad("input '" + name + "': dimension " + std::to_string(i) + " is not MIN <= OPT <= MAX");
    if (profile.hasDimensions(name)) throw bad("input '" + name + "' is given twice");
    profile.setDimensions(name, pd);
    ++count;
  }
  if (count == 0) throw bad("no input");
  return profile;
}

void applyTacticSources(const std::string& text, BuilderConfig& config) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool on = true;
    if (item[0] == '+' || item[0] == '-') {
      on = item[0] == '+';
      item = item.substr(1);
    }
    TacticSource source;
    if (!parseTacticSource(item, source)) {
      std::string known;
      for (int32_t i = 0; i < kNumTacticSources; ++i)
        known += (i ? ", " : "") + std::string(toString(static_cast<TacticSource>(i)));
      throw Error(ErrorCode::kInvalidArgument,
                  "--tactic-sources: unknown source '" + item + "' (known: " + known + ")");
    }
    config.setTacticSource(source, on);
  }
}

void DenyTacticSelector::addRule(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "bad --deny-tactic '" + text + "': " + why +
                                                  " (expected 'LAYER_REGEX:SOURCE[:ID]', e.g. 'conv.*:cudnn')");
  };
  // Split from the right: the regex itself may hold ':'.
  Rule rule{.text = text};
  std::string rest = text;
  size_t c1 = rest.rfind(':');
  if (c1 == std::string::npos) throw bad("no ':SOURCE'");
  std::string last = rest.substr(c1 + 1);
  std::string before = rest.substr(0, c1);
  TacticSource src;
  auto isSource = [&](const std::string& s) { return s == "*" || s == "any" || parseTacticSource(s, src); };
  size_t c0 = before.rfind(':');
  if (c0 != std::string::npos && isSource(before.substr(c0 + 1)) && !isSource(last)) {
    // LAYER:SOURCE:ID
    std::string id = last;
    try {
      size_t used = 0;
      rule.id = std::stoull(id, &used, 0);
      if (used != id.size()) throw std::invalid_argument(id);
    } catch (const std::exception&) {
      throw bad("tactic id '" + id + "' is not a number");
    }
    rule.has_id = true;
    last = before.substr(c0 + 1);
    before = before.substr(0, c0);
  }
  if (last == "*" || last == "any") {
    rule.any_source = true;
  } else if (!parseTacticSource(last, rule.source)) {
    throw bad("unknown tactic source '" + last + "'");
  }
  if (before.empty()) throw bad("empty layer pattern");
  try {
    rule.layer = std::regex(before, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw bad("layer pattern is not a valid regex (" + std::string(e.what()) + ")");
  }
  rules_.push_back(std::move(rule));
}

std::vector<size_t> DenyTacticSelector::selectAlgorithms(const std::string& layer, const std::string& /*op*/,
                                                         int32_t /*profile*/, std::span<const TacticInfo> candidates) {
  std::vector<size_t> allowed;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const TacticInfo& c = candidates[i];
    const Rule* denied_by = nullptr;
    for (const Rule& r : rules_) {
      if (!r.any_source && r.source != c.source) continue;
      if (r.has_id && r.id != c.id) continue;
      if (!std::regex_match(layer, r.layer)) continue;
      denied_by = &r;
      break;
    }
    if (denied_by) {
      log(Severity::kVERBOSE, "layer '" + layer + "': tactic " + c.name + " (" + std::string(toString(c.source)) +
                                  ", id " + std::to_string(c.id) + ") denied by --deny-tactic '" + denied_by->text +
                                  "'");
      continue;
    }
    allowed.push_back(i);
  }
  return allowed;
}

namespace {
std::atomic<bool> g_interrupted{false};
void onInterrupt(int) { g_interrupted = true; }

// The terminal's width, so that the bar never wraps: '\r' only returns to the start of the
// last screen line, and a wrapped bar would leave a trail of copies.
int terminalColumns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char* env = std::getenv("COLUMNS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 80;
}

// A terminal that cannot clear a line ("dumb", e.g. an editor's output pane) gets plain lines.
bool canRedraw() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) != 0 && !(term && std::string_view(term) == "dumb");
}
}  // namespace

BuildProgress::BuildProgress() {
  tty_ = canRedraw();
  if (tty_) columns_ = terminalColumns();
  g_interrupted = false;
  std::signal(SIGINT, onInterrupt);
  if (tty_) setLogger(this);
}

BuildProgress::~BuildProgress() {
  finish();
  if (tty_) setLogger(nullptr);
  std::signal(SIGINT, SIG_DFL);
}

bool BuildProgress::layerDone(int32_t done, int32_t total, const std::string& layer) {
  if (g_interrupted) return false;
  if (verbosity() == Verbosity::kQuiet || total <= 0) return true;
  const int percent = static_cast<int>(100LL * done / total);
  std::lock_guard<std::mutex> lock(mutex_);
  if (tty_) {
    char head[64];
    std::snprintf(head, sizeof head, "building %3d%% %d/%d ", percent, done, total);
    line_ = head;
    // The bar gets what is left after the numbers and ~20 columns of layer name, at most 30;
    // too narrow a terminal gets no bar. One column stays free: writing the last one makes
    // some terminals wrap at once.
    const int bar = std::min(30, columns_ - 1 - static_cast<int>(line_.size()) - 3 - 20);
    if (bar >= 10) {
      const int filled = bar * done / total;
      line_ += "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "] ";
    }
    line_ += layer;
    if (static_cast<int>(line_.size()) >= columns_) line_.resize(std::max(0, columns_ - 1));
    draw();
  } else if (verbosity() == Verbosity::kVerbose) {
    std::fprintf(stderr, "building: %d/%d layers (%d%%) %s\n", done, total, percent, layer.c_str());
  } else if (percent / 10 > last_decile_) {
    last_decile_ = percent / 10;
    std::fprintf(stderr, "building: %d/%d layers (%d%%)\n", done, total, percent);
  }
  return true;
}

void BuildProgress::draw() {
  std::fprintf(stderr, "\r\033[K%s", line_.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void BuildProgress::log(Severity severity, std::string_view message) noexcept {
  // As the default logger would (same level, same format), on a line of its own above the bar.
  if (static_cast<int>(severity) > static_cast<int>(logLevel())) return;
  static const char* kNames[] = {"error", "warning", "info", "verbose"};
  std::lock_guard<std::mutex> lock(mutex_);
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "kiln: %s: %.*s\n", kNames[static_cast<int>(severity)], static_cast<int>(message.size()),
               message.data());
  if (drawn_) draw();
  else std::fflush(stderr);
}

void BuildProgress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (drawn_) {
    std::fprintf(stderr, "\n");
    drawn_ = false;
  }
}

void PrecisionFlags::addTo(CLI::App& app, const std::string& what) {
  app.add_flag("--fp16", fp16, what + "allow float16 tactics");
  app.add_flag("--bf16", bf16, what + "allow bfloat16 tactics");
  app.add_flag("--tf32", tf32, what + "allow TF32 tensor cores for float32 (GPU)");
  app.add_flag("--no-precision-guard", no_guard,
               what + "with --fp16/--bf16: do not pin to float32 the layers that overflow, underflow or stray");
  app.add_option("--layer-precision", layer_precisions,
                 what + "GLOB:fp32|fp16|bf16 (repeatable): layers whose name matches compute in that precision");
  app.add_option("--precision-constraints", constraints,
                 what + "obey (default: --layer-precision binds) or prefer (the precision guard may pin to float32)")
      ->check(CLI::IsMember({"obey", "prefer"}));
  app.add_option("--calibration-input", calibration,
                 what + "NAME=FILE.npy (repeatable): a sample input for the precision guard");
}

void PrecisionFlags::apply(BuilderConfig& config) const {
  if (fp16 && bf16) throw Error(ErrorCode::kInvalidArgument, "--fp16 and --bf16 exclude each other");
  if (fp16) config.setFlag(BuilderFlag::kFP16);
  if (bf16) config.setFlag(BuilderFlag::kBF16);
  if (tf32) config.setFlag(BuilderFlag::kTF32);
  config.setPrecisionGuard(!no_guard);
  const PrecisionMode mode = constraints == "prefer" ? PrecisionMode::kPREFER : PrecisionMode::kOBEY;
  for (const std::string& spec : layer_precisions) {
    const size_t colon = spec.rfind(':');
    const std::string glob = colon == std::string::npos ? "" : spec.substr(0, colon);
    const std::string type = colon == std::string::npos ? "" : spec.substr(colon + 1);
    DataType precision = DataType::kFLOAT;
    if (type == "fp16") precision = DataType::kHALF;
    else if (type == "bf16") precision = DataType::kBF16;
    else if (type != "fp32" || glob.empty())
      throw Error(ErrorCode::kInvalidArgument, "--layer-precision '" + spec + "': expected GLOB:fp32, GLOB:fp16 or GLOB:bf16");
    config.setLayerPrecision(glob, precision, mode);
  }
  for (const std::string& spec : calibration) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw Error(ErrorCode::kInvalidArgument, "--calibration-input '" + spec + "': expected NAME=FILE.npy");
    HostTensor t = readNpy(spec.substr(eq + 1));
    config.addCalibrationInput({.name = spec.substr(0, eq), .type = t.type, .shape = t.dims, .data = std::move(t.bytes)});
  }
}

int runOneLineErrors(const std::function<int()>& command) {
  // kiln's own log follows -v / -q (main.cpp only records them).
  setLogLevel(verbosity() == Verbosity::kVerbose ? Severity::kVERBOSE
              : verbosity() == Verbosity::kQuiet ? Severity::kERROR
                                                 : Severity::kWARNING);
  try {
    return command();
  } catch (const Error& e) {
    std::string text = e.what();
    if (text.find('\n') == std::string::npos) throw;
    std::string line;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part)) {
      size_t b = part.find_first_not_of(" \t");
      if (b == std::string::npos) continue;
      part = part.substr(b);
      if (!line.empty()) line += (line.back() == ':' ? " " : "; ");
      line += part;
    }
    throw Error(e.code(), line);
  }
}

}  // namespace kiln::tool
