// Refit against build: a Refitter replacing every weight of an engine (conv+BatchNorm groups
// included) against a full build of the same model, on the CPU. Refit must be far cheaper.
//
//   ./kiln_refit_bench                       # both, with the ratio in the refit's counters
#include <benchmark/benchmark.h>

#include <chrono>

#include "support/models.h"

namespace {

using namespace kiln;

struct Fixture {
  Network net = testing::parseModel(testing::cnnModel(1, -1, {}, 256));
  testing::Weights fresh = testing::cnnWeights(2, 256);
  BuilderConfig config = [] {
    BuilderConfig c = testing::cpuConfig();
    c.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 8, 32));
    c.setFlag(BuilderFlag::kREFIT);
    return c;
  }();
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

double g_build_ms = 0;

void BM_FullBuild(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::byte> plan = Builder::buildSerializedNetwork(f.net, f.config);
    Engine engine = Engine::deserialize(plan);
    benchmark::DoNotOptimize(engine.weightsSize());
    g_build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
}
BENCHMARK(BM_FullBuild)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_RefitAllWeights(benchmark::State& state) {
  Fixture& f = fixture();
  Engine engine = Engine::deserialize(Builder::buildSerializedNetwork(f.net, f.config));
  double total_ms = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    Refitter refitter(engine);
    for (const auto& [name, t] : f.fresh) refitter.setNamedWeights(name, t.type(), t.shape(), t.bytes());
    benchmark::DoNotOptimize(refitter.refit());
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
  }
  const double refit_ms = n ? total_ms / static_cast<double>(n) : 0;
  if (g_build_ms > 0 && refit_ms > 0) state.counters["build_over_refit"] = g_build_ms / refit_ms;
}
BENCHMARK(BM_RefitAllWeights)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
