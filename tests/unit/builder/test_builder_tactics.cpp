// Tactics and the algorithm selector through the public API, on the CPU backend: the CPU
// sources give real choices, switching a source off removes its tactics, and the selector
// sees, restricts and is told the choices.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <set>

#include "backends/backend.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::buildEngine;
using testing::compareOutputs;
using testing::cpuConfig;
using testing::randomInput;
using Json = nlohmann::json;

std::map<std::string, ir::Tensor> cnnInput(int64_t batch, uint32_t seed) {
  return {{"x", randomInput({batch, 3, 8, 8}, seed)}};
}

BuilderConfig cnnConfig() {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  return config;
}

BuilderConfig mlpConfig() {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 8, 16));
  return config;
}

// Runs `engine` at batch 3 and compares with the reference.
void expectMatchesReference(const Network& net, Engine& engine, const std::map<std::string, ir::Tensor>& inputs) {
  auto ctx = engine.createExecutionContext();
  auto out = testing::runContext(engine, *ctx, inputs);
  EXPECT_EQ(compareOutputs(testing::reference(net, inputs), out), "");
}

std::set<std::string> sourcesOf(const Json& layer) {
  std::set<std::string> s;
  for (const auto& c : layer["candidates"]) s.insert(c["source"].get<std::string>());
  return s;
}

TEST(BuilderTactics, CpuSourcesGiveSeveralCandidatesForConvGemmAndMatMul) {
  const bool openblas = backend::findProvider("openblas") != nullptr;
  for (const bool cnn : {true, false}) {
    Network net = testing::parseModel(cnn ? testing::cnnModel(1) : testing::mlpModel(1));
    std::string report;
    Engine engine = buildEngine(net, cnn ? cnnConfig() : mlpConfig(), &report);
    Json j = Json::parse(report);
    int heavy = 0;
    for (const auto& layer : j["layers"]) {
      const std::string op = layer["op"];
      if (op != "Conv" && op != "FusedConv" && op != "MatMul" && op != "Gemm" && op != "FusedMatMul") continue;
      ++heavy;
      std::set<std::string> sources = sourcesOf(layer);
      EXPECT_TRUE(sources.count("reference")) << layer["name"];
      if (op != "FusedMatMul") {  // kiln's own CPU GEMM has no epilogues (yet)
        EXPECT_GT(layer["candidates"].size(), 1u) << layer["name"];
        EXPECT_TRUE(sources.count("cpu")) << layer["name"];
      }
      if (openblas) { EXPECT_TRUE(sources.count("openblas")) << layer["name"]; }
      int timed = 0;
      for (const auto& c : layer["candidates"]) timed += c["time_ms"].get<double>() >= 0 ? 1 : 0;
      EXPECT_EQ(timed, static_cast<int>(layer["candidates"].size())) << layer["name"];
    }
    EXPECT_GE(heavy, cnn ? 3 : 3);
    expectMatchesReference(net, engine, cnn ? cnnInput(3, 7) : std::map<std::string, ir::Tensor>{{"x", randomInput({3, 16}, 7)}});
  }
}

TEST(BuilderTactics, SwitchingASourceOffRemovesItsTactics) {
  Network net = testing::parseModel(testing::cnnModel(2));
  for (TacticSource off : {TacticSource::kCPU, TacticSource::kOPENBLAS}) {
    BuilderConfig config = cnnConfig();
    config.setTacticSource(off, false);
    EXPECT_FALSE(config.tacticSourceEnabled(off));
    std::string report;
    Engine engine = buildEngine(net, config, &report);
    Json j = Json::parse(report);
    for (const auto& layer : j["layers"]) {
      EXPECT_EQ(sourcesOf(layer).count(std::string(toString(off))), 0u) << layer["name"] << " still offers " << toString(off);
      EXPECT_NE(layer["source"].get<std::string>(), std::string(toString(off)));
    }
    for (const LayerInfo& l : engine.layers())
      if (l.tactic != "host") { EXPECT_NE(l.source, off) << l.name; }
    expectMatchesReference(net, engine, cnnInput(3, 11));
  }
  // Only the reference source: every layer runs a reference tactic.
  BuilderConfig config = cnnConfig();
  config.setTacticSource(TacticSource::kCPU, false);
  config.setTacticSource(TacticSource::kOPENBLAS, false);
  Engine engine = buildEngine(net, config);
  for (const LayerInfo& l : engine.layers())
    if (l.tactic != "host") { EXPECT_EQ(l.source, TacticSource::kREFERENCE) << l.name; }
  expectMatchesReference(net, engine, cnnInput(5, 12));
}

TEST(BuilderTactics, NoSourceLeftForALayerIsABuildErrorNamingIt) {
  Network net = testing::parseModel(testing::cnnModel(3));
  BuilderConfig config = cnnConfig();
  for (TacticSource s : {TacticSource::kREFERENCE, TacticSource::kCPU, TacticSource::kOPENBLAS})
    config.setTacticSource(s, false);
  try {
    (void)Builder::buildSerializedNetwork(net, config);
    FAIL() << "built with every CPU source off";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(std::string(e.what()).find("conv1"), std::string::npos) << e.what();
  }
  // GlobalAveragePool has reference kernels only: the reference source off fails at that layer.
  BuilderConfig no_ref = cnnConfig();
  no_ref.setTacticSource(TacticSource::kREFERENCE, false);
  try {
    (void)Builder::buildSerializedNetwork(net, no_ref);
    FAIL() << "built with the reference source off";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(std::string(e.what()).find("'gap'"), std::string::npos) << e.what();
  }
}

// ---- algorithm selector ----------------------------------------------------------------------

struct Recording : AlgorithmSelector {
  struct Seen {
    std::string layer, op;
    int32_t profile;
    std::vector<TacticInfo> candidates;
  };
  std::vector<Seen> seen;
  std::vector<std::string> reported_layers;
  std::vector<TacticInfo> reported;
  std::function<std::vector<size_t>(const Seen&)> choose;

  std::vector<size_t> selectAlgorithms(const std::string& layer, const std::string& op, int32_t profile,
                                       std::span<const TacticInfo> candidates) override {
    seen.push_back({layer, op, profile, {candidates.begin(), candidates.end()}});
    if (choose) return choose(seen.back());
    std::vector<size_t> all(candidates.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }
  void reportAlgorithms(int32_t profile, std::span<const std::string> layers, std::span<const TacticInfo> choices) override {
    EXPECT_EQ(profile, 0);
    reported_layers.assign(layers.begin(), layers.end());
    reported.assign(choices.begin(), choices.end());
  }
};

TEST(AlgorithmSelector, SeesEveryCandidateWithSourceIdWorkspaceAndTime) {
  Network net = testing::parseModel(testing::cnnModel(4));
  Recording selector;
  BuilderConfig config = cnnConfig();
  config.setAlgorithmSelector(&selector);
  std::string report;
  Engine engine = buildEngine(net, config, &report);
  // Views (view:alias) have nothing to choose from: the selector does not see them.
  Json j = Json::array();
  const Json full = Json::parse(report);
  for (const Json& l : full["layers"])
    if (l["choice"] != "view:alias") j.push_back(l);
  ASSERT_EQ(selector.seen.size(), j.size());
  for (size_t i = 0; i < selector.seen.size(); ++i) {
    const auto& s = selector.seen[i];
    const Json& layer = j[i];
    EXPECT_EQ(s.layer, layer["name"].get<std::string>());
    EXPECT_EQ(s.op, layer["op"].get<std::string>());
    std::vector<const Json*> usable;
    for (const auto& c : layer["candidates"])
      if (!c["failed"].get<bool>()) usable.push_back(&c);
    ASSERT_EQ(s.candidates.size(), usable.size()) << s.layer;
    for (size_t k = 0; k < usable.size(); ++k) {
      const TacticInfo& t = s.candidates[k];
      EXPECT_EQ(std::string(toString(t.source)), (*usable[k])["source"].get<std::string>());
      EXPECT_EQ(t.id, (*usable[k])["id"].get<uint64_t>());
      EXPECT_EQ(t.workspace, (*usable[k])["workspace"].get<size_t>());
      EXPECT_FALSE(t.name.empty());
      EXPECT_FALSE(t.formats.empty()) << t.name;
      if (s.candidates.size() > 1) { EXPECT_GE(t.time_ms, 0.0) << s.layer << " " << t.name; }
    }
  }
}

TEST(AlgorithmSelector, RestrictsTheChoiceAndIsToldTheFinalChoices) {
  Network net = testing::parseModel(testing::cnnModel(5));
  // Allow only the last candidate of each layer (never the fastest-first ordering's pick).
  Recording selector;
  selector.choose = [](const Recording::Seen& s) { return std::vector<size_t>{s.candidates.size() - 1}; };
  BuilderConfig config = cnnConfig();
  config.setAlgorithmSelector(&selector);
  Engine engine = buildEngine(net, config);
  std::map<std::string, uint64_t> allowed;
  for (const auto& s : selector.seen) allowed[s.layer] = s.candidates.back().id;
  std::vector<LayerInfo> layers = engine.layers();
  int device_layers = 0;
  for (const LayerInfo& l : layers) {
    if (l.tactic == "host" || l.tactic == "view:alias") continue;
    ASSERT_TRUE(allowed.count(l.name)) << l.name;
    EXPECT_EQ(l.tactic_id, allowed[l.name]) << l.name << " runs " << l.tactic;
    ++device_layers;
  }
  // reportAlgorithms: every device layer in order, with the chosen tactic.
  ASSERT_EQ(static_cast<int>(selector.reported_layers.size()), device_layers);
  ASSERT_EQ(selector.reported.size(), selector.reported_layers.size());
  size_t k = 0;
  for (const LayerInfo& l : layers) {
    if (l.tactic == "host" || l.tactic == "view:alias") continue;
    EXPECT_EQ(selector.reported_layers[k], l.name);
    EXPECT_EQ(selector.reported[k].id, l.tactic_id);
    EXPECT_EQ(selector.reported[k].source, l.source);
    ++k;
  }
  expectMatchesReference(net, engine, cnnInput(3, 21));

  // Only reference tactics for the convolutions.
  Recording ref_only;
  ref_only.choose = [](const Recording::Seen& s) {
    std::vector<size_t> keep;
    for (size_t i = 0; i < s.candidates.size(); ++i)
      if (s.op != "Conv" || s.candidates[i].source == TacticSource::kREFERENCE) keep.push_back(i);
    return keep;
  };
  BuilderConfig config2 = cnnConfig();
  config2.setAlgorithmSelector(&ref_only);
  Engine engine2 = buildEngine(net, config2);
  for (const LayerInfo& l : engine2.layers())
    if (l.op == "Conv") { EXPECT_EQ(l.source, TacticSource::kREFERENCE) << l.name; }
  expectMatchesReference(net, engine2, cnnInput(2, 22));
}

TEST(AlgorithmSelector, DenyingEveryCandidateOfALayerIsABuildErrorNamingIt) {
  Network net = testing::parseModel(testing::cnnModel(6));
  Recording selector;
  selector.choose = [](const Recording::Seen& s) {
    std::vector<size_t> all;
    if (s.layer != "fc")
      for (size_t i = 0; i < s.candidates.size(); ++i) all.push_back(i);
    return all;
  };
  BuilderConfig config = cnnConfig();
  config.setAlgorithmSelector(&selector);
  try {
    (void)Builder::buildSerializedNetwork(net, config);
    FAIL() << "built with every tactic of 'fc' denied";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed);
    EXPECT_NE(std::string(e.what()).find("'fc'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
