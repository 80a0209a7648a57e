// A chosen tactic must run at every shape of its optimization profile: the builder runs the
// choice at the profile's min and max and at an odd size between them, and drops a tactic
// that refuses one of them for the next best. Shown on the CPU with a test-only provider whose
// Relu refuses some batch sizes (enabled only inside these tests).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "support/models.h"

namespace kiln {
namespace {

using Json = nlohmann::json;

//! Which batch sizes the test provider's Relu refuses; empty: the provider offers nothing.
std::function<bool(int64_t)>& refusedBatch() {
  static std::function<bool(int64_t)> refused;
  return refused;
}

constexpr const char* kRefusingTactic = "test.refusing:relu";

class RefusingReluKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<RefusingReluKernel>(*this); }
  void reshape(const backend::LayerView& layer) override { batch_ = layer.inputs[0].shape[0]; }
  void run(const backend::RunArgs& args) override {
    if (refusedBatch()(batch_))
      throw Error(ErrorCode::kRuntime, "batch " + std::to_string(batch_) + " is not supported by this tactic");
    const int64_t n = volume(args.layer->inputs[0].shape);
    const auto* x = static_cast<const float*>(args.inputs[0]);
    auto* y = static_cast<float*>(args.outputs[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : 0.0f;
  }

 private:
  int64_t batch_ = 0;
};

class RefusingReluProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "test.refusing"; }
  TacticSource source() const override { return TacticSource::kCPU; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return op == "Relu"; }
  std::vector<backend::TacticConfig> candidates(const backend::LayerView&, const backend::LayerView& opt,
                                                const backend::LayerView&, const backend::BuildOptions&) const override {
    if (!refusedBatch() || opt.inputs[0].type != DataType::kFLOAT) return {};
    return {backend::TacticConfig{.name = "relu"}};
  }
  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView&, const backend::TacticConfig&,
                                               backend::Device&) const override {
    return std::make_unique<RefusingReluKernel>();
  }
};

KILN_TACTIC_PROVIDER(RefusingReluProvider);

//! Turns the test provider on for one test.
struct Refusing {
  explicit Refusing(std::function<bool(int64_t)> refused) { refusedBatch() = std::move(refused); }
  ~Refusing() { refusedBatch() = nullptr; }
};

//! Puts the test provider's candidate first for Relu layers (optimization level 0 takes the
//! first allowed candidate that runs at every shape), or allows only it.
struct RefusingFirst : AlgorithmSelector {
  bool only = false;
  std::vector<size_t> selectAlgorithms(const std::string&, const std::string& op, int32_t,
                                       std::span<const TacticInfo> candidates) override {
    std::vector<size_t> order;
    if (op != "Relu") {
      for (size_t i = 0; i < candidates.size(); ++i) order.push_back(i);
      return order;
    }
    for (size_t i = 0; i < candidates.size(); ++i)
      if (candidates[i].name == kRefusingTactic) order.push_back(i);
    if (!only)
      for (size_t i = 0; i < candidates.size(); ++i)
        if (candidates[i].name != kRefusingTactic) order.push_back(i);
    return order;
  }
  void reportAlgorithms(int32_t, std::span<const std::string>, std::span<const TacticInfo>) override {}
};

BuilderConfig mlpConfig(AlgorithmSelector* selector, int64_t min, int64_t opt, int64_t max) {
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, min, opt, max));
  config.setOptimizationLevel(0);
  config.setAlgorithmSelector(selector);
  return config;
}

//! The report's candidate entry of the test tactic for every Relu layer.
std::vector<Json> refusingCandidates(const std::string& report) {
  std::vector<Json> found;
  const Json parsed = Json::parse(report);
  for (const auto& layer : parsed["layers"])
    if (layer["op"] == "Relu")
      for (const auto& c : layer["candidates"])
        if (c["tactic"] == kRefusingTactic) found.push_back(c);
  return found;
}

void expectRunsLikeTheReference(const Network& net, Engine& engine, std::initializer_list<int64_t> batches) {
  auto ctx = engine.createExecutionContext();
  for (int64_t batch : batches) {
    std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({batch, 16}, static_cast<uint32_t>(40 + batch))}};
    EXPECT_EQ(testing::compareOutputs(testing::reference(net, in), testing::runContext(engine, *ctx, in)), "")
        << "batch " << batch;
  }
}

TEST(ProfileRange, ATacticThatFailsAtTheMinShapeIsReplacedByTheNextBest) {
  Refusing refusing([](int64_t batch) { return batch == 1; });
  Network net = testing::parseModel(testing::mlpModel(3));
  RefusingFirst selector;
  std::string report;
  Engine engine = testing::buildEngine(net, mlpConfig(&selector, 1, 8, 16), &report);
  std::vector<Json> seen = refusingCandidates(report);
  ASSERT_FALSE(seen.empty()) << "the test tactic was never offered";
  for (const Json& c : seen) {
    ASSERT_TRUE(c.contains("rejected")) << c.dump();
    const std::string why = c["rejected"];
    EXPECT_NE(why.find("min shapes (x:1x16)"), std::string::npos) << why;
    EXPECT_NE(why.find("batch 1 is not supported"), std::string::npos) << why;
  }
  for (const LayerInfo& l : engine.layers()) EXPECT_NE(l.tactic, kRefusingTactic) << l.name;
  expectRunsLikeTheReference(net, engine, {1, 8, 16, 5});
}

TEST(ProfileRange, AnOddSizeBetweenMinAndMaxIsCheckedToo) {
  // min 2, opt 8, max 16 are all even; the tactic refuses odd batches.
  Refusing refusing([](int64_t batch) { return batch % 2 != 0; });
  Network net = testing::parseModel(testing::mlpModel(4));
  RefusingFirst selector;
  std::string report;
  Engine engine = testing::buildEngine(net, mlpConfig(&selector, 2, 8, 16), &report);
  std::vector<Json> seen = refusingCandidates(report);
  ASSERT_FALSE(seen.empty());
  for (const Json& c : seen) {
    ASSERT_TRUE(c.contains("rejected")) << c.dump();
    EXPECT_NE(c["rejected"].get<std::string>().find("odd shapes (x:9x16)"), std::string::npos) << c.dump();
  }
  for (const LayerInfo& l : engine.layers()) EXPECT_NE(l.tactic, kRefusingTactic) << l.name;
  expectRunsLikeTheReference(net, engine, {2, 9, 13, 16});
}

TEST(ProfileRange, ATacticValidOverTheWholeRangeIsKept) {
  Refusing refusing([](int64_t batch) { return batch > 16; });  // outside the profile only
  Network net = testing::parseModel(testing::mlpModel(5));
  RefusingFirst selector;
  std::string report;
  Engine engine = testing::buildEngine(net, mlpConfig(&selector, 1, 8, 16), &report);
  std::vector<Json> seen = refusingCandidates(report);
  ASSERT_FALSE(seen.empty());
  for (const Json& c : seen) EXPECT_FALSE(c.contains("rejected")) << c.dump();
  int relus = 0;
  for (const LayerInfo& l : engine.layers())
    if (l.op == "Relu") {
      EXPECT_EQ(l.tactic, kRefusingTactic) << l.name;
      ++relus;
    }
  EXPECT_GT(relus, 0);
  expectRunsLikeTheReference(net, engine, {1, 7, 16});
}

TEST(ProfileRange, NoAllowedTacticValidOverTheRangeIsABuildErrorNamingLayerProfileAndShape) {
  Refusing refusing([](int64_t batch) { return batch == 16; });
  Network net = testing::parseModel(testing::mlpModel(6));
  RefusingFirst selector;
  selector.only = true;
  try {
    (void)Builder::buildSerializedNetwork(net, mlpConfig(&selector, 1, 8, 16));
    FAIL() << "built although the only allowed tactic refuses the max shape";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(what.find("(Relu): no allowed tactic runs at every shape of optimization profile 0"), std::string::npos)
        << what;
    EXPECT_NE(what.find(std::string(kRefusingTactic) + ": fails at the max shapes (x:16x16)"), std::string::npos)
        << what;
  }
}

}  // namespace
}  // namespace kiln
