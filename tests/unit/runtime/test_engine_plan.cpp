// Plans through the public API on the CPU backend: serialize round trip, damaged plans
// refused cleanly, plans for another backend or architecture refused with a clear error.
#include <gtest/gtest.h>

#include "plan/plan_format.h"
#include "support/models.h"

namespace kiln {
namespace {

using testing::compareOutputs;
using testing::randomInput;
using testing::runContext;

std::vector<std::byte> cnnPlan(uint32_t seed) {
  Network net = testing::parseModel(testing::cnnModel(seed));
  BuilderConfig config = testing::cpuConfig();
  config.addOptimizationProfile(testing::batchProfile("x", {3, 8, 8}, 1, 4, 8));
  return Builder::buildSerializedNetwork(net, config);
}

std::map<std::string, ir::Tensor> run(Engine& engine, const std::map<std::string, ir::Tensor>& in) {
  auto ctx = engine.createExecutionContext();
  return runContext(engine, *ctx, in);
}

TEST(EnginePlan, SerializeRoundTripGivesTheSameOutputs) {
  std::vector<std::byte> plan = cnnPlan(1);
  Engine engine = Engine::deserialize(plan);
  std::vector<std::byte> again = engine.serialize();
  EXPECT_TRUE(again == plan) << "serialize() of a loaded plan differs from the plan";
  Engine reloaded = Engine::deserialize(again);
  std::map<std::string, ir::Tensor> in{{"x", randomInput({5, 3, 8, 8}, 3)}};
  EXPECT_EQ(compareOutputs(run(engine, in), run(reloaded, in), 0, 0), "");
  // Through a file.
  std::filesystem::path dir = testing::freshTempDir("plan");
  const std::string path = (dir / "model.plan").string();
  engine.save(path);
  Engine loaded = Engine::load(path);
  EXPECT_EQ(compareOutputs(run(engine, in), run(loaded, in), 0, 0), "");
  EXPECT_EQ(loaded.layers().size(), engine.layers().size());
  try {
    (void)Engine::load((dir / "missing.plan").string());
    ADD_FAILURE() << "a missing plan file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.plan"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(EnginePlan, DamagedPlansAreRefused) {
  std::vector<std::byte> plan = cnnPlan(2);
  ASSERT_GT(plan.size(), 256u);
  int refused = 0;
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{16}, size_t{64}, plan.size() / 4, plan.size() / 2, plan.size() - 8,
                   plan.size() - 1}) {
    std::vector<std::byte> cut(plan.begin(), plan.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      (void)Engine::deserialize(cut);
      ADD_FAILURE() << "a plan cut at " << n << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << n << ": " << e.what();
      ++refused;
    }
  }
  // Flips spread over the whole file (header, sections, checksums).
  const size_t step = std::max<size_t>(1, plan.size() / 97);
  for (size_t pos = 0; pos < plan.size(); pos += step) {
    std::vector<std::byte> bad = plan;
    bad[pos] ^= std::byte{0x5a};
    try {
      (void)Engine::deserialize(bad);
      ADD_FAILURE() << "a plan with byte " << pos << " flipped loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << pos << ": " << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 50);
  // Trailing garbage.
  std::vector<std::byte> longer = plan;
  longer.resize(plan.size() + 13, std::byte{0x33});
  EXPECT_THROW((void)Engine::deserialize(longer), Error);
}

TEST(EnginePlan, APlanForTheGpuOrAnotherArchitectureIsAClearError) {
  std::vector<std::byte> bytes = cnnPlan(3);
  plan::Plan plan = plan::deserialize(bytes);
  plan::Plan gpu = plan;
  gpu.header.device = DeviceKind::kGPU;
  gpu.header.architecture = "sm_10";
  try {
    (void)Engine::deserialize(plan::serialize(gpu));
    FAIL() << "a GPU plan loaded";
  } catch (const Error& e) {
    std::string m = e.what();
    if (Builder::gpuAvailable()) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << m;
      EXPECT_NE(m.find("sm_10"), std::string::npos) << m;
    } else {
      EXPECT_TRUE(e.code() == ErrorCode::kRuntime || e.code() == ErrorCode::kInvalidPlan) << m;
      EXPECT_NE(m.find("GPU"), std::string::npos) << m;
    }
  }
  plan::Plan other_arch = plan;
  other_arch.header.architecture = "riscv128";
  try {
    (void)Engine::deserialize(plan::serialize(other_arch));
    FAIL() << "a plan for another architecture loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    EXPECT_NE(std::string(e.what()).find("riscv128"), std::string::npos) << e.what();
  }
  Engine ok = Engine::deserialize(plan::serialize(plan));
  EXPECT_EQ(ok.compatibility().format_version, plan::kFormatVersion);
}

}  // namespace
}  // namespace kiln
