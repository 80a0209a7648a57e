// Precision chosen by tactic, on CPU engines. A layer with no tactic in its reduced precision
// runs in float32 under the build's --fp16 and under 'prefer', named in the report's
// "precision_fallback"; under 'obey' the build fails naming the layer and the precision.
// Casts fold into the GEMM before them where a tactic runs the folded layer, and stay where none
// does. Shown with a test-only provider (enabled only inside these tests) that runs the
// reference kernels but refuses what a test tells it to, with the reference source off.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "support/models.h"

namespace kiln {
namespace {

using Json = nlohmann::json;
using Tensors = std::map<std::string, ir::Tensor>;

constexpr double kTolerance = 1e-2;

//! What the test provider refuses; it offers nothing while `on` is false.
struct Refusals {
  bool on = false;
  bool reduced_relu = false;   //!< Relu in float16 / bfloat16
  bool widening_gemm = false;  //!< FusedMatMul whose Y type differs from its inputs'
};

Refusals& refusals() {
  static Refusals r;
  return r;
}

class RestrictedProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "test.restricted"; }
  TacticSource source() const override { return TacticSource::kCPU; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return reference()->supportsOp(op); }
  std::vector<backend::TacticConfig> candidates(const backend::LayerView&, const backend::LayerView& opt,
                                                const backend::LayerView&,
                                                const backend::BuildOptions&) const override {
    const Refusals& r = refusals();
    if (!r.on) return {};
    const std::string& op = opt.node->op;
    const DataType out = opt.outputs.empty() ? DataType::kFLOAT : opt.outputs[0].type;
    if (r.reduced_relu && op == "Relu" && out != DataType::kFLOAT) return {};
    if (r.widening_gemm && op == "FusedMatMul" && out != opt.inputs[0].type) return {};
    return {backend::TacticConfig{.name = "restricted." + op}};
  }
  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return reference()->instantiate(layer, config, device);
  }

 private:
  static const backend::TacticProvider* reference() { return backend::findProvider("reference"); }
};

KILN_TACTIC_PROVIDER(RestrictedProvider);

//! Turns the test provider on for one test, with the reference source off (so that it and
//! cpu.gemm are the only tactics).
struct Restricted {
  explicit Restricted(Refusals r) {
    r.on = true;
    refusals() = r;
  }
  ~Restricted() { refusals() = Refusals{}; }
};

BuilderConfig restrictedConfig(bool fp16, int level) {
  BuilderConfig config = testing::cpuConfig();
  if (fp16) config.setFlag(BuilderFlag::kFP16);
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
  config.setOptimizationLevel(level);
  for (int32_t s = 0; s < kNumTacticSources; ++s) config.setTacticSource(static_cast<TacticSource>(s), false);
  config.setTacticSource(TacticSource::kCPU, true);
  return config;
}

std::string precisionOf(const Engine& engine, const std::string& layer) {
  for (const LayerInfo& l : engine.layers())
    if (l.name == layer) return l.precision;
  return "(no layer " + layer + ")";
}

//! The layer that writes `tensor`.
const LayerInfo* writerOf(const std::vector<LayerInfo>& layers, const std::string& tensor) {
  for (const LayerInfo& l : layers)
    for (const std::string& o : l.outputs)
      if (o == tensor) return &l;
  return nullptr;
}

int castLayers(const Engine& engine) {
  int n = 0;
  for (const LayerInfo& l : engine.layers()) n += l.op == "Cast" ? 1 : 0;
  return n;
}

int foldedCasts(const std::string& report) {
  const Json parsed = Json::parse(report);
  for (const auto& p : parsed["passes"])
    if (p["name"] == "fold_casts") return p["changes"].get<int>();
  return -1;
}

//! The engine's largest relative L2 error against the float32 reference, at odd batches too.
double engineError(const Network& net, Engine& engine) {
  double worst = 0;
  auto ctx = engine.createExecutionContext();
  for (int64_t batch : {1, 3, 7, 8}) {
    Tensors in = {{"x", testing::randomInput({batch, 16}, static_cast<uint32_t>(20 + batch))}};
    const std::vector<double> a = testing::reference(net, in).at("y").toDouble();
    const std::vector<double> b = testing::runContext(engine, *ctx, in).at("y").toDouble();
    if (a.size() != b.size()) return INFINITY;
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!std::isfinite(b[i])) return INFINITY;
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += a[i] * a[i];
    }
    worst = std::max(worst, std::sqrt(num) / std::max(std::sqrt(den), 1e-30));
  }
  return worst;
}

TEST(PrecisionFallback, ALayerWithoutAFloat16TacticRunsInFloat32AndTheReportSaysSo) {
  Restricted restricted({.reduced_relu = true});
  Network net = testing::parseModel(testing::mlpModel(21, 1));
  std::string report;
  Engine engine = testing::buildEngine(net, restrictedConfig(/*fp16=*/true, /*level=*/0), &report);
  EXPECT_EQ(precisionOf(engine, "fc0/relu"), "float32");
  EXPECT_EQ(precisionOf(engine, "fc0/matmul"), "float16");
  EXPECT_EQ(precisionOf(engine, "out/matmul"), "float16");
  const Json fallback = Json::parse(report)["precision_fallback"];
  ASSERT_EQ(fallback.size(), 1u) << fallback.dump();
  EXPECT_EQ(fallback[0]["layer"], "fc0/relu");
  EXPECT_EQ(fallback[0]["requested"], "float16");
  EXPECT_EQ(fallback[0]["used"], "float32");
  EXPECT_NE(fallback[0]["reason"].get<std::string>().find("no tactic"), std::string::npos) << fallback.dump();
  EXPECT_LE(engineError(net, engine), kTolerance);
}

TEST(PrecisionFallback, PreferFallsBackLikeTheBuildDefault) {
  Restricted restricted({.reduced_relu = true});
  Network net = testing::parseModel(testing::mlpModel(22, 1));
  BuilderConfig config = restrictedConfig(/*fp16=*/false, /*level=*/0);
  config.setLayerPrecision("fc0/*", DataType::kHALF, PrecisionMode::kPREFER);
  std::string report;
  Engine engine = testing::buildEngine(net, config, &report);
  EXPECT_EQ(precisionOf(engine, "fc0/relu"), "float32");
  EXPECT_EQ(precisionOf(engine, "fc0/add"), "float16");
  const Json fallback = Json::parse(report)["precision_fallback"];
  ASSERT_EQ(fallback.size(), 1u) << fallback.dump();
  EXPECT_EQ(fallback[0]["layer"], "fc0/relu");
  EXPECT_LE(engineError(net, engine), kTolerance);
}

TEST(PrecisionFallback, ObeyIsABuildErrorNamingTheLayerAndThePrecision) {
  Restricted restricted({.reduced_relu = true});
  Network net = testing::parseModel(testing::mlpModel(23, 1));
  BuilderConfig config = restrictedConfig(/*fp16=*/true, /*level=*/0);
  config.setLayerPrecision("fc0/relu", DataType::kHALF, PrecisionMode::kOBEY);
  try {
    Builder::buildSerializedNetwork(net, config);
    FAIL() << "the build succeeded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kBuildFailed) << what;
    EXPECT_NE(what.find("'fc0/relu'"), std::string::npos) << what;
    EXPECT_NE(what.find("float16"), std::string::npos) << what;
    EXPECT_NE(what.find("obey"), std::string::npos) << what;
  }
}

TEST(PrecisionFallback, NothingFallsBackWhenEveryLayerHasATactic) {
  Network net = testing::parseModel(testing::mlpModel(24, 2));
  BuilderConfig config = testing::cpuConfig();
  config.setFlag(BuilderFlag::kFP16);
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
  std::string report;
  testing::buildEngine(net, config, &report);
  EXPECT_TRUE(Json::parse(report)["precision_fallback"].empty());
}

TEST(CastFolding, AFloat32LayerAfterAFloat16GemmAndTheOutputTakeNoCastLayer) {
  // fc0 (fp16) -> fc1 (pinned fp32) -> out (fp16) -> y: fc0's widening Cast and y's fold into
  // the GEMMs before them; x's Cast and the narrowing one after fc1 stay.
  Network net = testing::parseModel(testing::mlpModel(25, 2));
  BuilderConfig config = testing::cpuConfig();
  config.setFlag(BuilderFlag::kFP16);
  config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 4, 8));
  config.setLayerPrecision("fc1/*", DataType::kFLOAT, PrecisionMode::kOBEY);
  std::string report;
  Engine engine = testing::buildEngine(net, config, &report);
  EXPECT_EQ(foldedCasts(report), 2);
  EXPECT_EQ(castLayers(engine), 2);
  const std::vector<LayerInfo> layers = engine.layers();
  const LayerInfo* y = writerOf(layers, "y");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->op, "FusedMatMul");
  EXPECT_EQ(y->precision, "float16");
  EXPECT_EQ(precisionOf(engine, "fc0/matmul+bias+relu"), "float16");
  EXPECT_EQ(precisionOf(engine, "fc1/matmul+bias+relu"), "float32");
  EXPECT_LE(engineError(net, engine), kTolerance);
}

TEST(CastFolding, ACastStaysWhereNoTacticRunsTheFoldedLayer) {
  Network net = testing::parseModel(testing::mlpModel(26, 1));
  {
    Restricted restricted({.widening_gemm = true});
    std::string report;
    Engine engine = testing::buildEngine(net, restrictedConfig(/*fp16=*/true, /*level=*/1), &report);
    EXPECT_EQ(foldedCasts(report), 0);
    const std::vector<LayerInfo> layers = engine.layers();
    ASSERT_NE(writerOf(layers, "y"), nullptr);
    EXPECT_EQ(writerOf(layers, "y")->op, "Cast");
    EXPECT_LE(engineError(net, engine), kTolerance);
  }
  Restricted restricted({});
  std::string report;
  Engine engine = testing::buildEngine(net, restrictedConfig(/*fp16=*/true, /*level=*/1), &report);
  EXPECT_EQ(foldedCasts(report), 1);
  const std::vector<LayerInfo> layers = engine.layers();
  ASSERT_NE(writerOf(layers, "y"), nullptr);
  EXPECT_EQ(writerOf(layers, "y")->op, "FusedMatMul");
  EXPECT_LE(engineError(net, engine), kTolerance);
}

}  // namespace
}  // namespace kiln
