#include "conformance/runner.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "passes/shape_inputs.h"
#include "runtime/network_impl.h"

namespace kiln::conformance {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> sortedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && e.path().extension() == ".pb") {
      try {
        files.push_back({std::stoi(n.substr(prefix.size())), e.path()});
      } catch (const std::exception&) {
      }
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<fs::path> out;
  for (auto& [i, p] : files) out.push_back(p);
  return out;
}

//! Machine epsilon of a floating-point type (0 for the others).
double epsilonOf(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return std::numeric_limits<float>::epsilon();
    case DataType::kDOUBLE: return std::numeric_limits<double>::epsilon();
    case DataType::kHALF: return 0.0009765625;  // 2^-10
    case DataType::kBF16: return 0.0078125;     // 2^-7
    default: return 0.0;
  }
}

// Empty string when equal within tolerance, else what differs. An element matches within
// atol + rtol * |expected|, or, for floating-point outputs, within a few units of rounding of
// the tensor's largest magnitude: expected values carry that much rounding themselves (a
// transform's near-zero outputs, say an inverse DFT's, are float32 noise of the whole signal).
std::string compare(const ir::Tensor& expected, const ir::Tensor& actual, double rtol, double atol) {
  if (expected.type() != actual.type())
    return "type " + std::string(toString(actual.type())) + ", expected " + std::string(toString(expected.type()));
  if (expected.shape() != actual.shape())
    return "shape " + toString(actual.shape()) + ", expected " + toString(expected.shape());
  std::vector<double> e = expected.toDouble();
  std::vector<double> a = actual.toDouble();
  double largest = 0.0;
  for (double v : e)
    if (std::isfinite(v)) largest = std::max(largest, std::fabs(v));
  const double rounding = 4.0 * epsilonOf(expected.type()) * largest;
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(a[i])) continue;
    if (e[i] == a[i]) continue;  // also equal infinities
    const double diff = std::fabs(a[i] - e[i]);
    if (!(diff <= atol + rtol * std::fabs(e[i]) || diff <= rounding)) {
      std::ostringstream os;
      os << std::setprecision(9) << "element " << i << " is " << a[i] << ", expected " << e[i];
      return os.str();
    }
  }
  return "";
}

// Older ONNX test data stores bfloat16 tensors as uint16 bit patterns.
ir::Tensor asType(ir::Tensor t, DataType type) {
  if (t.type() == DataType::kUINT16 && type == DataType::kBF16) {
    ir::Tensor b(DataType::kBF16, t.shape());
    std::copy(t.bytes().begin(), t.bytes().end(), b.bytes().begin());
    return b;
  }
  return t;
}

// Cases whose expected data kiln deliberately does not match, each with its reason. They
// count as unsupported.
const std::map<std::string, std::string>& knownDeviations() {
  static const std::map<std::string, std::string> cases = {
      {"test_cast_FLOAT_to_BFLOAT16",
       "the test data truncates float32 to bfloat16; kiln rounds to nearest even, as the Cast spec requires since "
       "opset 19 and as GPUs do"},
      {"test_castlike_BFLOAT16_to_FLOAT", "the test data's 'like' input has shape [1], the model declares [3,4]"},
      {"test_castlike_BFLOAT16_to_FLOAT_expanded",
       "the test data's 'like' input has shape [1], the model declares [3,4]"},
      {"test_castlike_FLOAT_to_BFLOAT16", "the test data's 'like' input has shape [1], the model declares [3,4]"},
      {"test_castlike_FLOAT_to_BFLOAT16_expanded",
       "the test data's 'like' input has shape [1], the model declares [3,4]"},
  };
  return cases;
}

// A profile that fixes every input at the case's shape and every shape input at the case's
// values: what a user of a model with shape inputs builds for one set of inputs.
OptimizationProfile caseProfile(const ir::Graph& graph, const std::map<std::string, ir::Tensor>& inputs) {
  OptimizationProfile profile;
  for (const auto& [name, value] : inputs) profile.setDimensions(name, {value.shape(), value.shape(), value.shape()});
  for (const passes::ShapeInput& s : passes::findShapeInputs(graph)) {
    const std::string& name = graph.tensors[s.tensor].name;
    if (auto it = inputs.find(name); it != inputs.end()) {
      const std::vector<int64_t> values = it->second.toInt64();
      profile.setShapeValues(name, values, values, values);
    }
  }
  return profile;
}

// Builds the graph into an engine for `device` and runs it once on `inputs`. A graph with
// shape inputs, whose build fails for want of their values, is built again for the case's.
std::map<std::string, ir::Tensor> runOnDevice(const ir::Graph& graph, const std::map<std::string, ir::Tensor>& inputs,
                                              DeviceKind device) {
  Network network;
  network.impl().graph = graph;
  BuilderConfig config;
  config.setDevice(device);
  config.setOptimizationLevel(1);
  const std::string where = device == DeviceKind::kGPU ? "on the GPU: " : "on the CPU: ";
  std::vector<std::byte> plan;
  bool shape_values = false;
  try {
    plan = Builder::buildSerializedNetwork(network, config);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kBuildFailed) throw Error(ErrorCode::kUnsupported, where + e.what());
    if (e.code() != ErrorCode::kInvalidArgument || passes::findShapeInputs(graph).empty()) throw;
    shape_values = true;
  }
  if (shape_values) {
    config.addOptimizationProfile(caseProfile(graph, inputs));
    try {
      plan = Builder::buildSerializedNetwork(network, config);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kBuildFailed || std::string(e.what()).find("setShapeValues") != std::string::npos)
        throw Error(ErrorCode::kUnsupported, where + e.what());
      throw;
    }
  }
  Engine engine = Engine::deserialize(plan);
  std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
  Stream stream(device);
  std::vector<DeviceBuffer> buffers;
  for (const auto& [name, value] : inputs) {
    if (engine.isShapeInput(name)) {
      context->setInputShapeValues(name, value.toInt64());
      continue;
    }
    context->setInputShape(name, value.shape());
    buffers.emplace_back(device, value.byteSize());
    stream.copyToDevice(buffers.back().data(), value.raw(), value.byteSize());
    context->setTensorAddress(name, buffers.back().data());
  }
  std::map<std::string, ir::Tensor> outputs;
  std::map<std::string, void*> out_ptrs;
  for (int id : graph.outputs) {
    const std::string& name = graph.tensors[id].name;
    if (outputs.count(name)) continue;
    Dims dims = context->tensorShape(name);
    outputs[name] = ir::Tensor(engine.tensorType(name), dims);
    buffers.emplace_back(device, outputs[name].byteSize());
    context->setTensorAddress(name, buffers.back().data());
    out_ptrs[name] = buffers.back().data();
  }
  context->enqueue(stream.handle());
  for (auto& [name, value] : outputs) stream.copyToHost(value.raw(), out_ptrs[name], value.byteSize());
  stream.synchronize();
  return outputs;
}

CaseResult runCase(const fs::path& dir, const Options& options) {
  CaseResult result{.name = dir.filename().string()};
  if (auto it = knownDeviations().find(result.name); it != knownDeviations().end()) {
    result.outcome = Outcome::kUnsupported;
    result.detail = "known deviation: " + it->second;
    result.op = "(known deviations)";
    return result;
  }
  try {
    ir::Graph graph = onnx::importFile(dir / "model.onnx");
    std::set<std::string> ops;
    for (const auto& n : graph.nodes) ops.insert(n.op);
    for (const auto& s : ops) result.op += (result.op.empty() ? "" : "+") + s;
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw Error(ErrorCode::kInvalidArgument, "no test_data_set_* folder");
    for (const auto& set : sets) {
      std::vector<fs::path> in_files = sortedFiles(set, "input_");
      std::vector<fs::path> out_files = sortedFiles(set, "output_");
      if (in_files.size() != graph.inputs.size())
        throw Error(ErrorCode::kInvalidArgument, set.filename().string() + " has " + std::to_string(in_files.size()) +
                                                     " inputs, the model takes " + std::to_string(graph.inputs.size()));
      if (out_files.size() != graph.outputs.size())
        throw Error(ErrorCode::kInvalidArgument, set.filename().string() + " has " + std::to_string(out_files.size()) +
                                                     " outputs, the model makes " +
                                                     std::to_string(graph.outputs.size()));
      std::map<std::string, ir::Tensor> inputs;
      for (size_t i = 0; i < in_files.size(); ++i)
        inputs[graph.tensors[graph.inputs[i]].name] =
            asType(onnx::readTensorFile(in_files[i]), graph.tensors[graph.inputs[i]].type);
      std::map<std::string, ir::Tensor> outputs =
          !options.engine ? cpu::runReference(graph, inputs) : runOnDevice(graph, inputs, options.device);
      for (size_t i = 0; i < out_files.size(); ++i) {
        const std::string& name = graph.tensors[graph.outputs[i]].name;
        auto it = outputs.find(name);
        if (it == outputs.end()) throw Error(ErrorCode::kInternal, "output '" + name + "' was not computed");
        ir::Tensor expected = asType(onnx::readTensorFile(out_files[i]), it->second.type());
        std::string diff = compare(expected, it->second, options.rtol, options.atol);
        if (!diff.empty()) {
          result.outcome = Outcome::kFailed;
          result.detail = set.filename().string() + ": output '" + name + "': " + diff;
          return result;
        }
      }
    }
  } catch (const Error& e) {
    result.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
    result.detail = e.what();
  } catch (const std::exception& e) {
    result.outcome = Outcome::kFailed;
    result.detail = std::string("exception: ") + e.what();
  }
  if (result.op.empty()) result.op = "(" + result.name + ")";
  return result;
}

}  // namespace

Summary run(const Options& options) {
  Summary summary;
  std::optional<std::regex> filter;
  if (!options.filter.empty()) {
    try {
      filter.emplace(options.filter);
    } catch (const std::regex_error& e) {
      throw Error(ErrorCode::kInvalidArgument, "--filter '" + options.filter + "' is not a valid regular expression");
    }
  }
  for (const auto& root : options.roots) {
    if (!fs::is_directory(root)) throw Error(ErrorCode::kIo, root.string() + ": not a folder");
    std::vector<fs::path> dirs;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().filename() == "model.onnx") dirs.push_back(e.path().parent_path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& dir : dirs) {
      if (filter && !std::regex_search(dir.filename().string(), *filter)) continue;
      CaseResult r = runCase(dir, options);
      if (r.outcome == Outcome::kPassed) ++summary.passed;
      else if (r.outcome == Outcome::kFailed) ++summary.failed;
      else ++summary.unsupported;
      summary.cases.push_back(std::move(r));
    }
  }
  return summary;
}

void printReport(const Summary& summary, std::ostream& out, bool verbose) {
  struct Row {
    int passed = 0, failed = 0, unsupported = 0;
  };
  std::map<std::string, Row> rows;
  for (const auto& c : summary.cases) {
    // Cases whose model did not import are grouped under their reason's first word.
    std::string key = c.op;
    Row& r = rows[key];
    if (c.outcome == Outcome::kPassed) ++r.passed;
    else if (c.outcome == Outcome::kFailed) ++r.failed;
    else ++r.unsupported;
  }
  size_t width = 8;
  for (const auto& [op, r] : rows) width = std::max(width, std::min<size_t>(op.size(), 48));
  out << std::left << std::setw(static_cast<int>(width)) << "operator"
      << "  passed  failed  unsupported\n";
  for (const auto& [op, r] : rows)
    out << std::left << std::setw(static_cast<int>(width)) << op << std::right << "  " << std::setw(6) << r.passed
        << "  " << std::setw(6) << r.failed << "  " << std::setw(11) << r.unsupported << "\n";
  for (const auto& c : summary.cases) {
    if (c.outcome == Outcome::kFailed) out << "FAILED " << c.name << ": " << c.detail << "\n";
    else if (verbose && c.outcome == Outcome::kUnsupported) {
      std::string d = c.detail;
      std::replace(d.begin(), d.end(), '\n', ' ');
      out << "unsupported " << c.name << ": " << d << "\n";
    }
  }
  out << "conformance: " << summary.passed << " passed, " << summary.failed << " failed, " << summary.unsupported
      << " unsupported\n";
}

}  // namespace kiln::conformance
