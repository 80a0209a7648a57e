// Views are not layers: Reshape/Flatten/Squeeze/Unsqueeze/Identity on the device alias their
// input (no kernel, no memory), and engines
// with views compute what the reference does, at several shapes of a dynamic profile, with
// every context memory mode (the lifetime of a view's input covers the view's readers).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"
#include "support/models.h"

namespace kiln {
namespace {

std::string modelPath(const std::string& name) { return std::string(KILN_TEST_DATA_DIR) + "/models/" + name; }

ir::Tensor ids(int64_t batch, int64_t seq, uint32_t seed) {
  std::vector<int64_t> v(static_cast<size_t>(batch * seq));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>((i * 7919u + seed * 104729u) % 512u);
  return ir::Tensor::fromInt64({batch, seq}, v);
}

ir::Tensor mask(int64_t batch, int64_t seq) {
  std::vector<int64_t> v(static_cast<size_t>(batch * seq), 1);
  for (int64_t s = seq - 2; s < seq; ++s) v[static_cast<size_t>(s)] = 0;  // padding in row 0
  return ir::Tensor::fromInt64({batch, seq}, v);
}

TEST(Views, ReshapesAliasTheirInputAndTheEngineMatchesTheReference) {
  Network network = OnnxParser::parseFile(modelPath("bert_tiny_dynamo.onnx"));
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile;
  profile.setDimensions("input_ids", ProfileDims{.min = {1, 3}, .opt = {2, 16}, .max = {4, 32}});
  profile.setDimensions("attention_mask", ProfileDims{.min = {1, 3}, .opt = {2, 16}, .max = {4, 32}});
  config.addOptimizationProfile(profile);
  std::string report;
  Engine engine = testing::buildEngine(network, config, &report);
  int views = 0;
  for (const LayerInfo& l : engine.layers())
    if (l.tactic == "view:alias") {
      ++views;
      EXPECT_TRUE(l.op == "Reshape" || l.op == "Flatten" || l.op == "Squeeze" || l.op == "Unsqueeze" ||
                  l.op == "Identity")
          << l.name << " " << l.op;
    }
  EXPECT_GE(views, 4);
  for (ContextMemory memory : {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED}) {
    auto ctx = engine.createExecutionContext(memory);
    for (auto [batch, seq] : {std::pair<int64_t, int64_t>{1, 3}, {3, 13}, {4, 32}, {2, 16}}) {
      const std::map<std::string, ir::Tensor> in = {{"input_ids", ids(batch, seq, 1)}, {"attention_mask", mask(batch, seq)}};
      const auto expected = testing::reference(network, in);
      const auto actual = testing::runContext(engine, *ctx, in);
      EXPECT_EQ(testing::compareOutputs(expected, actual, 1e-4, 1e-5), "") << batch << "x" << seq;
    }
  }
}

TEST(Views, AReshapeWithARunTimeTargetRunsAsAView) {
  // reshapeChainModel: Relu -> Reshape(target from Shape -> Gather -> Concat) -> MatMul.
  Network network = testing::parseModel(testing::reshapeChainModel(3));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {4, 6}, 1, 2, 5));
  Engine engine = testing::buildEngine(network, config);
  bool any_view = false;
  for (const LayerInfo& l : engine.layers()) any_view = any_view || l.tactic == "view:alias";
  EXPECT_TRUE(any_view);
  auto ctx = engine.createExecutionContext();
  const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({3, 4, 6}, 9)}};
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runContext(engine, *ctx, in)), "");
}

}  // namespace
}  // namespace kiln
