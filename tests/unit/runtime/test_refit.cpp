// Refit through the public API on the CPU backend: weight names, fused (conv+BatchNorm)
// groups, all-or-nothing refits, dynamic shapes, and weight-stripped plans.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "runtime/weights_file.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::compareOutputs;
using testing::cpuConfig;
using testing::randomInput;
using testing::runContext;

BuilderConfig refitConfig(bool strip = false) {
  BuilderConfig config = cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  config.setFlag(BuilderFlag::kREFIT);
  if (strip) config.setFlag(BuilderFlag::kSTRIP_WEIGHTS);
  return config;
}

std::span<const std::byte> bytesOf(const ir::Tensor& t) { return t.bytes(); }

void stage(Refitter& refitter, const testing::Weights& weights, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    const ir::Tensor& t = weights.at(n);
    refitter.setNamedWeights(n, t.type(), t.shape(), bytesOf(t));
  }
}

std::vector<std::string> allNames(const testing::Weights& w) {
  std::vector<std::string> names;
  for (const auto& [n, _] : w) names.push_back(n);
  return names;
}

std::map<std::string, ir::Tensor> run(Engine& engine, const std::map<std::string, ir::Tensor>& in) {
  auto ctx = engine.createExecutionContext();
  return runContext(engine, *ctx, in);
}

TEST(Refit, WeightNamesAreTheOnnxInitializerNames) {
  testing::Weights w = testing::cnnWeights(1);
  Network net = testing::parseModel(testing::cnnModel(1));
  std::vector<std::string> model_names = net.weightNames();
  std::vector<std::string> w_names = allNames(w);
  EXPECT_EQ(std::set<std::string>(model_names.begin(), model_names.end()),
            std::set<std::string>(w_names.begin(), w_names.end()));
  Engine engine = testing::buildEngine(net, refitConfig());
  EXPECT_TRUE(engine.refittable());
  Refitter refitter(engine);
  std::vector<std::string> names = refitter.weightNames();
  std::vector<std::string> expected = allNames(w);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, expected);

  Engine plain = testing::buildEngine(net, [] {
    BuilderConfig c = cpuConfig();
    c.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
    return c;
  }());
  EXPECT_FALSE(plain.refittable());
  EXPECT_THROW(Refitter{plain}, Error);
}

TEST(Refit, AFusedWeightNeedsItsWholeGroup) {
  Network net = testing::parseModel(testing::cnnModel(2));
  Engine engine = testing::buildEngine(net, refitConfig());
  std::map<std::string, ir::Tensor> in{{"x", randomInput({3, 3, 8, 8}, 5)}};
  auto before = run(engine, in);
  testing::Weights fresh = testing::cnnWeights(20);
  Refitter refitter(engine);
  EXPECT_TRUE(refitter.missingWeights().empty());
  stage(refitter, fresh, {"conv1.W"});
  std::vector<std::string> missing = refitter.missingWeights();
  std::sort(missing.begin(), missing.end());
  EXPECT_EQ(missing, (std::vector<std::string>{"bn1.B", "bn1.mean", "bn1.scale", "bn1.var", "conv1.B"}));
  try {
    (void)refitter.refit();
    FAIL() << "refit with half a fused group";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    for (const auto& m : missing) EXPECT_NE(std::string(e.what()).find(m), std::string::npos) << e.what();
  }
  EXPECT_EQ(compareOutputs(before, run(engine, in), 0, 0), "") << "a failed refit changed the engine";
  // Any member of a group names the rest.
  Refitter other(engine);
  stage(other, fresh, {"bn2.var"});
  missing = other.missingWeights();
  std::sort(missing.begin(), missing.end());
  EXPECT_EQ(missing, (std::vector<std::string>{"bn2.B", "bn2.mean", "bn2.scale", "conv2.W"}));
  // A weight that is in no group (the Gemm's) needs nothing else.
  Refitter alone(engine);
  stage(alone, fresh, {"fc.W"});
  EXPECT_TRUE(alone.missingWeights().empty());
}

TEST(Refit, RefittedEngineEqualsAnEngineBuiltFromTheNewWeights) {
  Network net = testing::parseModel(testing::cnnModel(3));
  Engine engine = testing::buildEngine(net, refitConfig());
  testing::Weights fresh = testing::cnnWeights(30);
  Network rebuilt_net = testing::parseModel(testing::cnnModel(3, -1, fresh));
  Engine rebuilt = testing::buildEngine(rebuilt_net, refitConfig());
  std::map<std::string, ir::Tensor> in{{"x", randomInput({4, 3, 8, 8}, 6)}};
  auto old_out = run(engine, in);
  auto ctx = engine.createExecutionContext();  // a context made before the refit sees it too
  (void)runContext(engine, *ctx, in);

  Refitter refitter(engine);
  stage(refitter, fresh, allNames(fresh));
  EXPECT_TRUE(refitter.missingWeights().empty());
  std::vector<std::string> updated = refitter.refit();
  EXPECT_EQ(updated, allNames(fresh));
  auto want = run(rebuilt, in);
  ASSERT_EQ(compareOutputs(testing::reference(rebuilt_net, in), want), "");
  EXPECT_GT(testing::maxAbsDiff(old_out.at("y"), want.at("y")), 1e-3) << "the new weights change nothing?";
  EXPECT_LE(testing::maxAbsDiff(run(engine, in).at("y"), want.at("y")), 1e-5);
  EXPECT_LE(testing::maxAbsDiff(runContext(engine, *ctx, in).at("y"), want.at("y")), 1e-5);

  // Only one group: the other layers keep their weights.
  testing::Weights mixed = testing::cnnWeights(30);
  testing::Weights other = testing::cnnWeights(31);
  for (const char* n : {"conv2.W", "bn2.scale", "bn2.B", "bn2.mean", "bn2.var"}) mixed[n] = other.at(n);
  Network mixed_net = testing::parseModel(testing::cnnModel(3, -1, mixed));
  Refitter second(engine);
  stage(second, other, {"conv2.W", "bn2.scale", "bn2.B", "bn2.mean", "bn2.var"});
  (void)second.refit();
  EXPECT_EQ(compareOutputs(testing::reference(mixed_net, in), run(engine, in)), "");
  // The serialized plan keeps the refitted weights.
  Engine reloaded = Engine::deserialize(engine.serialize());
  EXPECT_EQ(compareOutputs(run(engine, in), run(reloaded, in), 0, 0), "");
}

TEST(Refit, WrongShapeOrTypeIsAnErrorAndTheEngineKeepsItsWeights) {
  Network net = testing::parseModel(testing::cnnModel(4));
  Engine engine = testing::buildEngine(net, refitConfig());
  std::map<std::string, ir::Tensor> in{{"x", randomInput({2, 3, 8, 8}, 7)}};
  auto before = run(engine, in);
  testing::Weights fresh = testing::cnnWeights(40);
  Refitter refitter(engine);
  ir::Tensor wrong_shape = randomInput({8, 3, 3, 2}, 1);
  EXPECT_THROW(refitter.setNamedWeights("conv1.W", DataType::kFLOAT, wrong_shape.shape(), wrong_shape.bytes()), Error);
  ir::Tensor as_half = fresh.at("fc.B").cast(DataType::kHALF);
  try {
    refitter.setNamedWeights("fc.B", DataType::kHALF, as_half.shape(), as_half.bytes());
    FAIL() << "a float16 value for a float32 weight was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("fc.B"), std::string::npos) << e.what();
  }
  const ir::Tensor& b = fresh.at("fc.B");
  EXPECT_THROW(refitter.setNamedWeights("fc.B", DataType::kFLOAT, b.shape(), b.bytes().first(b.byteSize() - 4)), Error);
  EXPECT_THROW(refitter.setNamedWeights("no.such.weight", DataType::kFLOAT, b.shape(), b.bytes()), Error);
  // Good weights staged beside an incomplete group: nothing is applied.
  stage(refitter, fresh, {"fc.W", "fc.B", "conv1.W"});
  EXPECT_THROW((void)refitter.refit(), Error);
  EXPECT_EQ(compareOutputs(before, run(engine, in), 0, 0), "");
}

TEST(Refit, WorksWithDynamicShapes) {
  Network net = testing::parseModel(testing::cnnModel(5));
  Engine engine = testing::buildEngine(net, refitConfig());
  testing::Weights fresh = testing::cnnWeights(50);
  Network new_net = testing::parseModel(testing::cnnModel(5, -1, fresh));
  auto ctx = engine.createExecutionContext();
  std::map<std::string, ir::Tensor> small{{"x", randomInput({1, 3, 8, 8}, 8)}};
  (void)runContext(engine, *ctx, small);
  Refitter refitter(engine);
  stage(refitter, fresh, allNames(fresh));
  (void)refitter.refit();
  for (int64_t batch : {1, 7, 8, 3}) {
    std::map<std::string, ir::Tensor> in{{"x", randomInput({batch, 3, 8, 8}, static_cast<uint32_t>(9 + batch))}};
    EXPECT_EQ(compareOutputs(testing::reference(new_net, in), runContext(engine, *ctx, in)), "") << "batch " << batch;
  }
}

TEST(WeightStrippedPlan, IsSmallAndLoadsItsWeightsFromOnnxOrSafetensors) {
  std::filesystem::path dir = testing::freshTempDir("stripped");
  const int64_t classes = 1000;  // weights large enough to dominate the plan
  onnx::ModelProto model = testing::cnnModel(6, -1, {}, classes);
  const std::string onnx_path = testing::writeModel(model, dir / "model.onnx");
  Network net = OnnxParser::parseFile(onnx_path);
  std::vector<std::byte> full = Builder::buildSerializedNetwork(net, refitConfig());
  std::vector<std::byte> stripped = Builder::buildSerializedNetwork(net, refitConfig(true));
  EXPECT_LT(stripped.size() * 4, full.size()) << "stripped " << stripped.size() << " bytes, full " << full.size();

  std::map<std::string, ir::Tensor> in{{"x", randomInput({3, 3, 8, 8}, 10)}};
  Engine full_engine = Engine::deserialize(full);
  auto want = run(full_engine, in);
  ASSERT_EQ(compareOutputs(testing::reference(net, in), want), "");

  try {
    (void)Engine::deserialize(stripped);
    FAIL() << "a stripped plan loaded without weights";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  }
  Engine from_onnx = Engine::deserialize(stripped, WeightsSource{onnx_path});
  EXPECT_TRUE(from_onnx.weightsStripped());
  EXPECT_EQ(compareOutputs(want, run(from_onnx, in), 0, 0), "");

  std::map<std::string, NamedWeight> named;
  for (const auto& [name, t] : testing::cnnWeights(6, classes))
    named[name] = NamedWeight{t.type(), t.shape(), std::vector<std::byte>(t.bytes().begin(), t.bytes().end())};
  const std::string st_path = (dir / "weights.safetensors").string();
  writeSafetensors(st_path, named);
  Engine from_st = Engine::deserialize(stripped, WeightsSource{st_path});
  EXPECT_EQ(compareOutputs(want, run(from_st, in), 0, 0), "");

  // A missing weight and a mismatched one are named.
  auto expectNamed = [&](std::map<std::string, NamedWeight> weights, const std::string& name) {
    const std::string p = (dir / ("bad_" + name + ".safetensors")).string();
    writeSafetensors(p, weights);
    try {
      (void)Engine::deserialize(stripped, WeightsSource{p});
      ADD_FAILURE() << "loaded with a bad '" << name << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
    }
  };
  auto missing = named;
  missing.erase("bn1.var");
  expectNamed(missing, "bn1.var");
  auto mismatched = named;
  mismatched["fc.B"] = NamedWeight{DataType::kFLOAT, {classes + 1}, std::vector<std::byte>((classes + 1) * 4, std::byte{0})};
  expectNamed(mismatched, "fc.B");

  // Different weights load (as a refit on load) and give that model's outputs.
  testing::Weights other = testing::cnnWeights(7, classes);
  std::map<std::string, NamedWeight> other_named;
  for (const auto& [name, t] : other)
    other_named[name] = NamedWeight{t.type(), t.shape(), std::vector<std::byte>(t.bytes().begin(), t.bytes().end())};
  const std::string other_path = (dir / "other.safetensors").string();
  writeSafetensors(other_path, other_named);
  Engine from_other = Engine::deserialize(stripped, WeightsSource{other_path});
  Network other_net = testing::parseModel(testing::cnnModel(6, -1, other, classes));
  EXPECT_EQ(compareOutputs(testing::reference(other_net, in), run(from_other, in)), "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln
