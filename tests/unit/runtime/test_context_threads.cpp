// Many execution contexts of one engine, run at once from many threads with different shapes
// (also built into kiln_tsan_tests, under ThreadSanitizer, with -DKILN_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backends/backend.h"
#include "support/models.h"

namespace kiln {
namespace {

// A Relu whose element count is per-shape state, set by reshape() and read by run(), the way
// the GPU kernels keep their launch parameters. Contexts at different shapes that shared one
// such object would race on it (and write past their buffers); each context runs its own
// clone. Offered only while a test turns it on.
std::atomic<bool> stateful_relu_on{false};

class StatefulReluKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<StatefulReluKernel>(*this); }
  void reshape(const backend::LayerView& layer) override { count_ = volume(layer.inputs[0].shape); }
  void run(const backend::RunArgs& args) override {
    const auto* x = static_cast<const float*>(args.inputs[0]);
    auto* y = static_cast<float*>(args.outputs[0]);
    for (int64_t i = 0; i < count_; ++i) y[i] = x[i] > 0 ? x[i] : 0.0f;
  }

 private:
  int64_t count_ = 0;
};

class StatefulReluProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "test.stateful"; }
  TacticSource source() const override { return TacticSource::kCPU; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return op == "Relu"; }
  std::vector<backend::TacticConfig> candidates(const backend::LayerView&, const backend::LayerView& opt,
                                                const backend::LayerView&, const backend::BuildOptions&) const override {
    if (!stateful_relu_on || opt.inputs[0].type != DataType::kFLOAT) return {};
    return {backend::TacticConfig{.name = "relu"}};
  }
  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView&, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<StatefulReluKernel>();
  }
};

KILN_TACTIC_PROVIDER(StatefulReluProvider);

//! Allows only the stateful Relu for Relu layers.
struct OnlyStatefulRelu : AlgorithmSelector {
  std::vector<size_t> selectAlgorithms(const std::string&, const std::string& op, int32_t,
                                       std::span<const TacticInfo> candidates) override {
    std::vector<size_t> keep;
    for (size_t i = 0; i < candidates.size(); ++i)
      if (op != "Relu" || candidates[i].name == "test.stateful:relu") keep.push_back(i);
    return keep;
  }
  void reportAlgorithms(int32_t, std::span<const std::string>, std::span<const TacticInfo>) override {}
};

//! Runs 8 contexts of `engine` from 8 threads, each at changing shapes, against the reference.
void expectContextsRunSideBySide(const Network& net, Engine& engine);

TEST(ExecutionContextThreads, ManyContextsOnOneEngineFromManyThreads) {
  Network net = testing::parseModel(testing::cnnModel(9));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 2, 4));
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 8, 12));
  Engine engine = testing::buildEngine(net, config);
  expectContextsRunSideBySide(net, engine);
}

TEST(ExecutionContextThreads, KernelsWithPerShapeStateAreNotSharedBetweenContexts) {
  stateful_relu_on = true;
  Network net = testing::parseModel(testing::cnnModel(10));
  OnlyStatefulRelu selector;
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 8, 12));
  config.setAlgorithmSelector(&selector);
  config.setOptimizationLevel(0);  // the Relu layers stay (level 1 fuses them into their Convs)
  Engine engine = testing::buildEngine(net, config);
  stateful_relu_on = false;
  int stateful = 0;
  for (const LayerInfo& l : engine.layers()) stateful += l.tactic == "test.stateful:relu" ? 1 : 0;
  ASSERT_EQ(stateful, 2) << "the Relu layers do not run the stateful kernel";
  expectContextsRunSideBySide(net, engine);
}

void expectContextsRunSideBySide(const Network& net, Engine& engine) {
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
