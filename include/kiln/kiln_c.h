/* kiln's C API: the one stable ABI of kiln (libkiln.so), for C and for any language's
 * foreign-function interface (the Python package `kiln` binds it with ctypes).
 *
 * Conventions
 *  - Objects are opaque handles, made by a *_create / *_load / *_parse function and freed by
 *    the matching *_destroy (which accepts NULL).
 *  - Every function that can fail returns a kiln_status: KILN_OK (0) or the code of the
 *    kiln::Error it caught (KILN_ERROR_*). The message of the last failure on the calling
 *    thread is kiln_last_error() (the same one line as the C++ error's what()). No C++
 *    exception crosses this API.
 *  - Results are written through out-pointers. Strings returned as `const char*` are owned by
 *    the handle they come from and live as long as it does; buffers returned as `void**` or
 *    `char**` are the caller's, freed with kiln_free().
 *  - Callbacks are plain function pointers with a `user` pointer passed back unchanged. They
 *    are called on the thread that runs the build or the context (the logger: any thread).
 *  - Enumerations have the values of the C++ API (the headers next to this one); they are stable.
 */
#ifndef KILN_KILN_C_H_
#define KILN_KILN_C_H_

#include <stddef.h>
#include <stdint.h>

#if defined(KILN_C_BUILDING)
#define KILN_C_API __attribute__((visibility("default")))
#else
#define KILN_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (kiln::ErrorCode) ---------------------------------------------------- */
typedef int32_t kiln_status;
#define KILN_OK 0
#define KILN_ERROR_INVALID_ARGUMENT 1
#define KILN_ERROR_INVALID_MODEL 2
#define KILN_ERROR_UNSUPPORTED 3
#define KILN_ERROR_INVALID_PLAN 4
#define KILN_ERROR_INVALID_CACHE 5
#define KILN_ERROR_IO 6
#define KILN_ERROR_BUILD_FAILED 7
#define KILN_ERROR_CANCELLED 8
#define KILN_ERROR_RUNTIME 9
#define KILN_ERROR_INTERNAL 10

/* ---- enumerations ---------------------------------------------------------------------- */
/* kiln::DataType */
#define KILN_FLOAT 0
#define KILN_HALF 1
#define KILN_BF16 2
#define KILN_DOUBLE 3
#define KILN_INT8 4
#define KILN_UINT8 5
#define KILN_INT16 6
#define KILN_UINT16 7
#define KILN_INT32 8
#define KILN_UINT32 9
#define KILN_INT64 10
#define KILN_UINT64 11
#define KILN_BOOL 12
/* kiln::DeviceKind */
#define KILN_DEVICE_CPU 0
#define KILN_DEVICE_GPU 1
/* kiln::BuilderFlag */
#define KILN_FLAG_FP16 0
#define KILN_FLAG_BF16 1
#define KILN_FLAG_TF32 2
#define KILN_FLAG_REFIT 3
#define KILN_FLAG_STRIP_WEIGHTS 4
#define KILN_FLAG_VERSION_COMPATIBLE 5
/* kiln::HardwareCompatibility */
#define KILN_HW_SAME_ARCHITECTURE 0
#define KILN_HW_AMPERE_PLUS 1
/* kiln::TacticSource */
#define KILN_TACTIC_REFERENCE 0
#define KILN_TACTIC_CPU 1
#define KILN_TACTIC_OPENBLAS 2
#define KILN_TACTIC_KILN_CUDA 3
#define KILN_TACTIC_CUBLAS 4
#define KILN_TACTIC_CUBLAS_LT 5
#define KILN_TACTIC_CUDNN 6
#define KILN_NUM_TACTIC_SOURCES 7
/* kiln::TensorIOMode */
#define KILN_IO_NONE 0
#define KILN_IO_INPUT 1
#define KILN_IO_OUTPUT 2
/* kiln::ContextMemory */
#define KILN_MEMORY_ENGINE_MANAGED 0
#define KILN_MEMORY_USER_MANAGED 1
#define KILN_MEMORY_SHAPE_SIZED 2
/* kiln::Severity */
#define KILN_LOG_ERROR 0
#define KILN_LOG_WARNING 1
#define KILN_LOG_INFO 2
#define KILN_LOG_VERBOSE 3

/* Dimensions of a tensor, outermost first; a negative entry is dynamic (unknown until run
 * time). Ranks above KILN_MAX_DIMS are reported as KILN_ERROR_UNSUPPORTED. */
#define KILN_MAX_DIMS 16
typedef struct kiln_dims {
  int32_t rank;
  int64_t d[KILN_MAX_DIMS];
} kiln_dims;

/* One candidate tactic of one layer (kiln::TacticInfo); the strings live for the callback. */
typedef struct kiln_tactic_info {
  int32_t source;      /* KILN_TACTIC_* */
  uint64_t id;         /* stable id */
  const char* name;    /* kernel and configuration */
  const char* formats; /* e.g. "fp32 linear" */
  size_t workspace;    /* scratch bytes */
  double time_ms;      /* measured median at the profile's opt shape; < 0 if untimed */
} kiln_tactic_info;

/* ---- handles --------------------------------------------------------------------------- */
typedef struct kiln_network kiln_network;
typedef struct kiln_profile kiln_profile;
typedef struct kiln_builder_config kiln_builder_config;
typedef struct kiln_timing_cache kiln_timing_cache;
typedef struct kiln_engine kiln_engine;
typedef struct kiln_context kiln_context;
typedef struct kiln_refitter kiln_refitter;
typedef struct kiln_string_list kiln_string_list;
typedef struct kiln_buffer kiln_buffer;
typedef struct kiln_stream kiln_stream;

/* ---- callbacks ------------------------------------------------------------------------- */
/* Logger: called from any thread; must not block long. */
typedef void (*kiln_log_fn)(void* user, int32_t severity, const char* message);
/* Algorithm selector, called once per layer and profile with every candidate: write the
 * indices of the candidates that may be chosen into `selected` (room for `num_candidates`)
 * and their number into `*num_selected`. Return 0, or non-zero to fail the build
 * (KILN_ERROR_BUILD_FAILED naming the layer). Selecting none is a build error too. */
typedef int32_t (*kiln_select_algorithms_fn)(void* user, const char* layer, const char* op, int32_t profile,
                                             const kiln_tactic_info* candidates, int32_t num_candidates,
                                             int32_t* selected, int32_t* num_selected);
/* Told the final choice of each layer (in layer order) of one profile. */
typedef void (*kiln_report_algorithms_fn)(void* user, int32_t profile, const char* const* layers,
                                          const kiln_tactic_info* choices, int32_t count);
/* Progress monitor: `done` of `total` layers (over all profiles), `layer` just finished.
 * Return non-zero to go on, 0 to cancel the build (it then fails with KILN_ERROR_CANCELLED). */
typedef int32_t (*kiln_progress_fn)(void* user, int32_t done, int32_t total, const char* layer);
/* Per-layer profiler: each layer's time in milliseconds after each run, in layer order. */
typedef void (*kiln_profiler_fn)(void* user, const char* layer, const char* tactic, int32_t source, float ms);

/* ---- library --------------------------------------------------------------------------- */
/* The message of the last failed call on this thread ("" when none failed yet). */
KILN_C_API const char* kiln_last_error(void);
/* The status of the last failed call on this thread (KILN_OK when none failed yet). */
KILN_C_API kiln_status kiln_last_status(void);
/* "invalid_argument", "io", ... for a status; "ok" for KILN_OK. */
KILN_C_API const char* kiln_status_name(kiln_status status);
/* kiln's version, "major.minor.patch". */
KILN_C_API const char* kiln_version(void);
/* 1 when a CUDA GPU is usable (kiln built with CUDA and a device present), else 0. */
KILN_C_API int32_t kiln_gpu_available(void);
/* Frees a buffer or string returned through a `void**` / `char**` out-pointer. */
KILN_C_API void kiln_free(void* p);
/* Installs a logger (NULL: the default logger, warnings and errors on stderr). */
KILN_C_API kiln_status kiln_set_logger(kiln_log_fn fn, void* user);
/* Messages above this severity are dropped (default KILN_LOG_WARNING). */
KILN_C_API kiln_status kiln_set_log_level(int32_t severity);
/* Size in bytes of one element of a KILN_* data type; 0 for an unknown type. */
KILN_C_API size_t kiln_element_size(int32_t type);
/* Name of a data type ("float32", ...) or a tactic source ("cudnn", ...). */
KILN_C_API const char* kiln_data_type_name(int32_t type);
KILN_C_API const char* kiln_tactic_source_name(int32_t source);
/* Tactic source by name (case-insensitive, as the tool's --tactic-sources). */
KILN_C_API kiln_status kiln_parse_tactic_source(const char* name, int32_t* source);

/* ---- string lists ---------------------------------------------------------------------- */
KILN_C_API int32_t kiln_string_list_size(const kiln_string_list* list);
/* The i-th string, or NULL when out of range; valid until the list is destroyed. */
KILN_C_API const char* kiln_string_list_get(const kiln_string_list* list, int32_t index);
KILN_C_API void kiln_string_list_destroy(kiln_string_list* list);

/* ---- network (an imported ONNX model) -------------------------------------------------- */
KILN_C_API kiln_status kiln_network_parse_file(const char* path, kiln_network** network);
/* A model held in memory (no external data); `display_name` (may be NULL) names it in errors. */
KILN_C_API kiln_status kiln_network_parse(const void* data, size_t size, const char* display_name,
                                          kiln_network** network);
KILN_C_API void kiln_network_destroy(kiln_network* network);
KILN_C_API kiln_status kiln_network_num_inputs(const kiln_network* network, int32_t* count);
KILN_C_API kiln_status kiln_network_num_outputs(const kiln_network* network, int32_t* count);
KILN_C_API kiln_status kiln_network_input_name(const kiln_network* network, int32_t index, const char** name);
KILN_C_API kiln_status kiln_network_output_name(const kiln_network* network, int32_t index, const char** name);
KILN_C_API kiln_status kiln_network_tensor_type(const kiln_network* network, const char* tensor, int32_t* type);
KILN_C_API kiln_status kiln_network_tensor_dims(const kiln_network* network, const char* tensor, kiln_dims* dims);
KILN_C_API kiln_status kiln_network_num_layers(const kiln_network* network, int32_t* count);
KILN_C_API kiln_status kiln_network_weight_names(const kiln_network* network, kiln_string_list** names);
/* Keeps an intermediate tensor readable after each run (kiln_context_read_debug_tensor). */
KILN_C_API kiln_status kiln_network_mark_debug(kiln_network* network, const char* tensor);

/* ---- optimization profile -------------------------------------------------------------- */
KILN_C_API kiln_status kiln_profile_create(kiln_profile** profile);
KILN_C_API void kiln_profile_destroy(kiln_profile* profile);
KILN_C_API kiln_status kiln_profile_set_dimensions(kiln_profile* profile, const char* input, const kiln_dims* min,
                                                   const kiln_dims* opt, const kiln_dims* max);
/* KILN_ERROR_INVALID_ARGUMENT when the profile has no range for `input`. */
KILN_C_API kiln_status kiln_profile_get_dimensions(const kiln_profile* profile, const char* input, kiln_dims* min,
                                                   kiln_dims* opt, kiln_dims* max);
/* Values of a shape input (an int32/int64 input whose values determine shapes), `count`
 * entries each, copied (see OptimizationProfile::setShapeValues: min <= opt <= max entry by
 * entry; equal lists fix the profile's shapes). */
KILN_C_API kiln_status kiln_profile_set_shape_values(kiln_profile* profile, const char* input, const int64_t* min,
                                                     const int64_t* opt, const int64_t* max, size_t count);

/* ---- timing cache ---------------------------------------------------------------------- */
KILN_C_API kiln_status kiln_timing_cache_create(kiln_timing_cache** cache);
KILN_C_API kiln_status kiln_timing_cache_deserialize(const void* data, size_t size, kiln_timing_cache** cache);
/* A missing file gives an empty cache; a damaged one fails with KILN_ERROR_INVALID_CACHE. */
KILN_C_API kiln_status kiln_timing_cache_load(const char* path, kiln_timing_cache** cache);
KILN_C_API void kiln_timing_cache_destroy(kiln_timing_cache* cache);
KILN_C_API kiln_status kiln_timing_cache_serialize(const kiln_timing_cache* cache, void** data, size_t* size);
/* Writes atomically. */
KILN_C_API kiln_status kiln_timing_cache_save(const kiln_timing_cache* cache, const char* path);
/* Adds `other`'s entries; on conflict the faster measurement wins. */
KILN_C_API kiln_status kiln_timing_cache_combine(kiln_timing_cache* cache, const kiln_timing_cache* other);
KILN_C_API kiln_status kiln_timing_cache_size(const kiln_timing_cache* cache, size_t* size);
/* The entries as JSON: [{"key", "device", "timings": [{"tactic_id", "tactic", "time_ms"}]}]. */
KILN_C_API kiln_status kiln_timing_cache_entries_json(const kiln_timing_cache* cache, char** json);

/* ---- builder configuration ------------------------------------------------------------- */
KILN_C_API kiln_status kiln_builder_config_create(kiln_builder_config** config);
KILN_C_API void kiln_builder_config_destroy(kiln_builder_config* config);
KILN_C_API kiln_status kiln_builder_config_set_flag(kiln_builder_config* config, int32_t flag, int32_t on);
KILN_C_API kiln_status kiln_builder_config_get_flag(const kiln_builder_config* config, int32_t flag, int32_t* on);
/* Copies the profile in; `*index` (may be NULL) receives its index. */
KILN_C_API kiln_status kiln_builder_config_add_optimization_profile(kiln_builder_config* config,
                                                                    const kiln_profile* profile, int32_t* index);
KILN_C_API kiln_status kiln_builder_config_num_optimization_profiles(const kiln_builder_config* config,
                                                                     int32_t* count);
KILN_C_API kiln_status kiln_builder_config_set_tactic_source(kiln_builder_config* config, int32_t source,
                                                             int32_t enabled);
KILN_C_API kiln_status kiln_builder_config_get_tactic_source(const kiln_builder_config* config, int32_t source,
                                                             int32_t* enabled);
KILN_C_API kiln_status kiln_builder_config_set_workspace_limit(kiln_builder_config* config, size_t bytes);
KILN_C_API kiln_status kiln_builder_config_get_workspace_limit(const kiln_builder_config* config, size_t* bytes);
/* 0: first valid tactic, no timing; 1..5: more candidates and repeats (default 3). */
KILN_C_API kiln_status kiln_builder_config_set_optimization_level(kiln_builder_config* config, int32_t level);
KILN_C_API kiln_status kiln_builder_config_get_optimization_level(const kiln_builder_config* config, int32_t* level);
KILN_C_API kiln_status kiln_builder_config_set_hardware_compatibility(kiln_builder_config* config, int32_t level);
KILN_C_API kiln_status kiln_builder_config_get_hardware_compatibility(const kiln_builder_config* config,
                                                                      int32_t* level);
/* KILN_DEVICE_CPU or KILN_DEVICE_GPU (default: the GPU when one is usable). */
KILN_C_API kiln_status kiln_builder_config_set_device(kiln_builder_config* config, int32_t device);
KILN_C_API kiln_status kiln_builder_config_get_device(const kiln_builder_config* config, int32_t* device);
/* Borrowed (NULL detaches): the cache must outlive the builds; a build reads and updates it. */
KILN_C_API kiln_status kiln_builder_config_set_timing_cache(kiln_builder_config* config, kiln_timing_cache* cache);
/* `select` may be NULL (every candidate allowed), `report` too; both NULL detaches. */
KILN_C_API kiln_status kiln_builder_config_set_algorithm_selector(kiln_builder_config* config,
                                                                  kiln_select_algorithms_fn select,
                                                                  kiln_report_algorithms_fn report, void* user);
KILN_C_API kiln_status kiln_builder_config_set_progress_monitor(kiln_builder_config* config, kiln_progress_fn fn,
                                                                void* user);

/* ---- builder --------------------------------------------------------------------------- */
/* Builds and serializes an engine: `*plan` (kiln_free) of `*plan_size` bytes. `report_json`
 * may be NULL; else it receives the build report (JSON, kiln_free). */
KILN_C_API kiln_status kiln_build_serialized_network(const kiln_network* network, const kiln_builder_config* config,
                                                     void** plan, size_t* plan_size, char** report_json);

/* ---- engine ---------------------------------------------------------------------------- */
/* `weights_path` (may be NULL): an .onnx or .safetensors file for a weight-stripped plan. */
KILN_C_API kiln_status kiln_engine_deserialize(const void* plan, size_t size, const char* weights_path,
                                               kiln_engine** engine);
KILN_C_API kiln_status kiln_engine_load(const char* path, const char* weights_path, kiln_engine** engine);
/* Contexts hold the engine's state alive; a refitter needs its engine. */
KILN_C_API void kiln_engine_destroy(kiln_engine* engine);
KILN_C_API kiln_status kiln_engine_serialize(const kiln_engine* engine, void** plan, size_t* size);
KILN_C_API kiln_status kiln_engine_save(const kiln_engine* engine, const char* path);
KILN_C_API kiln_status kiln_engine_num_io_tensors(const kiln_engine* engine, int32_t* count);
KILN_C_API kiln_status kiln_engine_io_tensor_name(const kiln_engine* engine, int32_t index, const char** name);
KILN_C_API kiln_status kiln_engine_tensor_io_mode(const kiln_engine* engine, const char* name, int32_t* mode);
KILN_C_API kiln_status kiln_engine_tensor_type(const kiln_engine* engine, const char* name, int32_t* type);
/* As built; dynamic dimensions are -1. */
KILN_C_API kiln_status kiln_engine_tensor_shape(const kiln_engine* engine, const char* name, kiln_dims* dims);
KILN_C_API kiln_status kiln_engine_num_optimization_profiles(const kiln_engine* engine, int32_t* count);
KILN_C_API kiln_status kiln_engine_profile_dims(const kiln_engine* engine, const char* input, int32_t profile,
                                               kiln_dims* min, kiln_dims* opt, kiln_dims* max);
/* `*is_shape` = 1 for a shape input (give its values with kiln_context_set_input_shape_values). */
KILN_C_API kiln_status kiln_engine_is_shape_input(const kiln_engine* engine, const char* input, int32_t* is_shape);
KILN_C_API kiln_status kiln_engine_device_memory_size(const kiln_engine* engine, int32_t profile, size_t* bytes);
KILN_C_API kiln_status kiln_engine_weights_size(const kiln_engine* engine, size_t* bytes);
KILN_C_API kiln_status kiln_engine_refittable(const kiln_engine* engine, int32_t* refittable);
KILN_C_API kiln_status kiln_engine_weights_stripped(const kiln_engine* engine, int32_t* stripped);
KILN_C_API kiln_status kiln_engine_device(const kiln_engine* engine, int32_t* device);
KILN_C_API kiln_status kiln_engine_debug_tensors(const kiln_engine* engine, kiln_string_list** names);
/* Layers of a profile as JSON: [{"name", "op", "tactic", "source", "tactic_id", "precision",
 * "inputs", "outputs"}]. */
KILN_C_API kiln_status kiln_engine_layers_json(const kiln_engine* engine, int32_t profile, char** json);
/* {"format_version", "kiln_version", "device", "architecture", "hardware_compatibility",
 * "version_compatible"} */
KILN_C_API kiln_status kiln_engine_compatibility_json(const kiln_engine* engine, char** json);
/* `memory`: KILN_MEMORY_*. */
KILN_C_API kiln_status kiln_engine_create_execution_context(kiln_engine* engine, int32_t memory,
                                                            kiln_context** context);

/* ---- execution context ----------------------------------------------------------------- */
KILN_C_API void kiln_context_destroy(kiln_context* context);
KILN_C_API kiln_status kiln_context_set_optimization_profile(kiln_context* context, int32_t profile);
KILN_C_API kiln_status kiln_context_get_optimization_profile(const kiln_context* context, int32_t* profile);
/* Without an explicit profile, the tightest profile holding all shapes given so far is used. */
KILN_C_API kiln_status kiln_context_set_input_shape(kiln_context* context, const char* input, const kiln_dims* dims);
/* A shape input's values, `count` entries on the host, copied; they must be those its profile
 * was built with. Such an input needs no tensor address. */
KILN_C_API kiln_status kiln_context_set_input_shape_values(kiln_context* context, const char* input,
                                                           const int64_t* values, size_t count);
KILN_C_API kiln_status kiln_context_get_tensor_shape(const kiln_context* context, const char* name, kiln_dims* dims);
KILN_C_API kiln_status kiln_context_all_input_shapes_specified(const kiln_context* context, int32_t* specified);
/* Device memory for GPU engines, host memory for CPU engines. */
KILN_C_API kiln_status kiln_context_set_tensor_address(kiln_context* context, const char* name, void* address);
KILN_C_API kiln_status kiln_context_get_tensor_address(const kiln_context* context, const char* name, void** address);
KILN_C_API kiln_status kiln_context_set_device_memory(kiln_context* context, void* memory, size_t size);
KILN_C_API kiln_status kiln_context_required_memory_size(const kiln_context* context, size_t* bytes);
/* Runs on `stream` (a cudaStream_t; NULL: the default stream; ignored on the CPU, where the
 * run is synchronous). */
KILN_C_API kiln_status kiln_context_enqueue(kiln_context* context, void* stream);
KILN_C_API kiln_status kiln_context_set_cuda_graph_mode(kiln_context* context, int32_t on);
KILN_C_API kiln_status kiln_context_get_cuda_graph_mode(const kiln_context* context, int32_t* on);
KILN_C_API kiln_status kiln_context_cuda_graph_count(const kiln_context* context, size_t* count);
/* NULL detaches. */
KILN_C_API kiln_status kiln_context_set_profiler(kiln_context* context, kiln_profiler_fn fn, void* user);
/* Delivers pending profiler times (synchronizes with the last run). */
KILN_C_API kiln_status kiln_context_report_profile(kiln_context* context);
/* Copies a debug tensor's (or an I/O tensor's) latest value to a new host buffer `*data`
 * (kiln_free) of `*size` bytes; `dims` and `type` (both may be NULL) receive its shape and
 * type. */
KILN_C_API kiln_status kiln_context_read_debug_tensor(const kiln_context* context, const char* name, void** data,
                                                      size_t* size, kiln_dims* dims, int32_t* type);

/* ---- refitter -------------------------------------------------------------------------- */
/* The engine must be refittable and outlive the refitter. */
KILN_C_API kiln_status kiln_refitter_create(kiln_engine* engine, kiln_refitter** refitter);
KILN_C_API void kiln_refitter_destroy(kiln_refitter* refitter);
KILN_C_API kiln_status kiln_refitter_weight_names(const kiln_refitter* refitter, kiln_string_list** names);
/* Stages a new value (copied): `size` must be the byte size of `dims` elements of `type`. */
KILN_C_API kiln_status kiln_refitter_set_named_weights(kiln_refitter* refitter, const char* name, int32_t type,
                                                       const kiln_dims* dims, const void* values, size_t size);
/* Weights that must still be given: fused partners of those given. */
KILN_C_API kiln_status kiln_refitter_missing_weights(const kiln_refitter* refitter, kiln_string_list** names);
/* Applies the staged weights, all or nothing; `updated` (may be NULL) lists the names. */
KILN_C_API kiln_status kiln_refitter_refit(kiln_refitter* refitter, kiln_string_list** updated);

/* ---- memory and streams on a device (host memory and no-ops on the CPU) ------------------ */
/* `pinned` 0: device memory; 1: page-locked host memory (plain host memory on the CPU). */
KILN_C_API kiln_status kiln_buffer_create(int32_t device, int32_t pinned, size_t bytes, kiln_buffer** buffer);
KILN_C_API void* kiln_buffer_data(const kiln_buffer* buffer);
KILN_C_API size_t kiln_buffer_size(const kiln_buffer* buffer);
KILN_C_API void kiln_buffer_destroy(kiln_buffer* buffer);
KILN_C_API kiln_status kiln_stream_create(int32_t device, kiln_stream** stream);
/* The cudaStream_t (NULL on the CPU). */
KILN_C_API void* kiln_stream_handle(const kiln_stream* stream);
KILN_C_API void kiln_stream_destroy(kiln_stream* stream);
/* Copies on any stream of the device (`stream`: a cudaStream_t, e.g. kiln_stream_handle() or
 * a PyTorch stream; NULL: the default stream). Asynchronous on the GPU (host memory should
 * be pinned to overlap), synchronous on the CPU. */
KILN_C_API kiln_status kiln_copy_to_device(int32_t device, void* dst, const void* src, size_t bytes, void* stream);
KILN_C_API kiln_status kiln_copy_to_host(int32_t device, void* dst, const void* src, size_t bytes, void* stream);
/* Waits for everything queued on `stream`. */
KILN_C_API kiln_status kiln_synchronize(int32_t device, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_C_H_ */
