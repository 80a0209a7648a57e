// Engines whose elementwise layers run in place (output 0 over a dying input, see
// builder/memory_plan.h) compute what the reference does, at several shapes of a dynamic
// profile and in every context memory mode; the plan's workspace is the largest that a chosen
// tactic declares; and the memory plan is never below its lower bound on real models.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"
#include "runtime/network_impl.h"
#include "support/models.h"

namespace kiln {
namespace {

std::string modelPath(const std::string& name) { return std::string(KILN_TEST_DATA_DIR) + "/models/" + name; }

TEST(InPlace, ElementwiseLayersRunInPlaceAndTheEngineMatchesTheReference) {
  Network network = testing::parseModel(testing::inPlaceChainModel(5));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {4, 6}, 1, 4, 8));
  std::string report;
  Engine engine = testing::buildEngine(network, config, &report);
  std::map<std::string, int32_t> in_place;
  for (const LayerInfo& l : engine.layers()) in_place[l.name] = l.inplace_input;
  EXPECT_EQ(in_place.at("relu"), 0);
  EXPECT_EQ(in_place.at("bias"), -1);  // relu_out is read again by the product
  EXPECT_EQ(in_place.at("sigmoid"), 0);
  EXPECT_EQ(in_place.at("tanh"), 0);
  EXPECT_EQ(in_place.at("product"), 0);
  EXPECT_EQ(in_place.at("scale"), -1);  // over the graph input x
  EXPECT_EQ(in_place.at("neg"), -1);    // y is a graph output
  const nlohmann::json memory = nlohmann::json::parse(report)["memory"].at(0);
  EXPECT_EQ(memory["in_place_layers"], 4);
  // Two activations of [8, 24] floats are alive at once at most (scaled/relu_out and
  // biased/gate/squashed/product_out); without in-place there would be more.
  EXPECT_EQ(engine.activationLowerBound(0), 2u * 8 * 24 * 4);
  EXPECT_EQ(engine.activationSize(0), engine.activationLowerBound(0));

  for (ContextMemory mode : {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED}) {
    auto ctx = engine.createExecutionContext(mode);
    for (int64_t batch : {1, 3, 8, 4}) {
      const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({batch, 4, 6}, 17 + batch)}};
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, in), testing::runContext(engine, *ctx, in)), "")
          << "batch " << batch;
    }
  }
}

//! The workspace a chosen tactic declares, per layer of `profile`, from the build report.
size_t largestChosenWorkspace(const nlohmann::json& report, int profile) {
  size_t largest = 0;
  for (const auto& layer : report["layers"]) {
    if (layer["profile"] != profile) continue;
    for (const auto& c : layer["candidates"])
      if (c["tactic"] == layer["choice"]) largest = std::max(largest, c["workspace"].get<size_t>());
  }
  return largest;
}

TEST(InPlace, WorkspaceIsTheLargestOfTheChosenTactics) {
  Network network = OnnxParser::parseFile(std::string(KILN_SOURCE_DIR) + "/examples/tiny_cnn.onnx");
  std::string text;
  Engine engine = testing::buildEngine(network, testing::cpuConfig(), &text);
  const nlohmann::json report = nlohmann::json::parse(text);
  EXPECT_EQ(engine.workspaceSize(0), largestChosenWorkspace(report, 0));
  EXPECT_EQ(report["memory"][0]["workspace_bytes"], engine.workspaceSize(0));
}

TEST(InPlace, TheMemoryPlanIsNeverBelowItsLowerBoundOnRealModels) {
  for (const std::string& path : {std::string(KILN_SOURCE_DIR) + "/examples/tiny_cnn.onnx",
                                  modelPath("bert_tiny_dynamo.onnx"), modelPath("gpt2_tiny_dynamo.onnx")}) {
    Network network = OnnxParser::parseFile(path);
    BuilderConfig config = testing::cpuConfig();
    // Dynamic dims (batch, sequence) from 1 to 8.
    OptimizationProfile profile;
    bool dynamic = false;
    for (int id : network.impl().graph.inputs) {
      const ir::TensorInfo& t = network.impl().graph.tensors[id];
      ProfileDims d{.min = t.shape, .opt = t.shape, .max = t.shape};
      for (size_t i = 0; i < t.shape.size(); ++i)
        if (!ir::isKnown(t.shape[i])) {
          d.min[i] = 1, d.opt[i] = 4, d.max[i] = 8;
          dynamic = true;
        }
      profile.setDimensions(t.name, d);
    }
    if (dynamic) config.addOptimizationProfile(profile);
    std::string text;
    Engine engine = testing::buildEngine(network, config, &text);
    const size_t bound = engine.activationLowerBound(0);
    EXPECT_GT(bound, 0u) << path;
    EXPECT_LE(bound, engine.activationSize(0)) << path;
    EXPECT_EQ(engine.deviceMemorySize(0), engine.activationSize(0) + engine.workspaceSize(0)) << path;
    const nlohmann::json memory = nlohmann::json::parse(text)["memory"].at(0);
    EXPECT_EQ(memory["activation_lower_bound_bytes"], bound) << path;
    EXPECT_EQ(memory["activation_bytes"], engine.activationSize(0)) << path;
  }
}

}  // namespace
}  // namespace kiln
