// Golden plans: files written by earlier kiln versions that every later kiln must still load.
// tests/data/plans/golden_v1.plan is makeGoldenPlanV1() written by format version 1,
// golden_v3.plan is makeGoldenPlanV3() written by format version 3. To write the current
// format's file (only ever for a NEW format version's file, never to "fix" an old one):
//   KILN_WRITE_GOLDEN_PLANS=1 kiln_unit_tests --gtest_filter='GoldenPlan.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "plan/plan_format.h"
#include "unit/plan/plan_fixtures.h"

namespace kiln::plan {
namespace {

const std::string kGoldenV1 = std::string(KILN_TEST_DATA_DIR) + "/plans/golden_v1.plan";
const std::string kGoldenV3 = std::string(KILN_TEST_DATA_DIR) + "/plans/golden_v3.plan";

std::vector<std::byte> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

TEST(GoldenPlan, WriteOnRequest) {
  if (!std::getenv("KILN_WRITE_GOLDEN_PLANS")) GTEST_SKIP() << "set KILN_WRITE_GOLDEN_PLANS=1 to write golden plans";
  ASSERT_EQ(kFormatVersion, 3u) << "golden_v3.plan must stay as format version 3 wrote it; add golden_v"
                                << kFormatVersion;
  std::vector<std::byte> bytes = serialize(testing::makeGoldenPlanV3());
  std::ofstream out(kGoldenV3, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

TEST(GoldenPlan, V1FileStillLoads) {
  std::vector<std::byte> bytes = readBytes(kGoldenV1);
  ASSERT_FALSE(bytes.empty()) << "missing " << kGoldenV1;
  EXPECT_LT(bytes.size(), 20u * 1024);
  Plan plan = deserialize(bytes, "golden_v1.plan");

  EXPECT_EQ(plan.header.format_version, 1u);
  EXPECT_EQ(plan.header.kiln_version, "0.1.0");
  EXPECT_EQ(plan.header.device, DeviceKind::kCPU);
  EXPECT_EQ(plan.header.architecture, "x86_64");
  EXPECT_TRUE(plan.header.refittable);
  EXPECT_FALSE(plan.header.weights_stripped);

  // Content checked by hand, independent of the generator.
  const ir::Graph& g = plan.graph;
  ASSERT_EQ(g.tensors.size(), 5u);
  EXPECT_EQ(g.symbols, std::vector<std::string>{"batch"});
  EXPECT_EQ(g.tensors[0].name, "x");
  EXPECT_EQ(g.tensors[0].shape, (ir::Shape{ir::kFirstSymbol, 4}));
  int w = g.find("w");
  ASSERT_GE(w, 0);
  ASSERT_TRUE(g.tensors[w].value);
  EXPECT_TRUE(g.tensors[w].is_initializer);
  EXPECT_EQ(g.tensors[w].value->shape(), (ir::Shape{4, 3}));
  EXPECT_EQ(g.tensors[w].value->toFloat()[11], 3.5f);
  EXPECT_EQ(g.tensors[g.find("bias")].value->toFloat(), (std::vector<float>{0.25f, -1.0f, 3.0f}));
  EXPECT_EQ(g.opset, 17);
  EXPECT_EQ(g.name, "golden");
  ASSERT_EQ(plan.layers.size(), 2u);
  EXPECT_EQ(plan.layers[0].node.op, "MatMul");
  EXPECT_EQ(plan.layers[0].tactics.at(0).id, 0xFEEDFACECAFEBEEFULL);
  EXPECT_EQ(plan.layers[0].tactics.at(0).time_ms, 0.5);
  const ir::Attributes& a = plan.layers[1].node.attrs;
  EXPECT_EQ(a.i("i"), -3);
  EXPECT_EQ(a.f("f"), 2.5f);
  EXPECT_EQ(a.s("s"), "str");
  EXPECT_EQ(a.ints("ints"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a.strings("strings"), (std::vector<std::string>{"u", "v"}));
  EXPECT_EQ(a.t("t").toInt64(), (std::vector<int64_t>{5, 6}));
  ASSERT_EQ(plan.profiles.size(), 1u);
  EXPECT_EQ(plan.profiles[0].inputs.at("x").max, (Dims{4, 4}));
  EXPECT_EQ(plan.profiles[0].activation_bytes, 48u);
  // Fields format version 1 does not have read as their defaults.
  EXPECT_EQ(plan.layers[0].tactics.at(0).inplace_input, -1);
  EXPECT_EQ(plan.profiles[0].activation_lower_bound, 0u);
  EXPECT_TRUE(plan.profiles[0].shape_values.empty());  // format 3
  EXPECT_EQ(plan.debug_tensors, std::vector<int>{g.find("mm")});

  // And everything else, field by field.
  testing::expectPlansEqual(testing::makeGoldenPlanV1(), plan);
}

TEST(GoldenPlan, V3FileStillLoads) {
  std::vector<std::byte> bytes = readBytes(kGoldenV3);
  ASSERT_FALSE(bytes.empty()) << "missing " << kGoldenV3;
  EXPECT_LT(bytes.size(), 20u * 1024);
  Plan plan = deserialize(bytes, "golden_v3.plan");
  EXPECT_EQ(plan.header.format_version, 3u);
  // Content checked by hand, independent of the generator.
  const int k = plan.graph.find("k");
  ASSERT_GE(k, 0);
  EXPECT_EQ(plan.graph.inputs.back(), k);
  EXPECT_EQ(plan.graph.tensors[k].type, DataType::kINT64);
  const ProfileShapeValues& v = plan.profiles.at(0).shape_values.at("k");
  EXPECT_EQ(v.min, (std::vector<int64_t>{1, -1}));
  EXPECT_EQ(v.opt, (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(v.max, (std::vector<int64_t>{3, -1}));
  EXPECT_EQ(plan.profiles[0].activation_lower_bound, 48u);
  // And everything else, field by field.
  testing::expectPlansEqual(testing::makeGoldenPlanV3(), plan);
}

TEST(GoldenPlan, FormatV3WriterIsByteStable) {
  if (kFormatVersion != 3) GTEST_SKIP() << "the writer has moved on to format version " << kFormatVersion;
  EXPECT_EQ(serialize(testing::makeGoldenPlanV3()), readBytes(kGoldenV3));
}

TEST(GoldenPlan, FormatV1WriterIsByteStable) {
  if (kFormatVersion != 1) GTEST_SKIP() << "the writer has moved on to format version " << kFormatVersion;
  EXPECT_EQ(serialize(testing::makeGoldenPlanV1()), readBytes(kGoldenV1));
}

}  // namespace
}  // namespace kiln::plan
