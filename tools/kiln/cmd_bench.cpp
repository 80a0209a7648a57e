// kiln bench ENGINE.plan|MODEL.onnx: throughput and latency, the time of each phase (copies in,
// compute, copies out), memory, whether copies overlap compute, and per-layer times.
//
// Work is spread like this: --contexts N threads, each running --streams S streams in turn.
// Every stream has its own execution context and I/O buffers (a context holds one run's
// activations, so one context cannot run on two streams at once); while one stream computes,
// the next one's copies can proceed. Each iteration is timed on the device with events
// around its three phases.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <exception>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "support.h"
#include "support2.h"

namespace kiln::tool {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string path;
  std::vector<std::string> shapes;
  std::string shape_values;
  std::string weights;
  std::string device = "auto";
  int contexts = 1;
  int streams = 1;
  bool cuda_graph = false;
  int iterations = 0;
  double duration = 0;
  double warmup = 0.2;
  std::string json;
  bool layer_times = false;
};

struct Sample {
  float h2d = 0, compute = 0, d2h = 0, total = 0;
};

struct Slot {
  std::unique_ptr<ExecutionContext> context;
  std::unique_ptr<Stream> stream;
  std::unique_ptr<IoBuffers> io;
  std::unique_ptr<Event> e0, e1, e2, e3;
  bool pending = false;
};

struct Worker {
  std::vector<Slot> slots;
  std::vector<Sample> samples;
  Clock::time_point start, end;
  std::exception_ptr error;
};

class LayerTimes : public Profiler {
 public:
  void reportLayerTime(std::string_view layer, std::string_view tactic, TacticSource source, float ms) override {
    std::string name(layer);
    auto it = index_.find(name);
    if (it == index_.end()) {
      it = index_.emplace(name, rows_.size()).first;
      rows_.push_back({name, std::string(tactic), source, {}});
    }
    rows_[it->second].times.push_back(ms);
  }
  struct Row {
    std::string name;
    std::string tactic;
    TacticSource source;
    std::vector<float> times;
  };
  std::vector<Row>& rows() { return rows_; }

 private:
  std::map<std::string, size_t> index_;
  std::vector<Row> rows_;
};

//! What a layer must at least compute and move, from its I/O shapes: FLOPs of the GEMM-like
//! ops (elsewhere 0: their floor is the bytes) and bytes of every input and output.
struct LayerCost {
  double flops = 0;
  double bytes = 0;
};

LayerCost layerCost(const LayerInfo& info, const ExecutionContext& context, const Engine& engine) {
  auto shape = [&](const std::string& name) { return name.empty() ? Dims{} : context.tensorShape(name); };
  auto count = [](const Dims& d) {
    double n = 1;
    for (int64_t x : d) n *= static_cast<double>(x);
    return n;
  };
  LayerCost c;
  for (const auto* names : {&info.inputs, &info.outputs})
    for (const std::string& name : *names)
      if (!name.empty()) c.bytes += count(shape(name)) * static_cast<double>(elementSize(engine.tensorType(name)));
  if (info.inputs.empty() || info.outputs.empty()) return c;
  const Dims a = shape(info.inputs[0]), y = shape(info.outputs[0]);
  if ((info.op == "MatMul" || info.op == "FusedMatMul" || info.op == "Gemm") && !a.empty()) {
    c.flops = 2 * count(y) * static_cast<double>(a.back());
  } else if ((info.op == "Conv" || info.op == "FusedConv") && info.inputs.size() > 1) {
    const Dims w = shape(info.inputs[1]);
    if (!w.empty() && w[0] > 0) c.flops = 2 * count(y) * count(w) / static_cast<double>(w[0]);
  } else if (info.op == "FusedAttention" && info.inputs.size() > 2 && a.size() == 4) {
    // Q [B,H,Sq,D] or [B,Sq,H,D]; K likewise: Skv is K's middle dim that is not a head count.
    // When both middle dims of Q appear in K (self-attention with H and S both present), the
    // heads are taken as the smaller one.
    const Dims k = shape(info.inputs[1]);
    if (k.size() == 4) {
      const int64_t heads = std::min(a[1], a[2]);
      const double kv_len = (k[1] == heads ? k[2] : k[1]);
      c.flops = 2 * kv_len * (count(a) + count(y));
    }
  }
  return c;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

Json stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {{"min", v.empty() ? 0 : v.front()}, {"mean", v.empty() ? 0 : sum / static_cast<double>(v.size())},
          {"median", percentile(v, 0.5)},     {"p90", percentile(v, 0.9)},
          {"p99", percentile(v, 0.99)},       {"max", v.empty() ? 0 : v.back()}};
}

void issue(Slot& s) {
  s.e0->record(*s.stream);
  s.io->uploadInputs(*s.stream);
  s.e1->record(*s.stream);
  s.context->enqueue(s.stream->handle());
  s.e2->record(*s.stream);
  s.io->downloadOutputs(*s.stream);
  s.e3->record(*s.stream);
  s.pending = true;
}

Sample collect(Slot& s) {
  s.stream->synchronize();
  s.pending = false;
  return Sample{.h2d = s.e1->elapsedSince(*s.e0),
                .compute = s.e2->elapsedSince(*s.e1),
                .d2h = s.e3->elapsedSince(*s.e2),
                .total = s.e3->elapsedSince(*s.e0)};
}

int benchCommand(const BenchOptions& o) {
  if (o.contexts < 1 || o.streams < 1)
    throw Error(ErrorCode::kInvalidArgument, "--contexts and --streams must be at least 1");
  if (o.iterations < 0 || o.duration < 0 || o.warmup < 0)
    throw Error(ErrorCode::kInvalidArgument, "--iterations, --duration and --warmup must not be negative");
  requireFile(o.path, isOnnxModel(o.path) ? "model" : "plan");
  std::map<std::string, Dims> shapes;
  for (const auto& s : o.shapes) parseShapes(s, shapes);
  const ShapeValues values = o.shape_values.empty() ? ShapeValues{} : parseShapeValues(o.shape_values);
  const DeviceKind device = parseDeviceOption(o.device);
  if (!o.json.empty()) requireWritableFile("--json", o.json);  // before, not after, the timing
  Engine engine = [&] {
    BuildProgress progress;  // only while building: it holds Ctrl-C back to cancel the build
    return loadOrBuild(o.path, shapes, device, o.weights, nullptr, {}, &progress, values);
  }();
  const bool gpu = engine.device() == DeviceKind::kGPU;
  const double duration = o.iterations == 0 && o.duration == 0 ? 3.0 : o.duration;
  const bool quiet = verbosity() == Verbosity::kQuiet;

  // Contexts, streams and buffers are made up front: nothing is allocated while timing.
  std::vector<Worker> workers(static_cast<size_t>(o.contexts));
  for (Worker& w : workers) {
    for (int s = 0; s < o.streams; ++s) {
      Slot slot;
      slot.context = engine.createExecutionContext();
      for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
        std::string name = engine.ioTensorName(i);
        if (engine.tensorIOMode(name) != TensorIOMode::kINPUT || engine.isShapeInput(name)) continue;
        auto it = shapes.find(name);
        slot.context->setInputShape(name, it != shapes.end() ? it->second : engine.profileDims(name, 0).opt);
      }
      setShapeValues(engine, *slot.context, values, {});
      slot.context->setCudaGraphMode(o.cuda_graph);
      slot.stream = std::make_unique<Stream>(engine.device());
      slot.io = std::make_unique<IoBuffers>(engine, *slot.context);
      slot.io->setInputs({}, *slot.stream);
      slot.stream->synchronize();
      slot.e0 = std::make_unique<Event>(engine.device());
      slot.e1 = std::make_unique<Event>(engine.device());
      slot.e2 = std::make_unique<Event>(engine.device());
      slot.e3 = std::make_unique<Event>(engine.device());
      w.slots.push_back(std::move(slot));
    }
  }

  std::barrier sync(static_cast<std::ptrdiff_t>(workers.size()));
  auto body = [&](Worker& w) {
    try {
      // Warm-up: at least one run per stream (captures CUDA graphs), then until --warmup passes.
      const auto warm_end = Clock::now() + std::chrono::duration<double>(o.warmup);
      do {
        for (Slot& s : w.slots) issue(s);
        for (Slot& s : w.slots) collect(s);
      } while (Clock::now() < warm_end);
    } catch (...) {
      w.error = std::current_exception();
    }
    sync.arrive_and_wait();
    if (w.error) return;
    try {
      w.start = Clock::now();
      const auto end = w.start + std::chrono::duration<double>(duration);
      for (size_t i = 0;; ++i) {
        if (o.iterations > 0 ? i >= static_cast<size_t>(o.iterations) : Clock::now() >= end) break;
        Slot& s = w.slots[i % w.slots.size()];
        if (s.pending) w.samples.push_back(collect(s));
        issue(s);
      }
      for (Slot& s : w.slots)
        if (s.pending) w.samples.push_back(collect(s));
      w.end = Clock::now();
    } catch (...) {
      w.error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < workers.size(); ++t) threads.emplace_back(body, std::ref(workers[t]));
  body(workers[0]);
  for (auto& t : threads) t.join();
  for (Worker& w : workers)
    if (w.error) std::rethrow_exception(w.error);

  // Results.
  std::vector<double> total, h2d, compute, d2h;
  size_t runs = 0;
  Clock::time_point first = workers[0].start, last = workers[0].end;
  double phase_sum_ms = 0, thread_wall_ms = 0;
  for (const Worker& w : workers) {
    runs += w.samples.size();
    first = std::min(first, w.start);
    last = std::max(last, w.end);
    for (const Sample& s : w.samples) {
      total.push_back(s.total);
      h2d.push_back(s.h2d);
      compute.push_back(s.compute);
      d2h.push_back(s.d2h);
      phase_sum_ms += s.h2d + s.compute + s.d2h;
    }
    thread_wall_ms += std::chrono::duration<double, std::milli>(w.end - w.start).count();
  }
  const double wall_s = std::chrono::duration<double>(last - first).count();
  const double qps = wall_s > 0 ? static_cast<double>(runs) / wall_s : 0;
  // Copies overlap compute when the phases of all runs add up to more than the time they took.
  const double overlap_ratio = thread_wall_ms > 0 ? phase_sum_ms / thread_wall_ms : 0;
  const bool overlapped = gpu && o.streams >= 2 && overlap_ratio > 1.05;
  std::string overlap_note;
  if (!gpu) overlap_note = "no (CPU engine: copies and compute run one after another)";
  else if (o.streams < 2) overlap_note = "not measured (one stream per context: use --streams 2 or more)";
  else overlap_note = overlapped ? "yes" : "no";

  const int32_t profile = workers[0].slots[0].context->optimizationProfile();
  const size_t activations = engine.activationSize(profile);
  const size_t io_bytes = workers[0].slots[0].io->inputBytes() + workers[0].slots[0].io->outputBytes();
  const size_t n_contexts = workers.size() * static_cast<size_t>(o.streams);
  const size_t total_memory = engine.weightsSize() + n_contexts * (engine.deviceMemorySize(profile) + io_bytes);

  Json j = {{"engine", o.path},
            {"device", gpu ? "gpu" : "cpu"},
            {"architecture", engine.compatibility().architecture},
            {"contexts", o.contexts},
            {"streams", o.streams},
            {"cuda_graph", o.cuda_graph},
            {"runs", runs},
            {"wall_time_s", wall_s},
            {"throughput_qps", qps},
            {"latency_ms", stats(total)},
            {"host_to_device_ms", stats(h2d)},
            {"compute_ms", stats(compute)},
            {"device_to_host_ms", stats(d2h)},
            {"memory",
             {{"weights_bytes", engine.weightsSize()},
              {"activation_bytes_per_context", activations},
              {"activation_lower_bound_bytes_per_context", engine.activationLowerBound(profile)},
              {"workspace_bytes_per_context", engine.workspaceSize(profile)},
              {"io_bytes_per_context", io_bytes},
              {"total_bytes", total_memory}}},
            {"overlap",
             {{"phases_sum_ms", phase_sum_ms},
              {"wall_ms", thread_wall_ms},
              {"ratio", overlap_ratio},
              {"overlapped", overlapped}}}};
  j["inputs"] = Json::object();
  for (const std::string& name : workers[0].slots[0].io->inputNames())
    j["inputs"][name] = workers[0].slots[0].context->tensorShape(name);

  // Per-layer times: a separate pass with the profiler attached, so that profiling does not
  // slow down the numbers above. CUDA graph mode is off for it (each layer is timed).
  if (o.layer_times) {
    Slot& s = workers[0].slots[0];
    LayerTimes profiler;
    s.context->setCudaGraphMode(false);
    s.context->setProfiler(&profiler);
    const int repeats = std::clamp(o.iterations > 0 ? o.iterations : 20, 5, 200);
    for (int i = 0; i < repeats; ++i) {
      s.context->enqueue(s.stream->handle());
      s.stream->synchronize();
      s.context->reportProfile();
    }
    s.context->setProfiler(nullptr);
    std::vector<std::pair<double, size_t>> order;
    double sum = 0;
    auto& rows = profiler.rows();
    std::vector<double> medians;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<double> t(rows[r].times.begin(), rows[r].times.end());
      std::sort(t.begin(), t.end());
      medians.push_back(percentile(t, 0.5));
      sum += medians.back();
      order.push_back({medians.back(), r});
    }
    std::stable_sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first > b.first; });
    // Each layer against its floor: the time its FLOPs take at the device's peak (tensor
    // cores for FP16/BF16 layers) or its bytes at peak bandwidth, whichever is longer.
    const DevicePeak peak = engine.devicePeak();
    std::map<std::string, LayerInfo> infos;
    for (const LayerInfo& info : engine.layers(profile)) infos[info.name] = info;
    Json layers = Json::array();
    for (auto [median, r] : order) {
      Json row = {{"name", rows[r].name},
                  {"tactic", rows[r].tactic},
                  {"source", toString(rows[r].source)},
                  {"median_ms", median},
                  {"share", sum > 0 ? median / sum : 0},
                  {"runs", rows[r].times.size()}};
      if (auto it = infos.find(rows[r].name); it != infos.end()) {
        const LayerCost cost = layerCost(it->second, *s.context, engine);
        row["op"] = it->second.op;
        row["flops"] = cost.flops;
        row["bytes"] = cost.bytes;
        const bool reduced = it->second.precision == "float16" || it->second.precision == "bfloat16";
        const double flops_rate = reduced ? peak.tensor_flops : peak.fp32_flops;
        if (flops_rate > 0 && peak.bytes_per_s > 0 && median > 0) {
          const double compute_ms = 1e3 * cost.flops / flops_rate, memory_ms = 1e3 * cost.bytes / peak.bytes_per_s;
          row["floor_ms"] = std::max(compute_ms, memory_ms);
          row["bound"] = compute_ms > memory_ms ? "compute" : "memory";
          row["of_floor"] = std::max(compute_ms, memory_ms) / median;
        }
      }
      layers.push_back(row);
    }
    j["layers"] = layers;
    j["peak"] = {{"tensor_flops", peak.tensor_flops}, {"fp32_flops", peak.fp32_flops}, {"bytes_per_s", peak.bytes_per_s}};
    j["layers_total_ms"] = sum;
  }

  if (!o.json.empty()) writeFileAtomic(o.json, j.dump(2) + "\n");
  if (quiet) return 0;

  auto line = [&](const char* label, const Json& s) {
    std::cout << "  " << std::left << std::setw(16) << label << "min " << formatMs(s["min"]) << "  mean "
              << formatMs(s["mean"]) << "  median " << formatMs(s["median"]) << "  p90 " << formatMs(s["p90"])
              << "  p99 " << formatMs(s["p99"]) << "\n";
  };
  std::cout << "kiln bench " << o.path << "\n";
  std::cout << "  device:         " << (gpu ? "GPU " : "CPU ") << engine.compatibility().architecture << "\n";
  std::cout << "  shapes:        ";
  for (const auto& [name, dims] : j["inputs"].items()) std::cout << " " << name << ":" << toString(dims.get<Dims>());
  std::cout << "\n";
  std::cout << "  setup:          " << o.contexts << " context thread(s) x " << o.streams << " stream(s)"
            << (o.cuda_graph ? ", CUDA graphs" : "") << "\n";
  std::cout << "  runs:           " << runs << " in " << std::fixed << std::setprecision(3) << wall_s << " s\n"
            << std::defaultfloat;
  std::cout << "  throughput:     " << std::fixed << std::setprecision(1) << qps << " inferences/s\n"
            << std::defaultfloat;
  line("latency:", j["latency_ms"]);
  line("host-to-device:", j["host_to_device_ms"]);
  line("compute:", j["compute_ms"]);
  line("device-to-host:", j["device_to_host_ms"]);
  std::cout << "  memory:         weights " << formatBytes(engine.weightsSize()) << ", per context: activations "
            << formatBytes(activations) << ", workspace " << formatBytes(engine.workspaceSize(profile)) << ", I/O "
            << formatBytes(io_bytes) << "; total " << formatBytes(total_memory) << "\n";
  std::cout << "  copies overlapped compute: " << overlap_note;
  if (gpu && o.streams >= 2)
    std::cout << " (phases sum to " << formatMs(phase_sum_ms) << " in " << formatMs(thread_wall_ms) << " of wall time, "
              << std::setprecision(2) << std::fixed << overlap_ratio << "x)" << std::defaultfloat;
  std::cout << "\n";
  if (o.layer_times) {
    size_t wn = 5, wt = 6;
    for (const Json& l : j["layers"]) {
      wn = std::max(wn, l["name"].get<std::string>().size());
      wt = std::max(wt, l["tactic"].get<std::string>().size());
    }
    std::cout << "per-layer times (median of the profiled runs, most costly first):\n";
    std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << "layer"
              << "  " << std::setw(static_cast<int>(wt)) << "tactic"
              << "  " << std::setw(10) << "source"
              << "  " << std::setw(10) << "median"
              << "  share   GFLOP     MB   of floor\n";
    for (const Json& l : j["layers"]) {
      char share[16], cost[64] = "";
      std::snprintf(share, sizeof share, "%5.1f%%", 100.0 * l["share"].get<double>());
      if (l.contains("flops"))
        std::snprintf(cost, sizeof cost, "  %6.2f %7.2f", l["flops"].get<double>() / 1e9, l["bytes"].get<double>() / 1e6);
      std::string floor;
      if (l.contains("of_floor"))
        floor = "  " + std::to_string(static_cast<int>(100.0 * l["of_floor"].get<double>() + 0.5)) + "% (" +
                l["bound"].get<std::string>() + ")";
      std::cout << "  " << std::left << std::setw(static_cast<int>(wn)) << l["name"].get<std::string>() << "  "
                << std::setw(static_cast<int>(wt)) << l["tactic"].get<std::string>() << "  " << std::setw(10)
                << l["source"].get<std::string>() << "  " << std::setw(10) << formatMs(l["median_ms"]) << "  " << share
                << cost << floor << "\n";
    }
    if (j.contains("peak") && j["peak"]["bytes_per_s"].get<double>() > 0)
      std::cout << "  floor: max(FLOPs at " << j["peak"]["tensor_flops"].get<double>() / 1e12 << " TFLOP/s tensor / "
                << j["peak"]["fp32_flops"].get<double>() / 1e12 << " FP32, bytes at "
                << j["peak"]["bytes_per_s"].get<double>() / 1e12 << " TB/s); of floor = floor / measured\n";
    std::cout << "  total " << formatMs(j["layers_total_ms"]) << "\n";
  }
  return 0;
}

const CommandRegistrar kRegistrar({
    .name = "bench",
    .help = "Measure an engine's throughput, latency, copy and compute times, memory and per-layer times",
    .setup =
        [](CLI::App& app) {
          auto o = std::make_shared<BenchOptions>();
          app.add_option("engine", o->path, "ENGINE.plan (or MODEL.onnx, built first)")->required();
          app.add_option("--shape-values", o->shape_values,
                         "Values of shape inputs 'INPUT:V1,V2,...[;INPUT2:...]' (default: profile 0's)");
          app.add_option("--shapes", o->shapes, "Input shapes NAME:1x3x224x224 (default: profile 0's opt)")
              ->allow_extra_args(false);
          app.add_option("--weights", o->weights, "Weights (.onnx or .safetensors) for a weight-stripped plan");
          app.add_option("--device", o->device, "For a model: gpu, cpu or auto")
              ->check(CLI::IsMember({"gpu", "cpu", "auto"}));
          app.add_option("--contexts", o->contexts, "Execution contexts, each on its own thread")
              ->capture_default_str();
          app.add_option("--streams", o->streams,
                         "Streams per context thread, used in turn (each with its own context and buffers)")
              ->capture_default_str();
          app.add_flag("--cuda-graph", o->cuda_graph, "Capture each context's run in a CUDA graph and replay it");
          CLI::Option* it = app.add_option("--iterations", o->iterations, "Timed runs per context thread");
          CLI::Option* du = app.add_option("--duration", o->duration, "Seconds of timed runs (default 3)");
          it->excludes(du);
          app.add_option("--warmup", o->warmup, "Seconds of warm-up runs")->capture_default_str();
          app.add_option("--json", o->json, "Write the results as JSON (atomically)");
          app.add_flag("--layer-times", o->layer_times, "Per-layer times from the profiler, most costly first");
          return [o] { return runOneLineErrors([o] { return benchCommand(*o); }); };
        },
});

}  // namespace
}  // namespace kiln::tool
