// Shape inputs at build time: which inputs are shape inputs, the profile values they need, and
// the errors that name them (no values, values out of order, values that do not fit).
#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "support/models.h"

namespace kiln {
namespace {

OptimizationProfile valuesProfile(std::vector<int64_t> shape, std::vector<int64_t> starts) {
  OptimizationProfile profile;
  profile.setShapeValues("shape", shape, shape, shape);
  profile.setShapeValues("starts", starts, starts, starts);
  return profile;
}

//! The message of the kiln::Error `build` throws (with its code), or "" when it throws none.
std::string buildError(const Network& network, const BuilderConfig& config, ErrorCode* code = nullptr) {
  try {
    (void)Builder::buildSerializedNetwork(network, config);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

TEST(ShapeInputs, TheNetworkKnowsWhichInputsDetermineShapes) {
  Network network = testing::parseModel(testing::shapeInputModel());
  EXPECT_TRUE(network.isShapeInput("shape"));
  EXPECT_TRUE(network.isShapeInput("starts"));
  EXPECT_FALSE(network.isShapeInput("x"));
  // An integer input that only carries data is no shape input.
  Network plain = testing::parseModel(testing::reshapeChainModel(1));
  EXPECT_FALSE(plain.isShapeInput("x"));
}

TEST(ShapeInputs, ABuildWithoutValuesNamesEveryShapeInputAndSaysWhatToCall) {
  Network network = testing::parseModel(testing::shapeInputModel());
  ErrorCode code = ErrorCode::kInternal;
  const std::string message = buildError(network, testing::cpuConfig(), &code);
  EXPECT_EQ(code, ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("shape inputs 'shape'"), std::string::npos) << message;
  EXPECT_NE(message.find("'starts'"), std::string::npos) << message;
  EXPECT_NE(message.find("setShapeValues"), std::string::npos) << message;
  EXPECT_NE(message.find("--shape-values"), std::string::npos) << message;
  EXPECT_NE(message.find("optimization profile 0"), std::string::npos) << message;

  // One input given, the other still missing: the error names only that one.
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile;
  profile.setShapeValues("shape", {6, 4}, {6, 4}, {6, 4});
  config.addOptimizationProfile(profile);
  const std::string one = buildError(network, config);
  EXPECT_NE(one.find("'starts'"), std::string::npos) << one;
  EXPECT_EQ(one.find("'shape'"), std::string::npos) << one;
}

TEST(ShapeInputs, ValuesOutOfOrderAreRefusedNamingTheInput) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile = valuesProfile({6, 4}, {1});
  profile.setShapeValues("starts", {2}, {1}, {3});  // opt below min
  config.addOptimizationProfile(profile);
  ErrorCode code = ErrorCode::kInternal;
  const std::string message = buildError(network, config, &code);
  EXPECT_EQ(code, ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("shape input 'starts'"), std::string::npos) << message;
  EXPECT_NE(message.find("min <= opt <= max"), std::string::npos) << message;
}

TEST(ShapeInputs, ValuesThatDoNotFitTheInputOrItsTypeAreRefused) {
  Network network = testing::parseModel(testing::shapeInputModel());
  {
    BuilderConfig config = testing::cpuConfig();
    config.addOptimizationProfile(valuesProfile({2, 3, 4}, {1}));  // 3 values for a [2] input
    const std::string message = buildError(network, config);
    EXPECT_NE(message.find("'shape'"), std::string::npos) << message;
    EXPECT_NE(message.find("3 shape values"), std::string::npos) << message;
  }
  {
    BuilderConfig config = testing::cpuConfig();
    OptimizationProfile profile = valuesProfile({6, 4}, {1});
    profile.setShapeValues("x", {1}, {1}, {1});
    config.addOptimizationProfile(profile);
    const std::string message = buildError(network, config);
    EXPECT_NE(message.find("'x'"), std::string::npos) << message;
    EXPECT_NE(message.find("float32"), std::string::npos) << message;
  }
  {
    BuilderConfig config = testing::cpuConfig();
    OptimizationProfile profile = valuesProfile({6, 4}, {1});
    profile.setShapeValues("nope", {1}, {1}, {1});
    config.addOptimizationProfile(profile);
    const std::string message = buildError(network, config);
    EXPECT_NE(message.find("'nope'"), std::string::npos) << message;
  }
  {
    // Values whose shapes the graph rejects: the error names the profile.
    BuilderConfig config = testing::cpuConfig();
    config.addOptimizationProfile(valuesProfile({5, 5}, {1}));
    const std::string message = buildError(network, config);
    EXPECT_NE(message.find("optimization profile 0"), std::string::npos) << message;
  }
}

TEST(ShapeInputs, ValuesForAnInputThatIsNoShapeInputAreIgnoredWithAWarning) {
  Network network = testing::parseModel(testing::gatherIdsModel());
  EXPECT_FALSE(network.isShapeInput("ids"));
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile;
  profile.setShapeValues("ids", {1, 2}, {1, 2}, {1, 2});
  config.addOptimizationProfile(profile);
  testing::CapturingLogger logger;
  Engine engine = testing::buildEngine(network, config);
  EXPECT_FALSE(engine.isShapeInput("ids"));
  bool warned = false;
  for (const std::string& w : logger.warnings())
    warned = warned || w.find("input 'ids' is not a shape input") != std::string::npos;
  EXPECT_TRUE(warned);
  // It stays an ordinary input: its data is read from its address.
  const ir::Tensor ids = ir::Tensor::fromInt64({2}, std::vector<int64_t>{3, 0});
  auto ctx = engine.createExecutionContext();
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, {{"ids", ids}}),
                                    testing::runContext(engine, *ctx, {{"ids", ids}})),
            "");
}

TEST(ShapeInputs, AFloatInputThatDecidesAShapeIsNamedInTheError) {
  Network network = testing::parseModel(testing::resizeScalesInputModel());
  EXPECT_FALSE(network.isShapeInput("scales"));
  ErrorCode code = ErrorCode::kInternal;
  const std::string message = buildError(network, testing::cpuConfig(), &code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_NE(message.find("input 'scales' (float32"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot be a shape input"), std::string::npos) << message;
}

TEST(ShapeInputs, TheEngineReportsTheValuesOfEachProfile) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  config.addOptimizationProfile(valuesProfile({4, -1}, {3}));
  Engine engine = testing::buildEngine(network, config);
  ASSERT_EQ(engine.numOptimizationProfiles(), 2);
  EXPECT_TRUE(engine.isShapeInput("shape"));
  EXPECT_TRUE(engine.isShapeInput("starts"));
  EXPECT_FALSE(engine.isShapeInput("x"));
  EXPECT_EQ(engine.profileShapeValues("shape", 0).opt, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(engine.profileShapeValues("shape", 1).max, (std::vector<int64_t>{4, -1}));
  EXPECT_EQ(engine.profileShapeValues("starts", 1).min, (std::vector<int64_t>{3}));
  EXPECT_EQ(engine.profileDims("shape", 1).opt, (Dims{2}));
  EXPECT_THROW((void)engine.profileShapeValues("x", 0), Error);
  EXPECT_THROW((void)engine.profileShapeValues("shape", 2), Error);
}

}  // namespace
}  // namespace kiln
