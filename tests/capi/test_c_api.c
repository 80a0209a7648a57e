/* The C API end to end, in plain C against libkiln.so, on the CPU backend:
 * parse -> config (profile, flags, sources, callbacks, timing cache) -> build -> engine ->
 * context -> run -> profiler -> debug tensor -> refit; errors come back as status codes with
 * the C++ message. Usage: test_c_api path/to/tiny_cnn.onnx */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln_c.h"

static int g_failures = 0;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
      ++g_failures;                                                                  \
    }                                                                                \
  } while (0)

#define OK(call)                                                                                \
  do {                                                                                          \
    kiln_status s_ = (call);                                                                    \
    if (s_ != KILN_OK) {                                                                        \
      fprintf(stderr, "%s:%d: %s failed (%s): %s\n", __FILE__, __LINE__, #call,                 \
              kiln_status_name(s_), kiln_last_error());                                         \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

static kiln_dims dims4(int64_t a, int64_t b, int64_t c, int64_t d) {
  kiln_dims r;
  memset(&r, 0, sizeof r);
  r.rank = 4;
  r.d[0] = a, r.d[1] = b, r.d[2] = c, r.d[3] = d;
  return r;
}

/* ---- callbacks ---- */
typedef struct {
  int selected_calls, reported_layers, denied_one, progress_calls, cancel_after, log_messages;
  double profiled_ms;
  int profiled_layers;
} Counters;

static int32_t select_cb(void* user, const char* layer, const char* op, int32_t profile,
                         const kiln_tactic_info* c, int32_t n, int32_t* selected, int32_t* num_selected) {
  Counters* k = (Counters*)user;
  int32_t out = 0;
  ++k->selected_calls;
  for (int32_t i = 0; i < n; ++i) {
    /* Deny conv1's first candidate when it has others: the build must take another. */
    if (strcmp(layer, "conv1") == 0 && n > 1 && i == 0) {
      k->denied_one = 1;
      continue;
    }
    CHECK(c[i].name != NULL && c[i].formats != NULL);
    selected[out++] = i;
  }
  *num_selected = out;
  (void)op, (void)profile;
  return 0;
}

static void report_cb(void* user, int32_t profile, const char* const* layers, const kiln_tactic_info* choices,
                      int32_t count) {
  Counters* k = (Counters*)user;
  for (int32_t i = 0; i < count; ++i) {
    CHECK(layers[i] != NULL && choices[i].name != NULL);
    ++k->reported_layers;
  }
  (void)profile;
}

static int32_t progress_cb(void* user, int32_t done, int32_t total, const char* layer) {
  Counters* k = (Counters*)user;
  ++k->progress_calls;
  CHECK(done >= 1 && done <= total && layer != NULL);
  return k->cancel_after < 0 || k->progress_calls < k->cancel_after;
}

static void profiler_cb(void* user, const char* layer, const char* tactic, int32_t source, float ms) {
  Counters* k = (Counters*)user;
  ++k->profiled_layers;
  k->profiled_ms += ms;
  CHECK(layer != NULL && tactic != NULL && source >= 0 && source < KILN_NUM_TACTIC_SOURCES && ms >= 0);
}

static void log_cb(void* user, int32_t severity, const char* message) {
  ++((Counters*)user)->log_messages;
  (void)severity, (void)message;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s tiny_cnn.onnx\n", argv[0]);
    return 2;
  }
  Counters k;
  memset(&k, 0, sizeof k);
  k.cancel_after = -1;
  printf("kiln %s, GPU %s\n", kiln_version(), kiln_gpu_available() ? "available" : "not available");
  OK(kiln_set_logger(log_cb, &k));
  OK(kiln_set_log_level(KILN_LOG_VERBOSE));

  /* Errors: a status code and the C++ error's one-line message, per thread. */
  kiln_network* bad = NULL;
  CHECK(kiln_network_parse_file("/nonexistent/model.onnx", &bad) == KILN_ERROR_IO);
  CHECK(bad == NULL);
  CHECK(kiln_last_status() == KILN_ERROR_IO);
  CHECK(strstr(kiln_last_error(), "/nonexistent/model.onnx") != NULL);
  CHECK(strchr(kiln_last_error(), '\n') == NULL);
  CHECK(kiln_network_parse("garbage", 7, "garbage.onnx", &bad) == KILN_ERROR_INVALID_MODEL);
  CHECK(strstr(kiln_last_error(), "garbage.onnx") != NULL);
  CHECK(kiln_network_num_inputs(NULL, NULL) == KILN_ERROR_INVALID_ARGUMENT);
  CHECK(strcmp(kiln_status_name(KILN_ERROR_CANCELLED), "cancelled") == 0);
  int32_t src = -1;
  OK(kiln_parse_tactic_source("OpenBLAS", &src));
  CHECK(src == KILN_TACTIC_OPENBLAS);
  CHECK(kiln_parse_tactic_source("nope", &src) == KILN_ERROR_INVALID_ARGUMENT);
  CHECK(kiln_element_size(KILN_HALF) == 2 && strcmp(kiln_data_type_name(KILN_FLOAT), "float32") == 0);

  /* Network. */
  kiln_network* net = NULL;
  OK(kiln_network_parse_file(argv[1], &net));
  int32_t n_in = 0, n_out = 0, n_layers = 0;
  OK(kiln_network_num_inputs(net, &n_in));
  OK(kiln_network_num_outputs(net, &n_out));
  OK(kiln_network_num_layers(net, &n_layers));
  CHECK(n_in == 1 && n_out == 1 && n_layers > 5);
  const char* in_name = NULL;
  const char* out_name = NULL;
  OK(kiln_network_input_name(net, 0, &in_name));
  OK(kiln_network_output_name(net, 0, &out_name));
  CHECK(strcmp(in_name, "image") == 0 && strcmp(out_name, "probabilities") == 0);
  CHECK(kiln_network_input_name(net, 5, &in_name) == KILN_ERROR_INVALID_ARGUMENT);
  kiln_dims d;
  OK(kiln_network_tensor_dims(net, "image", &d));
  CHECK(d.rank == 4 && d.d[1] == 3 && d.d[3] == 32);
  kiln_string_list* weights = NULL;
  OK(kiln_network_weight_names(net, &weights));
  CHECK(kiln_string_list_size(weights) >= 10);
  CHECK(strcmp(kiln_string_list_get(weights, 0), "conv1.weight") == 0);
  CHECK(kiln_string_list_get(weights, 999) == NULL);
  kiln_string_list_destroy(weights);
  OK(kiln_network_mark_debug(net, "pool_out"));
  CHECK(kiln_network_mark_debug(net, "no_such_tensor") == KILN_ERROR_INVALID_ARGUMENT);

  /* Configuration. */
  kiln_builder_config* cfg = NULL;
  OK(kiln_builder_config_create(&cfg));
  OK(kiln_builder_config_set_device(cfg, KILN_DEVICE_CPU));
  OK(kiln_builder_config_set_optimization_level(cfg, 1));
  OK(kiln_builder_config_set_flag(cfg, KILN_FLAG_REFIT, 1));
  int32_t v = 0;
  OK(kiln_builder_config_get_flag(cfg, KILN_FLAG_REFIT, &v));
  CHECK(v == 1);
  OK(kiln_builder_config_set_workspace_limit(cfg, 64u << 20));
  size_t ws = 0;
  OK(kiln_builder_config_get_workspace_limit(cfg, &ws));
  CHECK(ws == 64u << 20);
  OK(kiln_builder_config_set_tactic_source(cfg, KILN_TACTIC_OPENBLAS, 0));
  OK(kiln_builder_config_get_tactic_source(cfg, KILN_TACTIC_OPENBLAS, &v));
  CHECK(v == 0);
  CHECK(kiln_builder_config_set_flag(cfg, 99, 1) == KILN_ERROR_INVALID_ARGUMENT);
  CHECK(kiln_builder_config_set_optimization_level(cfg, 42) == KILN_ERROR_INVALID_ARGUMENT);
  kiln_profile* prof = NULL;
  OK(kiln_profile_create(&prof));
  kiln_dims one = dims4(1, 3, 32, 32);
  OK(kiln_profile_set_dimensions(prof, "image", &one, &one, &one));
  kiln_dims mn, op, mx;
  OK(kiln_profile_get_dimensions(prof, "image", &mn, &op, &mx));
  CHECK(mx.rank == 4 && mx.d[2] == 32);
  CHECK(kiln_profile_get_dimensions(prof, "other", &mn, &op, &mx) == KILN_ERROR_INVALID_ARGUMENT);
  {
    /* Shape values (tiny_cnn has no shape input: this profile is not built). */
    kiln_profile* values_prof = NULL;
    OK(kiln_profile_create(&values_prof));
    const int64_t target[2] = {6, 4};
    OK(kiln_profile_set_shape_values(values_prof, "shape", target, target, target, 2));
    CHECK(kiln_profile_set_shape_values(values_prof, "shape", NULL, target, target, 2) == KILN_ERROR_INVALID_ARGUMENT);
    kiln_profile_destroy(values_prof);
  }
  int32_t index = -1;
  OK(kiln_builder_config_add_optimization_profile(cfg, prof, &index));
  CHECK(index == 0);
  kiln_timing_cache* cache = NULL;
  OK(kiln_timing_cache_create(&cache));
  OK(kiln_builder_config_set_timing_cache(cfg, cache));
  OK(kiln_builder_config_set_algorithm_selector(cfg, select_cb, report_cb, &k));
  OK(kiln_builder_config_set_progress_monitor(cfg, progress_cb, &k));

  /* Build. */
  void* plan = NULL;
  size_t plan_size = 0;
  char* report = NULL;
  OK(kiln_build_serialized_network(net, cfg, &plan, &plan_size, &report));
  CHECK(plan != NULL && plan_size > 1000);
  CHECK(report != NULL && strstr(report, "timing_cache") != NULL);
  CHECK(k.selected_calls > 0 && k.reported_layers > 0 && k.progress_calls > 0);
  size_t entries = 0;
  OK(kiln_timing_cache_size(cache, &entries));
  CHECK(entries > 0);
  char* cache_json = NULL;
  OK(kiln_timing_cache_entries_json(cache, &cache_json));
  CHECK(cache_json[0] == '[');
  kiln_free(cache_json);
  void* cache_bytes = NULL;
  size_t cache_size = 0;
  OK(kiln_timing_cache_serialize(cache, &cache_bytes, &cache_size));
  kiln_timing_cache* cache2 = NULL;
  OK(kiln_timing_cache_deserialize(cache_bytes, cache_size, &cache2));
  OK(kiln_timing_cache_combine(cache2, cache));
  OK(kiln_timing_cache_size(cache2, &entries));
  kiln_free(cache_bytes);
  CHECK(kiln_timing_cache_deserialize("junk", 4, &cache2) == KILN_ERROR_INVALID_CACHE);
  kiln_timing_cache_destroy(cache2);
  kiln_free(report);
  printf("built: %zu-byte plan, %d selector calls, %d layers reported, %d progress calls, cache %zu entries\n",
         plan_size, k.selected_calls, k.reported_layers, k.progress_calls, entries);

  /* Cancelling from the progress monitor. */
  {
    Counters c2;
    memset(&c2, 0, sizeof c2);
    c2.cancel_after = 2;
    OK(kiln_builder_config_set_progress_monitor(cfg, progress_cb, &c2));
    OK(kiln_builder_config_set_timing_cache(cfg, NULL));
    void* p2 = NULL;
    size_t s2 = 0;
    CHECK(kiln_build_serialized_network(net, cfg, &p2, &s2, NULL) == KILN_ERROR_CANCELLED);
    CHECK(p2 == NULL && c2.progress_calls == 2);
    printf("cancelled: %s\n", kiln_last_error());
    OK(kiln_builder_config_set_progress_monitor(cfg, NULL, NULL));
  }

  /* Engine. */
  kiln_engine* engine = NULL;
  OK(kiln_engine_deserialize(plan, plan_size, NULL, &engine));
  kiln_free(plan);
  CHECK(kiln_engine_deserialize("not a plan", 10, NULL, &engine) == KILN_ERROR_INVALID_PLAN);
  int32_t n_io = 0;
  OK(kiln_engine_num_io_tensors(engine, &n_io));
  CHECK(n_io == 2);
  for (int32_t i = 0; i < n_io; ++i) {
    const char* name = NULL;
    int32_t mode = 0, type = -1;
    OK(kiln_engine_io_tensor_name(engine, i, &name));
    OK(kiln_engine_tensor_io_mode(engine, name, &mode));
    OK(kiln_engine_tensor_type(engine, name, &type));
    OK(kiln_engine_tensor_shape(engine, name, &d));
    CHECK(type == KILN_FLOAT);
    CHECK(mode == (strcmp(name, "image") == 0 ? KILN_IO_INPUT : KILN_IO_OUTPUT));
  }
  OK(kiln_engine_num_optimization_profiles(engine, &v));
  CHECK(v == 1);
  OK(kiln_engine_profile_dims(engine, "image", 0, &mn, &op, &mx));
  CHECK(op.d[0] == 1);
  OK(kiln_engine_device(engine, &v));
  CHECK(v == KILN_DEVICE_CPU);
  OK(kiln_engine_refittable(engine, &v));
  CHECK(v == 1);
  char* layers = NULL;
  OK(kiln_engine_layers_json(engine, 0, &layers));
  CHECK(strstr(layers, "\"tactic\"") != NULL);
  kiln_free(layers);
  char* compat = NULL;
  OK(kiln_engine_compatibility_json(engine, &compat));
  CHECK(strstr(compat, "\"device\":\"cpu\"") != NULL);
  kiln_free(compat);
  kiln_string_list* dbg = NULL;
  OK(kiln_engine_debug_tensors(engine, &dbg));
  CHECK(kiln_string_list_size(dbg) == 1 && strcmp(kiln_string_list_get(dbg, 0), "pool_out") == 0);
  kiln_string_list_destroy(dbg);

  /* Context: run on host buffers (CPU engine). */
  kiln_context* context = NULL;
  OK(kiln_engine_create_execution_context(engine, KILN_MEMORY_ENGINE_MANAGED, &context));
  OK(kiln_context_set_input_shape(context, "image", &one));
  kiln_dims too_big = dims4(2, 3, 32, 32);
  CHECK(kiln_context_set_input_shape(context, "image", &too_big) == KILN_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(kiln_last_error(), "image") != NULL);
  OK(kiln_context_all_input_shapes_specified(context, &v));
  CHECK(v == 1);
  OK(kiln_engine_is_shape_input(engine, "image", &v));
  CHECK(v == 0);
  {
    const int64_t k = 3;
    CHECK(kiln_context_set_input_shape_values(context, "image", &k, 1) == KILN_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(), "not a shape input") != NULL);
  }
  OK(kiln_context_get_tensor_shape(context, "probabilities", &d));
  CHECK(d.rank == 2 && d.d[0] == 1 && d.d[1] == 10);
  kiln_buffer* in_buf = NULL;
  kiln_buffer* out_buf = NULL;
  OK(kiln_buffer_create(KILN_DEVICE_CPU, 1, 3 * 32 * 32 * sizeof(float), &in_buf));
  OK(kiln_buffer_create(KILN_DEVICE_CPU, 0, 10 * sizeof(float), &out_buf));
  float* image = (float*)kiln_buffer_data(in_buf);
  for (int i = 0; i < 3 * 32 * 32; ++i) image[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
  OK(kiln_context_set_tensor_address(context, "image", image));
  OK(kiln_context_set_tensor_address(context, "probabilities", kiln_buffer_data(out_buf)));
  void* addr = NULL;
  OK(kiln_context_get_tensor_address(context, "image", &addr));
  CHECK(addr == image);
  OK(kiln_context_set_profiler(context, profiler_cb, &k));
  kiln_stream* stream = NULL;
  OK(kiln_stream_create(KILN_DEVICE_CPU, &stream));
  OK(kiln_context_enqueue(context, kiln_stream_handle(stream)));
  OK(kiln_synchronize(KILN_DEVICE_CPU, kiln_stream_handle(stream)));
  OK(kiln_context_report_profile(context));
  float before[10];
  memcpy(before, kiln_buffer_data(out_buf), sizeof before);
  double sum = 0;
  for (int i = 0; i < 10; ++i) sum += before[i];
  CHECK(fabs(sum - 1.0) < 1e-4);
  CHECK(k.profiled_layers > 0);
  printf("ran: softmax sums to %.6f, profiler saw %d layer times (%.3f ms)\n", sum, k.profiled_layers, k.profiled_ms);

  void* debug = NULL;
  size_t debug_size = 0;
  int32_t debug_type = -1;
  OK(kiln_context_read_debug_tensor(context, "pool_out", &debug, &debug_size, &d, &debug_type));
  CHECK(d.rank == 4 && d.d[1] == 32 && d.d[2] == 16 && debug_size == 32 * 16 * 16 * 4 && debug_type == KILN_FLOAT);
  kiln_free(debug);
  CHECK(kiln_context_read_debug_tensor(context, "conv1_out", &debug, &debug_size, &d, NULL) ==
        KILN_ERROR_INVALID_ARGUMENT);

  /* Refit: conv1.weight alone misses its BatchNorm partners; all of them updates the output. */
  kiln_refitter* refitter = NULL;
  OK(kiln_refitter_create(engine, &refitter));
  kiln_string_list* names = NULL;
  OK(kiln_refitter_weight_names(refitter, &names));
  CHECK(kiln_string_list_size(names) > 0);
  kiln_string_list_destroy(names);
  static float w[16 * 3 * 3 * 3];
  for (int i = 0; i < 16 * 27; ++i) w[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
  kiln_dims wd = dims4(16, 3, 3, 3);
  CHECK(kiln_refitter_set_named_weights(refitter, "conv1.weight", KILN_FLOAT, &wd, w, 10) ==
        KILN_ERROR_INVALID_ARGUMENT);
  OK(kiln_refitter_set_named_weights(refitter, "conv1.weight", KILN_FLOAT, &wd, w, sizeof w));
  kiln_string_list* missing = NULL;
  OK(kiln_refitter_missing_weights(refitter, &missing));
  printf("refit: missing after conv1.weight alone:");
  for (int32_t i = 0; i < kiln_string_list_size(missing); ++i) printf(" %s", kiln_string_list_get(missing, i));
  printf("\n");
  int32_t n_missing = kiln_string_list_size(missing);
  CHECK(n_missing > 0);
  kiln_string_list* updated = NULL;
  CHECK(kiln_refitter_refit(refitter, &updated) == KILN_ERROR_INVALID_ARGUMENT);
  CHECK(updated == NULL);
  /* Give the partners their current values (from the model) scaled: everything is then there. */
  {
    float partner[16];
    kiln_dims pd;
    memset(&pd, 0, sizeof pd);
    pd.rank = 1;
    pd.d[0] = 16;
    for (int32_t i = 0; i < n_missing; ++i) {
      const char* name = kiln_string_list_get(missing, i);
      int is_var = strstr(name, ".var") != NULL || strstr(name, ".scale") != NULL;
      for (int j = 0; j < 16; ++j) partner[j] = is_var ? 1.0f : 0.0f;
      OK(kiln_refitter_set_named_weights(refitter, name, KILN_FLOAT, &pd, partner, sizeof partner));
    }
  }
  kiln_string_list_destroy(missing);
  OK(kiln_refitter_missing_weights(refitter, &missing));
  CHECK(kiln_string_list_size(missing) == 0);
  kiln_string_list_destroy(missing);
  OK(kiln_refitter_refit(refitter, &updated));
  CHECK(kiln_string_list_size(updated) == n_missing + 1);
  kiln_string_list_destroy(updated);
  OK(kiln_context_enqueue(context, NULL));
  const float* after = (const float*)kiln_buffer_data(out_buf);
  double diff = 0;
  for (int i = 0; i < 10; ++i) diff += fabs(after[i] - before[i]);
  CHECK(diff > 1e-4);
  printf("refit: output changed by %.4f (L1)\n", diff);
  kiln_refitter_destroy(refitter);

  /* The engine serializes with its new weights; the context outlives the engine handle. */
  void* plan2 = NULL;
  size_t plan2_size = 0;
  OK(kiln_engine_serialize(engine, &plan2, &plan2_size));
  CHECK(plan2_size > 1000);
  kiln_free(plan2);
  kiln_engine_destroy(engine);
  OK(kiln_context_enqueue(context, NULL));

  kiln_context_set_profiler(context, NULL, NULL);
  kiln_stream_destroy(stream);
  kiln_context_destroy(context);
  kiln_buffer_destroy(in_buf);
  kiln_buffer_destroy(out_buf);
  kiln_timing_cache_destroy(cache);
  kiln_profile_destroy(prof);
  kiln_builder_config_destroy(cfg);
  kiln_network_destroy(net);
  OK(kiln_set_logger(NULL, NULL));
  kiln_network_destroy(NULL);
  kiln_engine_destroy(NULL);

  if (g_failures) {
    fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  printf("c api: all checks passed\n");
  return 0;
}
