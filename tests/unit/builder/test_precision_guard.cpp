// The precision guard and per-layer precision on CPU engines: a network whose middle overflows
// float16 (x 1e6, then / 1e6) and one whose middle underflows it (x 1e-9, then / 1e-9) are
// wrong in a plain float16 build and right (finite, within 1e-2 of float32) with the guard,
// which names the layers it pinned and why; --layer-precision pins by name, obey / prefer.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/models.h"

namespace kiln {
namespace {

using Json = nlohmann::json;
using Tensors = std::map<std::string, ir::Tensor>;

constexpr double kTolerance = 1e-2;

BuilderConfig fp16Config() {
  BuilderConfig config = testing::cpuConfig();
  config.setFlag(BuilderFlag::kFP16);
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
  return config;
}

Tensors input(int64_t batch) { return {{"x", testing::randomInput({batch, 16}, static_cast<uint32_t>(7 + batch))}}; }

//! Relative L2 error of `actual` against `expected` (infinity when anything is not finite).
double relativeError(const ir::Tensor& expected, const ir::Tensor& actual) {
  const std::vector<double> a = expected.toDouble(), b = actual.toDouble();
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(b[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

//! The engine's error against the float32 reference at two batch sizes (the larger).
double engineError(const Network& net, Engine& engine) {
  double worst = 0;
  auto ctx = engine.createExecutionContext();
  for (int64_t batch : {3, 8}) {
    Tensors in = input(batch);
    Tensors out = testing::runContext(engine, *ctx, in);
    worst = std::max(worst, relativeError(testing::reference(net, in).at("y"), out.at("y")));
  }
  return worst;
}

std::map<std::string, std::string> pinned(const std::string& report) {
  std::map<std::string, std::string> layers;
  const Json parsed = Json::parse(report);
  for (const auto& p : parsed["precision_guard"]) layers[p["layer"]] = p["reason"];
  return layers;
}

std::string precisionOf(const Engine& engine, const std::string& layer) {
  for (const LayerInfo& l : engine.layers())
    if (l.name == layer) return l.precision;
  return "(no layer " + layer + ")";
}

class PrecisionGuard : public ::testing::TestWithParam<float> {};

TEST_P(PrecisionGuard, WrongWithoutTheGuardRightWithItAndThePinnedLayersAreNamed) {
  const float scale = GetParam();
  const std::string broken = scale > 1 ? "overflows float16" : "underflows float16";
  Network net = testing::parseModel(testing::scaledModel(3, scale));

  BuilderConfig off = fp16Config();
  off.setPrecisionGuard(false);
  std::string off_report;
  Engine unguarded = testing::buildEngine(net, off, &off_report);
  EXPECT_TRUE(pinned(off_report).empty());
  EXPECT_GT(engineError(net, unguarded), kTolerance) << "the test network does not break float16";

  std::string report;
  Engine guarded = testing::buildEngine(net, fp16Config(), &report);
  EXPECT_LE(engineError(net, guarded), kTolerance);
  std::map<std::string, std::string> layers = pinned(report);
  ASSERT_TRUE(layers.count("scale_up")) << Json::parse(report)["precision_guard"].dump();
  EXPECT_NE(layers["scale_up"].find(broken), std::string::npos) << layers["scale_up"];
  EXPECT_FALSE(layers.count("fc1")) << "fc1 computes within float16's range: " << layers["fc1"];
  EXPECT_EQ(precisionOf(guarded, "scale_up"), "float32");
  EXPECT_EQ(precisionOf(guarded, "fc1"), "float16");
}

INSTANTIATE_TEST_SUITE_P(OverflowAndUnderflow, PrecisionGuard, ::testing::Values(1e6f, 1e-9f));

TEST(LayerPrecision, PinnedByNameTheNetworkIsRightWithoutTheGuard) {
  Network net = testing::parseModel(testing::scaledModel(4, 1e6f));
  BuilderConfig config = fp16Config();
  config.setPrecisionGuard(false);
  config.setLayerPrecision("scale_*", DataType::kFLOAT);
  config.setLayerPrecision("relu", DataType::kFLOAT);
  Engine engine = testing::buildEngine(net, config);
  EXPECT_EQ(precisionOf(engine, "scale_up"), "float32");
  EXPECT_EQ(precisionOf(engine, "relu"), "float32");
  EXPECT_EQ(precisionOf(engine, "fc1"), "float16");
  EXPECT_LE(engineError(net, engine), kTolerance);
}

TEST(LayerPrecision, AFloat16LayerInAFloat32Build) {
  Network net = testing::parseModel(testing::mlpModel(5));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
  config.setLayerPrecision("fc1/*", DataType::kHALF);
  Engine engine = testing::buildEngine(net, config);
  // Each MatMul -> Add -> Relu is one fused layer that keeps the MatMul's name as its prefix.
  EXPECT_EQ(precisionOf(engine, "fc1/matmul+bias+relu"), "float16");
  EXPECT_EQ(precisionOf(engine, "fc0/matmul+bias+relu"), "float32");
  auto ctx = engine.createExecutionContext();
  Tensors in = {{"x", testing::randomInput({5, 16}, 9)}};
  EXPECT_LE(relativeError(testing::reference(net, in).at("y"), testing::runContext(engine, *ctx, in).at("y")), kTolerance);
}

TEST(LayerPrecision, ObeyKeepsTheLayerReducedPreferLetsTheGuardPinIt) {
  Network net = testing::parseModel(testing::scaledModel(6, 1e6f));
  BuilderConfig obey = fp16Config();
  obey.setLayerPrecision("scale_up", DataType::kHALF, PrecisionMode::kOBEY);
  std::string obey_report;
  Engine obeyed = testing::buildEngine(net, obey, &obey_report);
  EXPECT_EQ(precisionOf(obeyed, "scale_up"), "float16");
  EXPECT_FALSE(pinned(obey_report).count("scale_up"));

  BuilderConfig prefer = fp16Config();
  prefer.setLayerPrecision("scale_up", DataType::kHALF, PrecisionMode::kPREFER);
  std::string prefer_report;
  Engine preferred = testing::buildEngine(net, prefer, &prefer_report);
  EXPECT_EQ(precisionOf(preferred, "scale_up"), "float32");
  EXPECT_TRUE(pinned(prefer_report).count("scale_up"));
  EXPECT_LE(engineError(net, preferred), kTolerance);
}

TEST(LayerPrecision, APatternThatMatchesNoLayerIsAnErrorNamingIt) {
  Network net = testing::parseModel(testing::mlpModel(7));
  BuilderConfig config = fp16Config();
  config.setLayerPrecision("no_such_layer*", DataType::kFLOAT);
  try {
    (void)Builder::buildSerializedNetwork(net, config);
    FAIL() << "built with a pattern that matches nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'no_such_layer*:float32' matches no device layer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(config.setLayerPrecision("x", DataType::kINT32), Error);
}

TEST(PrecisionGuardInputs, CalibrationInputsAreCheckedAgainstTheNetwork) {
  Network net = testing::parseModel(testing::mlpModel(8));
  BuilderConfig config = fp16Config();
  config.addCalibrationInput({.name = "nope", .type = DataType::kFLOAT, .shape = {1, 16}, .data = {}});
  try {
    (void)Builder::buildSerializedNetwork(net, config);
    FAIL() << "built with a calibration input for no input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("calibration input 'nope' is not an input"), std::string::npos) << e.what();
  }
  // A calibration input that keeps the middle small: the guard then finds nothing to pin.
  Network scaled = testing::parseModel(testing::scaledModel(9, 1e3f));
  BuilderConfig small = fp16Config();
  ir::Tensor tiny(DataType::kFLOAT, {2, 16});
  for (float& v : tiny.values<float>()) v = 1e-3f;
  std::vector<std::byte> bytes(tiny.byteSize());
  std::memcpy(bytes.data(), tiny.raw(), bytes.size());
  small.addCalibrationInput({.name = "x", .type = DataType::kFLOAT, .shape = {2, 16}, .data = bytes});
  std::string report;
  (void)testing::buildEngine(scaled, small, &report);
  EXPECT_TRUE(pinned(report).empty()) << report.substr(0, 500);
}

}  // namespace
}  // namespace kiln
