// Shape inputs at run time: a context takes their values on the host (setInputShapeValues),
// checks them against the profile, resolves shapes from them and runs; the plan keeps them.
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

std::map<std::string, ir::Tensor> referenceInputs(const ir::Tensor& x, const std::vector<int64_t>& shape,
                                                  const std::vector<int64_t>& starts) {
  return {{"x", x},
          {"shape", ir::Tensor::fromInt64({static_cast<int64_t>(shape.size())}, shape)},
          {"starts", ir::Tensor::fromInt64({static_cast<int64_t>(starts.size())}, starts)}};
}

//! Runs `ctx` on x with the shape inputs' values given through setInputShapeValues (no
//! address bound to them). Returns the outputs by name.
std::map<std::string, ir::Tensor> runWithValues(const Engine& engine, ExecutionContext& ctx, ir::Tensor x,
                                                const std::vector<int64_t>& shape, const std::vector<int64_t>& starts) {
  ctx.setInputShapeValues("shape", shape);
  ctx.setInputShapeValues("starts", starts);
  ctx.setInputShape("x", x.shape());
  ctx.setTensorAddress("x", x.raw());
  EXPECT_TRUE(ctx.allInputShapesSpecified());
  std::map<std::string, ir::Tensor> out;
  for (const std::string name : {"y", "z"})
    out.emplace(name, ir::Tensor(engine.tensorType(name), ctx.tensorShape(name)));
  for (auto& [name, t] : out) ctx.setTensorAddress(name, t.raw());
  ctx.enqueue(nullptr);
  return out;
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "";
}

TEST(ShapeInputContext, AReshapeAndASliceFromInputValuesRunAsTheReferenceDoes) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  Engine engine = testing::buildEngine(network, config);
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 3);
  for (ContextMemory memory : {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED}) {
    auto ctx = engine.createExecutionContext(memory);
    const auto actual = runWithValues(engine, *ctx, x, {6, 4}, {1});
    EXPECT_EQ(actual.at("y").shape(), (ir::Shape{6, 4}));
    EXPECT_EQ(actual.at("z").shape(), (ir::Shape{2, 3, 3}));
    EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {1})), actual), "");
  }
}

TEST(ShapeInputContext, AContextOfAOneProfileEngineStartsWithItsValues) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({-1, 2}, {2}));
  Engine engine = testing::buildEngine(network, config);
  auto ctx = engine.createExecutionContext();
  EXPECT_EQ(ctx->inputShapeValues("shape"), (std::vector<int64_t>{-1, 2}));
  EXPECT_TRUE(ctx->allInputShapesSpecified());
  EXPECT_EQ(ctx->tensorShape("y"), (Dims{12, 2}));
  EXPECT_EQ(ctx->tensorShape("z"), (Dims{2, 3, 2}));
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 4);
  // runContext binds only x (shape inputs need no address) and reads both outputs.
  const auto actual = testing::runContext(engine, *ctx, {{"x", x}});
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {-1, 2}, {2})), actual), "");
}

TEST(ShapeInputContext, ThePlanKeepsTheValuesThroughSaveAndLoad) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  config.addOptimizationProfile(valuesProfile({3, 8}, {2}));
  Engine built = testing::buildEngine(network, config);
  const std::filesystem::path dir = testing::freshTempDir("shape_inputs");
  built.save((dir / "e.plan").string());
  Engine engine = Engine::load((dir / "e.plan").string());
  EXPECT_EQ(engine.compatibility().format_version, 3u);
  EXPECT_TRUE(engine.isShapeInput("shape"));
  EXPECT_FALSE(engine.isShapeInput("x"));
  for (int32_t p = 0; p < 2; ++p)
    for (const std::string name : {"shape", "starts"}) {
      const ProfileShapeValues a = built.profileShapeValues(name, p), b = engine.profileShapeValues(name, p);
      EXPECT_EQ(a.min, b.min);
      EXPECT_EQ(a.opt, b.opt);
      EXPECT_EQ(a.max, b.max);
    }
  EXPECT_EQ(engine.profileShapeValues("shape", 1).opt, (std::vector<int64_t>{3, 8}));
  // The loaded engine runs both value sets, each in its own profile, picked by the values.
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 5);
  auto ctx = engine.createExecutionContext();
  auto second = runWithValues(engine, *ctx, x, {3, 8}, {2});
  EXPECT_EQ(ctx->optimizationProfile(), 1);
  EXPECT_EQ(second.at("y").shape(), (ir::Shape{3, 8}));
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {3, 8}, {2})), second), "");
  auto first = runWithValues(engine, *ctx, x, {6, 4}, {1});
  EXPECT_EQ(ctx->optimizationProfile(), 0);
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {1})), first), "");
  std::filesystem::remove_all(dir);
}

TEST(ShapeInputContext, ValuesOfAnotherProfileSwitchToItAndDropTheOldProfilesValues) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  config.addOptimizationProfile(valuesProfile({2, 12}, {2}));
  Engine engine = testing::buildEngine(network, config);
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 8);
  auto ctx = engine.createExecutionContext();
  auto first = runWithValues(engine, *ctx, x, {6, 4}, {1});
  EXPECT_EQ(ctx->optimizationProfile(), 0);
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {1})), first), "");
  // Values of profile 1 switch to it; starts = [1] was profile 0's and must be given again.
  ctx->setInputShapeValues("shape", {2, 12});
  EXPECT_EQ(ctx->optimizationProfile(), 1);
  EXPECT_TRUE(ctx->inputShapeValues("starts").empty());
  EXPECT_FALSE(ctx->allInputShapesSpecified());
  auto second = runWithValues(engine, *ctx, x, {2, 12}, {2});
  EXPECT_EQ(second.at("y").shape(), (ir::Shape{2, 12}));
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {2, 12}, {2})), second), "");
  // Choosing profile 0 explicitly drops profile 1's values too.
  ctx->setOptimizationProfile(0);
  EXPECT_TRUE(ctx->inputShapeValues("shape").empty());
  EXPECT_FALSE(ctx->allInputShapesSpecified());
  auto third = runWithValues(engine, *ctx, x, {6, 4}, {1});
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {1})), third), "");
}

TEST(ShapeInputContext, ARangeOfValuesRunsEveryValueInIt) {
  // starts ranges over 0..3 (opt 1): z = x[:, :, starts:4] shrinks as starts grows, so the
  // largest z comes from the min values, not the max.
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile = valuesProfile({6, 4}, {1});
  profile.setShapeValues("starts", {0}, {1}, {3});
  config.addOptimizationProfile(profile);
  Engine engine = testing::buildEngine(network, config);
  EXPECT_EQ(engine.profileShapeValues("starts", 0).max, (std::vector<int64_t>{3}));
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 9);
  for (ContextMemory memory :
       {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED, ContextMemory::kUSER_MANAGED}) {
    auto ctx = engine.createExecutionContext(memory);
    std::vector<std::byte> user(std::max<size_t>(ctx->requiredMemorySize(), 1));
    if (memory == ContextMemory::kUSER_MANAGED) ctx->setDeviceMemory(user.data(), user.size());
    EXPECT_FALSE(ctx->allInputShapesSpecified());  // a range: no values to start with
    for (int64_t start : {1, 0, 3, 2}) {
      auto out = runWithValues(engine, *ctx, x, {6, 4}, {start});
      EXPECT_EQ(out.at("z").shape(), (ir::Shape{2, 3, 4 - start}));
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {start})), out), "")
          << start;
    }
    const std::string message = errorOf([&] { ctx->setInputShapeValues("starts", {4}); });
    EXPECT_NE(message.find("built for [0] to [3]"), std::string::npos) << message;
  }
}

TEST(ShapeInputContext, ValuesInARangeThatOutgrowTheBuildsMemoryAreRunOrNamed) {
  // starts in -1..1: -1 slices 1 element, 1 slices 3, but 0 slices all 4: more than the build
  // planned at min, opt and max. Contexts plan for the values they are given.
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile = valuesProfile({6, 4}, {1});
  profile.setShapeValues("starts", {-1}, {1}, {1});
  config.addOptimizationProfile(profile);
  Engine engine = testing::buildEngine(network, config);
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 10);
  for (ContextMemory memory :
       {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED, ContextMemory::kUSER_MANAGED}) {
    auto ctx = engine.createExecutionContext(memory);
    // User memory of the size the engine asks for (here the 256-byte alignment of its buffers
    // leaves room for starts = 0; were it too small, the run would fail naming the size).
    std::vector<std::byte> user(std::max<size_t>(ctx->requiredMemorySize(), 1));
    if (memory == ContextMemory::kUSER_MANAGED) ctx->setDeviceMemory(user.data(), ctx->requiredMemorySize());
    for (int64_t start : {-1, 0, 1}) {
      auto out = runWithValues(engine, *ctx, x, {6, 4}, {start});
      EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {start})), out), "")
          << start;
    }
  }
}

TEST(ShapeInputContext, UserMemoryTooSmallForTheValuesGivenIsAClearError) {
  // starts in -1..1 over 64 columns: -1 keeps 1 column, 1 keeps 63, but 0 keeps all 64, more
  // than the build planned (the largest of min, opt and max).
  Network network = testing::parseModel(testing::wideSliceModel());
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile;
  profile.setShapeValues("starts", {-1}, {1}, {1});
  config.addOptimizationProfile(profile);
  Engine engine = testing::buildEngine(network, config);
  const ir::Tensor x = testing::randomInput({64, 64}, 11);
  const auto run = [&](ExecutionContext& ctx, int64_t start) {
    ctx.setInputShapeValues("starts", {start});
    ir::Tensor in = x;
    ctx.setInputShape("x", in.shape());
    ctx.setTensorAddress("x", in.raw());
    ir::Tensor z(DataType::kFLOAT, ctx.tensorShape("z"));
    ctx.setTensorAddress("z", z.raw());
    ctx.enqueue(nullptr);
    const ir::Tensor starts = ir::Tensor::fromInt64({1}, std::vector<int64_t>{start});
    return testing::compareOutputs(testing::reference(network, {{"x", x}, {"starts", starts}}), {{"z", z}});
  };
  auto user_ctx = engine.createExecutionContext(ContextMemory::kUSER_MANAGED);
  std::vector<std::byte> user(user_ctx->requiredMemorySize());
  ASSERT_GT(user.size(), 0u);
  user_ctx->setDeviceMemory(user.data(), user.size());
  EXPECT_EQ(run(*user_ctx, 1), "");
  EXPECT_EQ(run(*user_ctx, -1), "");
  const std::string message = errorOf([&] { (void)run(*user_ctx, 0); });
  EXPECT_NE(message.find("bytes of context memory, more than the " + std::to_string(user.size())), std::string::npos)
      << message;
  // A context with memory of its own grows it.
  auto own = engine.createExecutionContext();
  for (int64_t start : {1, 0, -1}) EXPECT_EQ(run(*own, start), "") << start;
}

TEST(ShapeInputContext, ValuesTheProfileWasNotBuiltForAreAClearError) {
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  Engine engine = testing::buildEngine(network, config);
  auto ctx = engine.createExecutionContext();
  std::string message = errorOf([&] { ctx->setInputShapeValues("shape", {4, 6}); });
  EXPECT_NE(message.find("shape input 'shape'"), std::string::npos) << message;
  EXPECT_NE(message.find("[4, 6]"), std::string::npos) << message;
  EXPECT_NE(message.find("[6, 4]"), std::string::npos) << message;
  message = errorOf([&] { ctx->setInputShapeValues("starts", {1, 2}); });
  EXPECT_NE(message.find("'starts'"), std::string::npos) << message;
  // With the profile chosen explicitly, the same.
  ctx->setOptimizationProfile(0);
  message = errorOf([&] { ctx->setInputShapeValues("starts", {2}); });
  EXPECT_NE(message.find("'starts'"), std::string::npos) << message;
  EXPECT_NE(message.find("optimization profile 0"), std::string::npos) << message;
  // Inputs that are not shape inputs, and names that are no input.
  message = errorOf([&] { ctx->setInputShapeValues("x", {1}); });
  EXPECT_NE(message.find("'x' is not a shape input"), std::string::npos) << message;
  message = errorOf([&] { ctx->setInputShapeValues("y", {1}); });
  EXPECT_NE(message.find("'y'"), std::string::npos) << message;
  // The refused values changed nothing: the context still runs with the profile's.
  EXPECT_EQ(ctx->inputShapeValues("shape"), (std::vector<int64_t>{6, 4}));
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 6);
  EXPECT_EQ(testing::compareOutputs(testing::reference(network, referenceInputs(x, {6, 4}, {1})),
                                    testing::runContext(engine, *ctx, {{"x", x}})),
            "");
}

TEST(ShapeInputContext, AContextWithoutValuesSaysWhichInputNeedsThem) {
  // Two profiles: a context starts with no values and must be given them.
  Network network = testing::parseModel(testing::shapeInputModel());
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(valuesProfile({6, 4}, {1}));
  config.addOptimizationProfile(valuesProfile({3, 8}, {2}));
  Engine engine = testing::buildEngine(network, config);
  auto ctx = engine.createExecutionContext();
  EXPECT_TRUE(ctx->inputShapeValues("shape").empty());
  EXPECT_FALSE(ctx->allInputShapesSpecified());
  ir::Tensor x = testing::randomInput({2, 3, 4}, 7);
  ir::Tensor y(DataType::kFLOAT, {24}), z(DataType::kFLOAT, {24});
  ctx->setInputShape("x", x.shape());
  ctx->setTensorAddress("x", x.raw());
  ctx->setTensorAddress("y", y.raw());
  ctx->setTensorAddress("z", z.raw());
  ctx->setInputShapeValues("shape", {6, 4});
  const std::string message = errorOf([&] { ctx->enqueue(nullptr); });
  EXPECT_NE(message.find("shape input 'starts' has no values"), std::string::npos) << message;
  EXPECT_NE(message.find("setInputShapeValues"), std::string::npos) << message;
}

}  // namespace
}  // namespace kiln
