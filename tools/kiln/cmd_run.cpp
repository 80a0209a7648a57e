// kiln run ENGINE.plan|MODEL.onnx: run once on given or random inputs; print a summary.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

struct RunOptions {
  std::string path;
  std::vector<std::string> shapes;
  std::string shape_values;
  std::vector<std::string> inputs;
  std::string output_dir;
  std::string weights;
  std::string device = "auto";
  int iterations = 10;
};

DeviceKind parseDevice(const std::string& d) {
  if (d == "gpu") return DeviceKind::kGPU;
  if (d == "cpu") return DeviceKind::kCPU;
  return Builder::gpuAvailable() ? DeviceKind::kGPU : DeviceKind::kCPU;
}

int runCommand(const RunOptions& o) {
  std::map<std::string, Dims> shapes;
  for (const auto& s : o.shapes) parseShapes(s, shapes);
  GivenInputs given = readGivenInputs(o.inputs);
  const ShapeValues values = o.shape_values.empty() ? ShapeValues{} : parseShapeValues(o.shape_values);
  for (const auto& [name, t] : given.tensors)
    if (!shapes.count(name)) shapes[name] = t.dims;
  // Checked now, not when the outputs are saved after the (possibly long) build and run.
  if (!o.output_dir.empty()) requireWritableFolder("--output-dir", o.output_dir);
  const bool quiet = verbosity() == Verbosity::kQuiet;
  auto t0 = std::chrono::steady_clock::now();
  std::string report;
  Engine engine = [&] {
    BuildProgress progress;  // only while building: it holds Ctrl-C back to cancel the build
    return loadOrBuild(o.path, shapes, parseDevice(o.device), o.weights, &report, given, &progress, values);
  }();
  double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kINPUT || engine.isShapeInput(name)) continue;
    auto it = shapes.find(name);
    Dims dims = it != shapes.end() ? it->second : engine.profileDims(name, 0).opt;
    context->setInputShape(name, dims);
  }
  setShapeValues(engine, *context, values, given);
  IoBuffers io(engine, *context);
  Stream stream(engine.device());
  io.setInputs(given.tensors, stream);
  context->enqueue(stream.handle());  // first run (warm-up, resolves shapes)
  stream.synchronize();
  std::vector<double> times;
  for (int i = 0; i < std::max(1, o.iterations); ++i) {
    auto s = std::chrono::steady_clock::now();
    context->enqueue(stream.handle());
    stream.synchronize();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  io.downloadOutputs(stream);
  stream.synchronize();
  std::sort(times.begin(), times.end());

  if (!o.output_dir.empty()) {
    std::filesystem::create_directories(o.output_dir);
    for (const auto& name : io.outputNames()) {
      std::string file = name;
      std::replace_if(file.begin(), file.end(), [](char c) { return c == '/' || c == ':'; }, '_');
      writeNpy((std::filesystem::path(o.output_dir) / (file + ".npy")).string(), io.output(name));
    }
  }
  if (quiet) return 0;
  const bool gpu = engine.device() == DeviceKind::kGPU;
  std::cout << "kiln run " << o.path << "\n";
  std::cout << "  device:   " << (gpu ? "GPU " : "CPU ") << engine.compatibility().architecture << "\n";
  if (isOnnxModel(o.path)) std::cout << "  build:    " << formatMs(build_ms) << "\n";
  else std::cout << "  load:     " << formatMs(build_ms) << "\n";
  std::cout << "  layers:   " << engine.layers().size() << "\n";
  const int32_t profile = context->optimizationProfile();
  std::cout << "  memory:   weights " << formatBytes(engine.weightsSize()) << ", activations "
            << formatBytes(engine.activationSize(profile)) << " (without reuse "
            << formatBytes(engine.deviceMemorySizeWithoutReuse(profile) - engine.workspaceSize(profile))
            << "), workspace " << formatBytes(engine.workspaceSize(profile)) << "\n";
  for (const auto& name : io.inputNames())
    std::cout << "  input:    " << name << " " << toString(engine.tensorType(name)) << " " << toString(context->tensorShape(name)) << "\n";
  for (const auto& name : io.outputNames()) {
    HostTensor t = io.output(name);
    std::cout << "  output:   " << name << " " << toString(t.type) << " " << toString(t.dims);
    if (t.type == DataType::kFLOAT && !t.bytes.empty()) {
      const float* v = reinterpret_cast<const float*>(t.bytes.data());
      size_t n = t.bytes.size() / 4;
      size_t arg = std::max_element(v, v + n) - v;
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += v[i];
      std::cout << "  sum " << sum << ", max " << v[arg] << " at " << arg;
    }
    std::cout << "\n";
  }
  std::cout << "  latency:  min " << formatMs(times.front()) << ", median " << formatMs(times[times.size() / 2]) << ", max "
            << formatMs(times.back()) << " over " << times.size() << " runs\n";
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "run",
    .help = "Run an engine (or build one from an ONNX model) on given or random inputs",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<RunOptions>();
          app.add_option("engine", o->path, "ENGINE.plan or MODEL.onnx")->required();
          app.add_option("--shapes", o->shapes, "Input shapes NAME:1x3x224x224 (repeatable, or comma-separated)");
          app.add_option("--shape-values", o->shape_values,
                         "Values of shape inputs 'INPUT:V1,V2,...[;INPUT2:...]' (default: an --input file given "
                         "for one, else the engine's profile values)");
          app.add_option("--input", o->inputs, "Input values NAME=FILE.npy (repeatable); random where none is given");
          app.add_option("--output-dir", o->output_dir, "Save each output as NAME.npy in this folder");
          app.add_option("--weights", o->weights, "Weights (.onnx or .safetensors) for a weight-stripped plan");
          app.add_option("--device", o->device, "gpu, cpu or auto (default: gpu when present)")
              ->check(CLI::IsMember({"gpu", "cpu", "auto"}));
          app.add_option("--iterations", o->iterations, "Timed runs")->capture_default_str();
          return [o] { return runOneLineErrors([o] { return runCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
