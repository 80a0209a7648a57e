// Many execution contexts of one engine, run at once from many threads with different shapes
// (also built into kiln_tsan_tests, under ThreadSanitizer, with -DKILN_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/models.h"

namespace kiln {
namespace {

TEST(ExecutionContextThreads, ManyContextsOnOneEngineFromManyThreads) {
  Network net = testing::parseModel(testing::cnnModel(9));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 8, 12));
  Engine engine = testing::buildEngine(net, config);

  constexpr int kThreads = 8;
  constexpr int kRuns = 20;
  // Inputs and reference outputs are prepared up front (the reference is not under test).
  std::vector<std::vector<std::map<std::string, ir::Tensor>>> inputs(kThreads);
  std::vector<std::vector<std::map<std::string, ir::Tensor>>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int r = 0; r < 3; ++r) {
      const int64_t batch = 1 + (t * 3 + r * 5) % 12;  // different shapes per thread and run
      inputs[t].push_back({{"x", testing::randomInput({batch, 3, 8, 8}, static_cast<uint32_t>(1000 + 10 * t + r))}});
      expected[t].push_back(testing::reference(net, inputs[t].back()));
    }

  std::atomic<int> failures{0};
  std::vector<std::string> first_failure(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto ctx = engine.createExecutionContext(t % 2 == 0 ? ContextMemory::kENGINE_MANAGED : ContextMemory::kSHAPE_SIZED);
        for (int r = 0; r < kRuns; ++r) {
          const size_t k = static_cast<size_t>(r) % inputs[t].size();
          auto out = testing::runContext(engine, *ctx, inputs[t][k]);
          std::string diff = testing::compareOutputs(expected[t][k], out);
          if (!diff.empty()) {
            if (failures++ == 0 || first_failure[t].empty()) first_failure[t] = "run " + std::to_string(r) + ": " + diff;
          }
        }
      } catch (const std::exception& e) {
        ++failures;
        first_failure[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(first_failure[t].empty()) << "thread " << t << ": " << first_failure[t];
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace kiln
