// kiln's C API (include/kiln/kiln_c.h) over the C++ API: every entry point catches whatever
// the C++ side throws and turns it into a status code and a thread-local message.
#include "kiln/kiln_c.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "kiln/kiln.h"

// ---- handle types ----------------------------------------------------------------------
struct kiln_string_list {
  std::vector<std::string> items;
};

struct kiln_network {
  kiln::Network net;
  std::vector<std::string> inputs, outputs;  // names handed out as const char*
};

struct kiln_profile {
  kiln::OptimizationProfile profile;
};

struct kiln_timing_cache {
  kiln::TimingCache cache;
};

namespace {

// The C callbacks behind the C++ interfaces of a builder configuration.
struct CSelector final : kiln::AlgorithmSelector {
  kiln_select_algorithms_fn select = nullptr;
  kiln_report_algorithms_fn report = nullptr;
  void* user = nullptr;

  static std::vector<kiln_tactic_info> convert(std::span<const kiln::TacticInfo> in) {
    std::vector<kiln_tactic_info> out;
    out.reserve(in.size());
    for (const auto& t : in)
      out.push_back({static_cast<int32_t>(t.source), t.id, t.name.c_str(), t.formats.c_str(), t.workspace, t.time_ms});
    return out;
  }

  std::vector<size_t> selectAlgorithms(const std::string& layer, const std::string& op, int32_t profile,
                                       std::span<const kiln::TacticInfo> candidates) override {
    std::vector<size_t> all(candidates.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    if (!select) return all;
    std::vector<kiln_tactic_info> infos = convert(candidates);
    std::vector<int32_t> selected(candidates.size() + 1, -1);
    int32_t n = 0;
    int32_t rc = select(user, layer.c_str(), op.c_str(), profile, infos.data(), static_cast<int32_t>(infos.size()),
                        selected.data(), &n);
    if (rc != 0)
      throw kiln::Error(kiln::ErrorCode::kBuildFailed, "algorithm selector failed on layer '" + layer + "'");
    if (n < 0 || n > static_cast<int32_t>(candidates.size()))
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument,
                        "algorithm selector returned " + std::to_string(n) + " choices for layer '" + layer + "' of " +
                            std::to_string(candidates.size()) + " candidates");
    std::vector<size_t> out;
    for (int32_t i = 0; i < n; ++i) {
      if (selected[i] < 0 || selected[i] >= static_cast<int32_t>(candidates.size()))
        throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "algorithm selector returned index " +
                                                                 std::to_string(selected[i]) + " for layer '" + layer +
                                                                 "' (" + std::to_string(candidates.size()) +
                                                                 " candidates)");
      out.push_back(static_cast<size_t>(selected[i]));
    }
    return out;
  }

  void reportAlgorithms(int32_t profile, std::span<const std::string> layers,
                        std::span<const kiln::TacticInfo> choices) override {
    if (!report) return;
    std::vector<const char*> names;
    for (const auto& l : layers) names.push_back(l.c_str());
    std::vector<kiln_tactic_info> infos = convert(choices);
    report(user, profile, names.data(), infos.data(), static_cast<int32_t>(std::min(names.size(), infos.size())));
  }
};

struct CMonitor final : kiln::ProgressMonitor {
  kiln_progress_fn fn = nullptr;
  void* user = nullptr;
  bool layerDone(int32_t done, int32_t total, const std::string& layer) override {
    return fn(user, done, total, layer.c_str()) != 0;
  }
};

struct CProfiler final : kiln::Profiler {
  kiln_profiler_fn fn = nullptr;
  void* user = nullptr;
  void reportLayerTime(std::string_view layer, std::string_view tactic, kiln::TacticSource source, float ms) override {
    std::string l(layer), t(tactic);
    fn(user, l.c_str(), t.c_str(), static_cast<int32_t>(source), ms);
  }
};

struct CLogger final : kiln::ILogger {
  kiln_log_fn fn = nullptr;
  void* user = nullptr;
  void log(kiln::Severity severity, std::string_view message) noexcept override {
    try {
      std::string m(message);
      fn(user, static_cast<int32_t>(severity), m.c_str());
    } catch (...) {
    }
  }
};

}  // namespace

struct kiln_builder_config {
  kiln::BuilderConfig config;
  CSelector selector;
  CMonitor monitor;
};

struct kiln_engine {
  explicit kiln_engine(kiln::Engine e) : engine(std::move(e)) {
    for (int32_t i = 0; i < engine.numIOTensors(); ++i) io_names.push_back(engine.ioTensorName(i));
  }
  kiln::Engine engine;
  std::vector<std::string> io_names;
};

struct kiln_context {
  std::unique_ptr<kiln::ExecutionContext> context;
  kiln::Engine::Impl* engine = nullptr;
  size_t debug_bound = 0;  // activation + weight bytes of the engine: no tensor is larger
  CProfiler profiler;
};

struct kiln_refitter {
  std::unique_ptr<kiln::Refitter> refitter;
};

struct kiln_buffer {
  kiln::DeviceBuffer device;
  kiln::PinnedBuffer pinned;
  bool is_pinned = false;
};

struct kiln_stream {
  explicit kiln_stream(kiln::DeviceKind d) : stream(d) {}
  kiln::Stream stream;
};

// ---- error handling --------------------------------------------------------------------
namespace {

thread_local std::string t_last_error;
thread_local kiln_status t_last_status = KILN_OK;

kiln_status fail(kiln_status status, std::string message) {
  t_last_status = status;
  t_last_error = std::move(message);
  return status;
}

// Runs `fn`, mapping every exception to a status and the thread's last error.
template <typename Fn>
kiln_status guard(Fn&& fn) noexcept {
  try {
    fn();
    return KILN_OK;
  } catch (const kiln::Error& e) {
    return fail(static_cast<kiln_status>(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(KILN_ERROR_RUNTIME, "out of host memory");
  } catch (const std::exception& e) {
    return fail(KILN_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(KILN_ERROR_INTERNAL, "unknown C++ exception");
  }
}

void require(const void* p, const char* what) {
  if (!p) throw kiln::Error(kiln::ErrorCode::kInvalidArgument, std::string(what) + " is NULL");
}

std::string str(const char* s, const char* what) {
  require(s, what);
  return s;
}

kiln::Dims toDims(const kiln_dims* d, const char* what) {
  require(d, what);
  if (d->rank < 0 || d->rank > KILN_MAX_DIMS)
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument,
                      std::string(what) + ": rank " + std::to_string(d->rank) + " is outside 0.." +
                          std::to_string(KILN_MAX_DIMS));
  return kiln::Dims(d->d, d->d + d->rank);
}

void fromDims(const kiln::Dims& in, kiln_dims* out) {
  if (!out) return;
  if (in.size() > KILN_MAX_DIMS)
    throw kiln::Error(kiln::ErrorCode::kUnsupported, "rank " + std::to_string(in.size()) +
                                                         " is above the C API's KILN_MAX_DIMS (" +
                                                         std::to_string(KILN_MAX_DIMS) + ")");
  std::memset(out, 0, sizeof(*out));
  out->rank = static_cast<int32_t>(in.size());
  for (size_t i = 0; i < in.size(); ++i) out->d[i] = in[i];
}

template <typename T>
void set(T* out, T value) {
  if (out) *out = value;
}

// A malloc'd copy, for the caller to kiln_free().
void* copyOut(const void* data, size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  if (size) std::memcpy(p, data, size);
  return p;
}

char* copyString(const std::string& s) { return static_cast<char*>(copyOut(s.c_str(), s.size() + 1)); }

kiln::DataType dataType(int32_t t) {
  if (t < KILN_FLOAT || t > KILN_BOOL)
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown data type " + std::to_string(t));
  return static_cast<kiln::DataType>(t);
}

kiln::DeviceKind deviceKind(int32_t d) {
  if (d != KILN_DEVICE_CPU && d != KILN_DEVICE_GPU)
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown device " + std::to_string(d));
  return static_cast<kiln::DeviceKind>(d);
}

kiln::TacticSource tacticSource(int32_t s) {
  if (s < 0 || s >= KILN_NUM_TACTIC_SOURCES)
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown tactic source " + std::to_string(s));
  return static_cast<kiln::TacticSource>(s);
}

const kiln::Engine& eng(const kiln_engine* e) {
  require(e, "engine");
  return e->engine;
}

kiln::ExecutionContext& ctx(const kiln_context* c) {
  require(c, "context");
  return *c->context;
}

kiln_string_list* makeList(std::vector<std::string> items) {
  auto* l = new kiln_string_list;
  l->items = std::move(items);
  return l;
}

std::mutex g_logger_mutex;
CLogger g_logger;

}  // namespace

// ---- library ---------------------------------------------------------------------------
// (The definitions below have C linkage from their declarations in kiln_c.h.)

const char* kiln_last_error(void) { return t_last_error.c_str(); }
kiln_status kiln_last_status(void) { return t_last_status; }

const char* kiln_status_name(kiln_status status) {
  switch (status) {
    case KILN_OK: return "ok";
    case KILN_ERROR_INVALID_ARGUMENT: return "invalid_argument";
    case KILN_ERROR_INVALID_MODEL: return "invalid_model";
    case KILN_ERROR_UNSUPPORTED: return "unsupported";
    case KILN_ERROR_INVALID_PLAN: return "invalid_plan";
    case KILN_ERROR_INVALID_CACHE: return "invalid_cache";
    case KILN_ERROR_IO: return "io";
    case KILN_ERROR_BUILD_FAILED: return "build_failed";
    case KILN_ERROR_CANCELLED: return "cancelled";
    case KILN_ERROR_RUNTIME: return "runtime";
    case KILN_ERROR_INTERNAL: return "internal";
    default: return "unknown";
  }
}

const char* kiln_version(void) { return kiln::version(); }

int32_t kiln_gpu_available(void) {
  try {
    return kiln::Builder::gpuAvailable() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

void kiln_free(void* p) { std::free(p); }

kiln_status kiln_set_logger(kiln_log_fn fn, void* user) {
  return guard([&] {
    std::lock_guard lock(g_logger_mutex);
    if (!fn) {
      kiln::setLogger(nullptr);
      return;
    }
    // Installed after its fields are set; a message racing the switch sees the old logger.
    kiln::setLogger(nullptr);
    g_logger.fn = fn;
    g_logger.user = user;
    kiln::setLogger(&g_logger);
  });
}

kiln_status kiln_set_log_level(int32_t severity) {
  return guard([&] {
    if (severity < KILN_LOG_ERROR || severity > KILN_LOG_VERBOSE)
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown log severity " + std::to_string(severity));
    kiln::setLogLevel(static_cast<kiln::Severity>(severity));
  });
}

size_t kiln_element_size(int32_t type) {
  if (type < KILN_FLOAT || type > KILN_BOOL) return 0;
  return kiln::elementSize(static_cast<kiln::DataType>(type));
}

const char* kiln_data_type_name(int32_t type) {
  if (type < KILN_FLOAT || type > KILN_BOOL) return "invalid";
  return kiln::toString(static_cast<kiln::DataType>(type)).data();  // static string literals
}

const char* kiln_tactic_source_name(int32_t source) {
  if (source < 0 || source >= KILN_NUM_TACTIC_SOURCES) return "invalid";
  return kiln::toString(static_cast<kiln::TacticSource>(source)).data();
}

kiln_status kiln_parse_tactic_source(const char* name, int32_t* source) {
  return guard([&] {
    std::string n = str(name, "name");
    kiln::TacticSource s;
    if (!kiln::parseTacticSource(n, s))
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument,
                        "unknown tactic source '" + n + "' (reference, cpu, openblas, kiln, cublas, cublaslt, cudnn)");
    set(source, static_cast<int32_t>(s));
  });
}

// ---- string lists ----------------------------------------------------------------------
int32_t kiln_string_list_size(const kiln_string_list* list) {
  return list ? static_cast<int32_t>(list->items.size()) : 0;
}
const char* kiln_string_list_get(const kiln_string_list* list, int32_t index) {
  if (!list || index < 0 || index >= static_cast<int32_t>(list->items.size())) return nullptr;
  return list->items[index].c_str();
}
void kiln_string_list_destroy(kiln_string_list* list) { delete list; }

// ---- network ---------------------------------------------------------------------------
namespace {
kiln_network* wrapNetwork(kiln::Network net) {
  auto n = std::make_unique<kiln_network>();
  n->net = std::move(net);
  for (int32_t i = 0; i < n->net.numInputs(); ++i) n->inputs.push_back(n->net.inputName(i));
  for (int32_t i = 0; i < n->net.numOutputs(); ++i) n->outputs.push_back(n->net.outputName(i));
  return n.release();
}
const kiln_network& net(const kiln_network* n) {
  require(n, "network");
  return *n;
}
const char* indexed(const std::vector<std::string>& names, int32_t index, const char* what) {
  if (index < 0 || index >= static_cast<int32_t>(names.size()))
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument, std::string(what) + " index " + std::to_string(index) +
                                                             " is out of range (there are " +
                                                             std::to_string(names.size()) + ")");
  return names[index].c_str();
}
}  // namespace

kiln_status kiln_network_parse_file(const char* path, kiln_network** network) {
  return guard([&] {
    require(network, "network");
    *network = wrapNetwork(kiln::OnnxParser::parseFile(str(path, "path")));
  });
}

kiln_status kiln_network_parse(const void* data, size_t size, const char* display_name, kiln_network** network) {
  return guard([&] {
    require(network, "network");
    if (size) require(data, "data");
    auto bytes = std::span<const std::byte>(static_cast<const std::byte*>(data), size);
    *network = wrapNetwork(kiln::OnnxParser::parse(bytes, display_name ? display_name : "model"));
  });
}

void kiln_network_destroy(kiln_network* network) { delete network; }

kiln_status kiln_network_num_inputs(const kiln_network* network, int32_t* count) {
  return guard([&] { set(count, static_cast<int32_t>(net(network).inputs.size())); });
}
kiln_status kiln_network_num_outputs(const kiln_network* network, int32_t* count) {
  return guard([&] { set(count, static_cast<int32_t>(net(network).outputs.size())); });
}
kiln_status kiln_network_input_name(const kiln_network* network, int32_t index, const char** name) {
  return guard([&] { set(name, indexed(net(network).inputs, index, "input")); });
}
kiln_status kiln_network_output_name(const kiln_network* network, int32_t index, const char** name) {
  return guard([&] { set(name, indexed(net(network).outputs, index, "output")); });
}
kiln_status kiln_network_tensor_type(const kiln_network* network, const char* tensor, int32_t* type) {
  return guard([&] { set(type, static_cast<int32_t>(net(network).net.tensorType(str(tensor, "tensor")))); });
}
kiln_status kiln_network_tensor_dims(const kiln_network* network, const char* tensor, kiln_dims* dims) {
  return guard([&] { fromDims(net(network).net.tensorDims(str(tensor, "tensor")), dims); });
}
kiln_status kiln_network_num_layers(const kiln_network* network, int32_t* count) {
  return guard([&] { set(count, net(network).net.numLayers()); });
}
kiln_status kiln_network_weight_names(const kiln_network* network, kiln_string_list** names) {
  return guard([&] {
    require(names, "names");
    *names = makeList(net(network).net.weightNames());
  });
}
kiln_status kiln_network_mark_debug(kiln_network* network, const char* tensor) {
  return guard([&] {
    require(network, "network");
    network->net.markDebug(str(tensor, "tensor"));
  });
}

// ---- profile ---------------------------------------------------------------------------
kiln_status kiln_profile_create(kiln_profile** profile) {
  return guard([&] {
    require(profile, "profile");
    *profile = new kiln_profile;
  });
}
void kiln_profile_destroy(kiln_profile* profile) { delete profile; }

kiln_status kiln_profile_set_dimensions(kiln_profile* profile, const char* input, const kiln_dims* min,
                                        const kiln_dims* opt, const kiln_dims* max) {
  return guard([&] {
    require(profile, "profile");
    profile->profile.setDimensions(str(input, "input"),
                                   kiln::ProfileDims{toDims(min, "min"), toDims(opt, "opt"), toDims(max, "max")});
  });
}

kiln_status kiln_profile_set_shape_values(kiln_profile* profile, const char* input, const int64_t* min,
                                          const int64_t* opt, const int64_t* max, size_t count) {
  return guard([&] {
    require(profile, "profile");
    if (count > 0) {
      require(min, "min");
      require(opt, "opt");
      require(max, "max");
    }
    const auto values = [&](const int64_t* v) {
      return count ? std::vector<int64_t>(v, v + count) : std::vector<int64_t>{};
    };
    profile->profile.setShapeValues(str(input, "input"), values(min), values(opt), values(max));
  });
}

kiln_status kiln_profile_get_dimensions(const kiln_profile* profile, const char* input, kiln_dims* min, kiln_dims* opt,
                                        kiln_dims* max) {
  return guard([&] {
    require(profile, "profile");
    std::string name = str(input, "input");
    if (!profile->profile.hasDimensions(name))
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "the profile has no dimensions for input '" + name + "'");
    const kiln::ProfileDims& d = profile->profile.dimensions(name);
    fromDims(d.min, min);
    fromDims(d.opt, opt);
    fromDims(d.max, max);
  });
}

// ---- timing cache ----------------------------------------------------------------------
kiln_status kiln_timing_cache_create(kiln_timing_cache** cache) {
  return guard([&] {
    require(cache, "cache");
    *cache = new kiln_timing_cache;
  });
}
kiln_status kiln_timing_cache_deserialize(const void* data, size_t size, kiln_timing_cache** cache) {
  return guard([&] {
    require(cache, "cache");
    if (size) require(data, "data");
    auto c = std::make_unique<kiln_timing_cache>();
    c->cache = kiln::TimingCache::deserialize(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    *cache = c.release();
  });
}
kiln_status kiln_timing_cache_load(const char* path, kiln_timing_cache** cache) {
  return guard([&] {
    require(cache, "cache");
    auto c = std::make_unique<kiln_timing_cache>();
    c->cache = kiln::TimingCache::load(str(path, "path"));
    *cache = c.release();
  });
}
void kiln_timing_cache_destroy(kiln_timing_cache* cache) { delete cache; }

kiln_status kiln_timing_cache_serialize(const kiln_timing_cache* cache, void** data, size_t* size) {
  return guard([&] {
    require(cache, "cache");
    require(data, "data");
    std::vector<std::byte> bytes = cache->cache.serialize();
    *data = copyOut(bytes.data(), bytes.size());
    set(size, bytes.size());
  });
}
kiln_status kiln_timing_cache_save(const kiln_timing_cache* cache, const char* path) {
  return guard([&] {
    require(cache, "cache");
    cache->cache.save(str(path, "path"));
  });
}
kiln_status kiln_timing_cache_combine(kiln_timing_cache* cache, const kiln_timing_cache* other) {
  return guard([&] {
    require(cache, "cache");
    require(other, "other");
    cache->cache.combine(other->cache);
  });
}
kiln_status kiln_timing_cache_size(const kiln_timing_cache* cache, size_t* size) {
  return guard([&] {
    require(cache, "cache");
    set(size, cache->cache.size());
  });
}
kiln_status kiln_timing_cache_entries_json(const kiln_timing_cache* cache, char** json) {
  return guard([&] {
    require(cache, "cache");
    require(json, "json");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : cache->cache.entries()) {
      nlohmann::json timings = nlohmann::json::array();
      for (const auto& t : e.timings)
        timings.push_back({{"tactic_id", t.tactic_id}, {"tactic", t.tactic}, {"time_ms", t.time_ms}});
      out.push_back({{"key", e.key}, {"device", e.device}, {"timings", timings}});
    }
    *json = copyString(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

// ---- builder configuration -------------------------------------------------------------
namespace {
kiln::BuilderConfig& cfg(kiln_builder_config* c) {
  require(c, "config");
  return c->config;
}
const kiln::BuilderConfig& cfg(const kiln_builder_config* c) {
  require(c, "config");
  return c->config;
}
kiln::BuilderFlag flag(int32_t f) {
  if (f < KILN_FLAG_FP16 || f > KILN_FLAG_VERSION_COMPATIBLE)
    throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown builder flag " + std::to_string(f));
  return static_cast<kiln::BuilderFlag>(f);
}
}  // namespace

kiln_status kiln_builder_config_create(kiln_builder_config** config) {
  return guard([&] {
    require(config, "config");
    *config = new kiln_builder_config;
  });
}
void kiln_builder_config_destroy(kiln_builder_config* config) { delete config; }

kiln_status kiln_builder_config_set_flag(kiln_builder_config* config, int32_t f, int32_t on) {
  return guard([&] { cfg(config).setFlag(flag(f), on != 0); });
}
kiln_status kiln_builder_config_get_flag(const kiln_builder_config* config, int32_t f, int32_t* on) {
  return guard([&] { set(on, cfg(config).getFlag(flag(f)) ? 1 : 0); });
}
kiln_status kiln_builder_config_add_optimization_profile(kiln_builder_config* config, const kiln_profile* profile,
                                                         int32_t* index) {
  return guard([&] {
    require(profile, "profile");
    set(index, cfg(config).addOptimizationProfile(profile->profile));
  });
}
kiln_status kiln_builder_config_num_optimization_profiles(const kiln_builder_config* config, int32_t* count) {
  return guard([&] { set(count, static_cast<int32_t>(cfg(config).profiles().size())); });
}
kiln_status kiln_builder_config_set_tactic_source(kiln_builder_config* config, int32_t source, int32_t enabled) {
  return guard([&] { cfg(config).setTacticSource(tacticSource(source), enabled != 0); });
}
kiln_status kiln_builder_config_get_tactic_source(const kiln_builder_config* config, int32_t source,
                                                  int32_t* enabled) {
  return guard([&] { set(enabled, cfg(config).tacticSourceEnabled(tacticSource(source)) ? 1 : 0); });
}
kiln_status kiln_builder_config_set_workspace_limit(kiln_builder_config* config, size_t bytes) {
  return guard([&] { cfg(config).setWorkspaceLimit(bytes); });
}
kiln_status kiln_builder_config_get_workspace_limit(const kiln_builder_config* config, size_t* bytes) {
  return guard([&] { set(bytes, cfg(config).workspaceLimit()); });
}
kiln_status kiln_builder_config_set_optimization_level(kiln_builder_config* config, int32_t level) {
  return guard([&] { cfg(config).setOptimizationLevel(level); });
}
kiln_status kiln_builder_config_get_optimization_level(const kiln_builder_config* config, int32_t* level) {
  return guard([&] { set(level, cfg(config).optimizationLevel()); });
}
kiln_status kiln_builder_config_set_hardware_compatibility(kiln_builder_config* config, int32_t level) {
  return guard([&] {
    if (level != KILN_HW_SAME_ARCHITECTURE && level != KILN_HW_AMPERE_PLUS)
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown hardware compatibility " + std::to_string(level));
    cfg(config).setHardwareCompatibility(static_cast<kiln::HardwareCompatibility>(level));
  });
}
kiln_status kiln_builder_config_get_hardware_compatibility(const kiln_builder_config* config, int32_t* level) {
  return guard([&] { set(level, static_cast<int32_t>(cfg(config).hardwareCompatibility())); });
}
kiln_status kiln_builder_config_set_device(kiln_builder_config* config, int32_t device) {
  return guard([&] { cfg(config).setDevice(deviceKind(device)); });
}
kiln_status kiln_builder_config_get_device(const kiln_builder_config* config, int32_t* device) {
  return guard([&] { set(device, static_cast<int32_t>(cfg(config).device())); });
}
kiln_status kiln_builder_config_set_timing_cache(kiln_builder_config* config, kiln_timing_cache* cache) {
  return guard([&] { cfg(config).setTimingCache(cache ? &cache->cache : nullptr); });
}
kiln_status kiln_builder_config_set_algorithm_selector(kiln_builder_config* config, kiln_select_algorithms_fn select,
                                                       kiln_report_algorithms_fn report, void* user) {
  return guard([&] {
    require(config, "config");
    config->selector.select = select;
    config->selector.report = report;
    config->selector.user = user;
    config->config.setAlgorithmSelector(select || report ? &config->selector : nullptr);
  });
}
kiln_status kiln_builder_config_set_progress_monitor(kiln_builder_config* config, kiln_progress_fn fn, void* user) {
  return guard([&] {
    require(config, "config");
    config->monitor.fn = fn;
    config->monitor.user = user;
    config->config.setProgressMonitor(fn ? &config->monitor : nullptr);
  });
}

// ---- builder ---------------------------------------------------------------------------
kiln_status kiln_build_serialized_network(const kiln_network* network, const kiln_builder_config* config,
                                          void** plan, size_t* plan_size, char** report_json) {
  return guard([&] {
    require(plan, "plan");
    *plan = nullptr;
    if (report_json) *report_json = nullptr;
    std::string report;
    std::vector<std::byte> bytes =
        kiln::Builder::buildSerializedNetwork(net(network).net, cfg(config), report_json ? &report : nullptr);
    char* r = report_json ? copyString(report) : nullptr;
    *plan = copyOut(bytes.data(), bytes.size());
    set(plan_size, bytes.size());
    if (report_json) *report_json = r;
  });
}

// ---- engine ----------------------------------------------------------------------------
kiln_status kiln_engine_deserialize(const void* plan, size_t size, const char* weights_path, kiln_engine** engine) {
  return guard([&] {
    require(engine, "engine");
    if (size) require(plan, "plan");
    kiln::WeightsSource w{weights_path ? weights_path : ""};
    *engine = new kiln_engine(
        kiln::Engine::deserialize(std::span<const std::byte>(static_cast<const std::byte*>(plan), size), w));
  });
}
kiln_status kiln_engine_load(const char* path, const char* weights_path, kiln_engine** engine) {
  return guard([&] {
    require(engine, "engine");
    kiln::WeightsSource w{weights_path ? weights_path : ""};
    *engine = new kiln_engine(kiln::Engine::load(str(path, "path"), w));
  });
}
void kiln_engine_destroy(kiln_engine* engine) { delete engine; }

kiln_status kiln_engine_serialize(const kiln_engine* engine, void** plan, size_t* size) {
  return guard([&] {
    require(plan, "plan");
    std::vector<std::byte> bytes = eng(engine).serialize();
    *plan = copyOut(bytes.data(), bytes.size());
    set(size, bytes.size());
  });
}
kiln_status kiln_engine_save(const kiln_engine* engine, const char* path) {
  return guard([&] { eng(engine).save(str(path, "path")); });
}
kiln_status kiln_engine_num_io_tensors(const kiln_engine* engine, int32_t* count) {
  return guard([&] { set(count, eng(engine).numIOTensors()); });
}
kiln_status kiln_engine_io_tensor_name(const kiln_engine* engine, int32_t index, const char** name) {
  return guard([&] {
    eng(engine);
    set(name, indexed(engine->io_names, index, "I/O tensor"));
  });
}
kiln_status kiln_engine_tensor_io_mode(const kiln_engine* engine, const char* name, int32_t* mode) {
  return guard([&] { set(mode, static_cast<int32_t>(eng(engine).tensorIOMode(str(name, "name")))); });
}
kiln_status kiln_engine_tensor_type(const kiln_engine* engine, const char* name, int32_t* type) {
  return guard([&] { set(type, static_cast<int32_t>(eng(engine).tensorType(str(name, "name")))); });
}
kiln_status kiln_engine_tensor_shape(const kiln_engine* engine, const char* name, kiln_dims* dims) {
  return guard([&] { fromDims(eng(engine).tensorShape(str(name, "name")), dims); });
}
kiln_status kiln_engine_num_optimization_profiles(const kiln_engine* engine, int32_t* count) {
  return guard([&] { set(count, eng(engine).numOptimizationProfiles()); });
}
kiln_status kiln_engine_profile_dims(const kiln_engine* engine, const char* input, int32_t profile, kiln_dims* min,
                                     kiln_dims* opt, kiln_dims* max) {
  return guard([&] {
    kiln::ProfileDims d = eng(engine).profileDims(str(input, "input"), profile);
    fromDims(d.min, min);
    fromDims(d.opt, opt);
    fromDims(d.max, max);
  });
}
kiln_status kiln_engine_is_shape_input(const kiln_engine* engine, const char* input, int32_t* is_shape) {
  return guard([&] { set(is_shape, eng(engine).isShapeInput(str(input, "input")) ? 1 : 0); });
}
kiln_status kiln_engine_device_memory_size(const kiln_engine* engine, int32_t profile, size_t* bytes) {
  return guard([&] { set(bytes, eng(engine).deviceMemorySize(profile)); });
}
kiln_status kiln_engine_weights_size(const kiln_engine* engine, size_t* bytes) {
  return guard([&] { set(bytes, eng(engine).weightsSize()); });
}
kiln_status kiln_engine_refittable(const kiln_engine* engine, int32_t* refittable) {
  return guard([&] { set(refittable, eng(engine).refittable() ? 1 : 0); });
}
kiln_status kiln_engine_weights_stripped(const kiln_engine* engine, int32_t* stripped) {
  return guard([&] { set(stripped, eng(engine).weightsStripped() ? 1 : 0); });
}
kiln_status kiln_engine_device(const kiln_engine* engine, int32_t* device) {
  return guard([&] { set(device, static_cast<int32_t>(eng(engine).device())); });
}
kiln_status kiln_engine_debug_tensors(const kiln_engine* engine, kiln_string_list** names) {
  return guard([&] {
    require(names, "names");
    *names = makeList(eng(engine).debugTensors());
  });
}
kiln_status kiln_engine_layers_json(const kiln_engine* engine, int32_t profile, char** json) {
  return guard([&] {
    require(json, "json");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& l : eng(engine).layers(profile))
      out.push_back({{"name", l.name},
                     {"op", l.op},
                     {"tactic", l.tactic},
                     {"source", std::string(kiln::toString(l.source))},
                     {"tactic_id", l.tactic_id},
                     {"precision", l.precision},
                     {"inputs", l.inputs},
                     {"outputs", l.outputs}});
    *json = copyString(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}
kiln_status kiln_engine_compatibility_json(const kiln_engine* engine, char** json) {
  return guard([&] {
    require(json, "json");
    kiln::CompatibilityInfo c = eng(engine).compatibility();
    nlohmann::json out = {
        {"format_version", c.format_version},
        {"kiln_version", c.kiln_version},
        {"device", c.device == kiln::DeviceKind::kGPU ? "gpu" : "cpu"},
        {"architecture", c.architecture},
        {"hardware_compatibility",
         c.level == kiln::HardwareCompatibility::kAMPERE_PLUS ? "ampere_plus" : "same_architecture"},
        {"version_compatible", c.version_compatible},
    };
    *json = copyString(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}
kiln_status kiln_engine_create_execution_context(kiln_engine* engine, int32_t memory, kiln_context** context) {
  return guard([&] {
    require(engine, "engine");
    require(context, "context");
    if (memory < KILN_MEMORY_ENGINE_MANAGED || memory > KILN_MEMORY_SHAPE_SIZED)
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "unknown context memory mode " + std::to_string(memory));
    auto c = std::make_unique<kiln_context>();
    c->context = engine->engine.createExecutionContext(static_cast<kiln::ContextMemory>(memory));
    size_t bound = engine->engine.weightsSize();
    for (int32_t p = 0; p < engine->engine.numOptimizationProfiles(); ++p)
      bound = std::max(bound, engine->engine.deviceMemorySize(p));
    c->debug_bound = bound;
    *context = c.release();
  });
}

// ---- execution context -----------------------------------------------------------------
void kiln_context_destroy(kiln_context* context) { delete context; }

kiln_status kiln_context_set_optimization_profile(kiln_context* context, int32_t profile) {
  return guard([&] { ctx(context).setOptimizationProfile(profile); });
}
kiln_status kiln_context_get_optimization_profile(const kiln_context* context, int32_t* profile) {
  return guard([&] { set(profile, ctx(context).optimizationProfile()); });
}
kiln_status kiln_context_set_input_shape(kiln_context* context, const char* input, const kiln_dims* dims) {
  return guard([&] { ctx(context).setInputShape(str(input, "input"), toDims(dims, "dims")); });
}
kiln_status kiln_context_set_input_shape_values(kiln_context* context, const char* input, const int64_t* values,
                                                size_t count) {
  return guard([&] {
    if (count > 0) require(values, "values");
    ctx(context).setInputShapeValues(str(input, "input"),
                                     count ? std::vector<int64_t>(values, values + count) : std::vector<int64_t>{});
  });
}
kiln_status kiln_context_get_tensor_shape(const kiln_context* context, const char* name, kiln_dims* dims) {
  return guard([&] { fromDims(ctx(context).tensorShape(str(name, "name")), dims); });
}
kiln_status kiln_context_all_input_shapes_specified(const kiln_context* context, int32_t* specified) {
  return guard([&] { set(specified, ctx(context).allInputShapesSpecified() ? 1 : 0); });
}
kiln_status kiln_context_set_tensor_address(kiln_context* context, const char* name, void* address) {
  return guard([&] { ctx(context).setTensorAddress(str(name, "name"), address); });
}
kiln_status kiln_context_get_tensor_address(const kiln_context* context, const char* name, void** address) {
  return guard([&] { set(address, ctx(context).tensorAddress(str(name, "name"))); });
}
kiln_status kiln_context_set_device_memory(kiln_context* context, void* memory, size_t size) {
  return guard([&] { ctx(context).setDeviceMemory(memory, size); });
}
kiln_status kiln_context_required_memory_size(const kiln_context* context, size_t* bytes) {
  return guard([&] { set(bytes, ctx(context).requiredMemorySize()); });
}
kiln_status kiln_context_enqueue(kiln_context* context, void* stream) {
  return guard([&] { ctx(context).enqueue(stream); });
}
kiln_status kiln_context_set_cuda_graph_mode(kiln_context* context, int32_t on) {
  return guard([&] { ctx(context).setCudaGraphMode(on != 0); });
}
kiln_status kiln_context_get_cuda_graph_mode(const kiln_context* context, int32_t* on) {
  return guard([&] { set(on, ctx(context).cudaGraphMode() ? 1 : 0); });
}
kiln_status kiln_context_cuda_graph_count(const kiln_context* context, size_t* count) {
  return guard([&] { set(count, ctx(context).cudaGraphCount()); });
}
kiln_status kiln_context_set_profiler(kiln_context* context, kiln_profiler_fn fn, void* user) {
  return guard([&] {
    kiln::ExecutionContext& c = ctx(context);
    if (!fn) {
      c.setProfiler(nullptr);
      return;
    }
    context->profiler.fn = fn;
    context->profiler.user = user;
    c.setProfiler(&context->profiler);
  });
}
kiln_status kiln_context_report_profile(kiln_context* context) {
  return guard([&] { ctx(context).reportProfile(); });
}
kiln_status kiln_context_read_debug_tensor(const kiln_context* context, const char* name, void** data, size_t* size,
                                           kiln_dims* dims, int32_t* type) {
  return guard([&] {
    require(data, "data");
    *data = nullptr;
    std::string n = str(name, "name");
    // No tensor of the engine is larger than its largest activation arena or its weights.
    std::vector<std::byte> host(std::max<size_t>(context ? context->debug_bound : 0, 64));
    kiln::DataType t = kiln::DataType::kFLOAT;
    kiln::Dims shape = ctx(context).readDebugTensor(n, host.data(), host.size(), &t);
    size_t bytes = static_cast<size_t>(kiln::volume(shape)) * kiln::elementSize(t);
    fromDims(shape, dims);
    set(type, static_cast<int32_t>(t));
    *data = copyOut(host.data(), bytes);
    set(size, bytes);
  });
}

// ---- refitter --------------------------------------------------------------------------
namespace {
kiln::Refitter& ref(const kiln_refitter* r) {
  require(r, "refitter");
  return *r->refitter;
}
}  // namespace

kiln_status kiln_refitter_create(kiln_engine* engine, kiln_refitter** refitter) {
  return guard([&] {
    require(engine, "engine");
    require(refitter, "refitter");
    auto r = std::make_unique<kiln_refitter>();
    r->refitter = std::make_unique<kiln::Refitter>(engine->engine);
    *refitter = r.release();
  });
}
void kiln_refitter_destroy(kiln_refitter* refitter) { delete refitter; }

kiln_status kiln_refitter_weight_names(const kiln_refitter* refitter, kiln_string_list** names) {
  return guard([&] {
    require(names, "names");
    *names = makeList(ref(refitter).weightNames());
  });
}
kiln_status kiln_refitter_set_named_weights(kiln_refitter* refitter, const char* name, int32_t type,
                                            const kiln_dims* dims, const void* values, size_t size) {
  return guard([&] {
    std::string n = str(name, "name");
    kiln::DataType t = dataType(type);
    kiln::Dims d = toDims(dims, "dims");
    size_t expected = static_cast<size_t>(kiln::volume(d)) * kiln::elementSize(t);
    if (size != expected)
      throw kiln::Error(kiln::ErrorCode::kInvalidArgument, "weight '" + n + "': " + std::to_string(size) +
                                                               " bytes given, its shape " + kiln::toString(d) +
                                                               " of " + std::string(kiln::toString(t)) + " needs " +
                                                               std::to_string(expected));
    if (size) require(values, "values");
    ref(refitter).setNamedWeights(n, t, d, std::span<const std::byte>(static_cast<const std::byte*>(values), size));
  });
}
kiln_status kiln_refitter_missing_weights(const kiln_refitter* refitter, kiln_string_list** names) {
  return guard([&] {
    require(names, "names");
    *names = makeList(ref(refitter).missingWeights());
  });
}
kiln_status kiln_refitter_refit(kiln_refitter* refitter, kiln_string_list** updated) {
  return guard([&] {
    if (updated) *updated = nullptr;
    std::vector<std::string> names = ref(refitter).refit();
    if (updated) *updated = makeList(std::move(names));
  });
}

// ---- memory and streams ----------------------------------------------------------------
kiln_status kiln_buffer_create(int32_t device, int32_t pinned, size_t bytes, kiln_buffer** buffer) {
  return guard([&] {
    require(buffer, "buffer");
    auto b = std::make_unique<kiln_buffer>();
    b->is_pinned = pinned != 0;
    if (b->is_pinned) b->pinned = kiln::PinnedBuffer(deviceKind(device), bytes);
    else b->device = kiln::DeviceBuffer(deviceKind(device), bytes);
    *buffer = b.release();
  });
}
void* kiln_buffer_data(const kiln_buffer* buffer) {
  if (!buffer) return nullptr;
  return buffer->is_pinned ? buffer->pinned.data() : buffer->device.data();
}
size_t kiln_buffer_size(const kiln_buffer* buffer) {
  if (!buffer) return 0;
  return buffer->is_pinned ? buffer->pinned.size() : buffer->device.size();
}
void kiln_buffer_destroy(kiln_buffer* buffer) { delete buffer; }

kiln_status kiln_stream_create(int32_t device, kiln_stream** stream) {
  return guard([&] {
    require(stream, "stream");
    *stream = new kiln_stream(deviceKind(device));
  });
}
void* kiln_stream_handle(const kiln_stream* stream) { return stream ? stream->stream.handle() : nullptr; }
void kiln_stream_destroy(kiln_stream* stream) { delete stream; }

kiln_status kiln_copy_to_device(int32_t device, void* dst, const void* src, size_t bytes, void* stream) {
  return guard([&] {
    if (!bytes) return;
    require(dst, "dst");
    require(src, "src");
    kiln::backend::device(deviceKind(device)).copyToDevice(dst, src, bytes, stream);
  });
}
kiln_status kiln_copy_to_host(int32_t device, void* dst, const void* src, size_t bytes, void* stream) {
  return guard([&] {
    if (!bytes) return;
    require(dst, "dst");
    require(src, "src");
    kiln::backend::device(deviceKind(device)).copyToHost(dst, src, bytes, stream);
  });
}
kiln_status kiln_synchronize(int32_t device, void* stream) {
  return guard([&] { kiln::backend::device(deviceKind(device)).synchronize(stream); });
}

