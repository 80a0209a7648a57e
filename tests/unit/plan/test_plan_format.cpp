#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "plan/byte_io.h"
#include "unit/plan/plan_fixtures.h"
#include "plan/plan_format.h"

namespace kiln::plan {
namespace {

using testing::expectPlansEqual;
using testing::makeGoldenPlanV1;
using testing::makeRichPlan;

// Deserializes, expecting one kInvalidPlan error whose message names the plan.
void expectInvalid(std::span<const std::byte> bytes, const std::string& context) {
  try {
    (void)deserialize(bytes, "damaged.plan");
    ADD_FAILURE() << context << ": damaged plan loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << context << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("damaged.plan: ", 0), 0u) << context << ": " << e.what();
  }
}

uint32_t readU32(const std::vector<std::byte>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
uint64_t readU64(const std::vector<std::byte>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void writeU64(std::vector<std::byte>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

// Recomputes every section checksum and the header checksum, as a hostile writer would, so
// that damage reaches the section parsers instead of stopping at a checksum.
void fixChecksums(std::vector<std::byte>& b) {
  size_t table = 16 + readU32(b, 12);
  uint32_t count = readU32(b, table);
  for (uint32_t i = 0; i < count; ++i) {
    size_t entry = table + 4 + 28 * i;
    uint64_t offset = readU64(b, entry + 4), size = readU64(b, entry + 12);
    if (offset > b.size() || size > b.size() - offset) continue;
    writeU64(b, entry + 20, checksum64(std::span<const std::byte>(b).subspan(offset, size)));
  }
  size_t end = table + 4 + 28 * count;
  writeU64(b, end, checksum64(std::span<const std::byte>(b).first(end)));
}

// Header region: magic .. header checksum (the first section starts at the next multiple of 64).
size_t headerRegion(const std::vector<std::byte>& b) {
  size_t table = 16 + readU32(b, 12);
  return table + 4 + 28 * readU32(b, table) + 8;
}

TEST(ByteIo, ChecksumIsXxh64) {
  EXPECT_EQ(checksum64({}), 0xEF46DB3751D8E999ULL);
  std::string abc = "abc";
  EXPECT_EQ(checksum64(std::as_bytes(std::span(abc))), 0x44BC2CF5AD770999ULL);
  std::string longer(100, 'x');
  EXPECT_NE(checksum64(std::as_bytes(std::span(longer))), checksum64(std::as_bytes(std::span(longer).first(99))));
}

TEST(ByteIo, ReaderRefusesCountsLargerThanTheBytesLeft) {
  ByteWriter w;
  w.u32(0xFFFFFFFF);
  w.u64(1);
  ByteReader r(w.data(), ErrorCode::kInvalidPlan, "x");
  EXPECT_THROW(r.count("things", 1), Error);
  ByteWriter s;
  s.u32(100);
  ByteReader rs(s.data(), ErrorCode::kInvalidPlan, "x");
  EXPECT_THROW(rs.string("name"), Error);
}

TEST(PlanFormat, RoundTripsEveryField) {
  Plan plan = makeRichPlan();
  std::vector<std::byte> bytes = serialize(plan);
  Plan back = deserialize(bytes, "rich.plan");
  EXPECT_EQ(back.header.format_version, kFormatVersion);
  expectPlansEqual(plan, back);
  // Serializing again gives the same bytes.
  EXPECT_EQ(serialize(back), bytes);
}

//! The rich plan with a shape input 'k' (int64 [2]), fixed at {3 + p, -1} in profile p.
Plan withShapeInput() {
  Plan plan = makeRichPlan();
  const int k = plan.graph.tensorId("k");
  plan.graph.tensors[k].type = DataType::kINT64;
  plan.graph.tensors[k].shape = {2};
  plan.graph.tensors[k].rank_known = true;
  plan.graph.inputs.push_back(k);
  for (size_t p = 0; p < plan.profiles.size(); ++p) {
    plan.profiles[p].inputs["k"] = ProfileDims{{2}, {2}, {2}};
    const std::vector<int64_t> v = {3 + static_cast<int64_t>(p), -1};
    plan.profiles[p].shape_values["k"] = ProfileShapeValues{v, v, v};
    plan.profiles[p].offsets.push_back(-1);
  }
  return plan;
}

TEST(PlanFormat, RoundTripsShapeInputValues) {
  Plan plan = withShapeInput();
  Plan back = deserialize(serialize(plan), "shape_input.plan");
  expectPlansEqual(plan, back);
  EXPECT_EQ(back.profiles[1].shape_values.at("k").opt, (std::vector<int64_t>{4, -1}));
}

TEST(PlanFormat, RefusesShapeInputValuesThatDoNotFitTheInput) {
  {
    Plan plan = withShapeInput();
    plan.profiles[1].shape_values["k"].min = {1, 2, 3};
    EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
  }
  {
    Plan plan = withShapeInput();
    plan.profiles[0].shape_values["k"] = ProfileShapeValues{{1}, {1}, {1}};  // 1 value for [2]
    plan.profiles[1].shape_values["k"] = ProfileShapeValues{{1}, {1}, {1}};
    EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
  }
  {
    Plan plan = withShapeInput();
    plan.profiles[1].shape_values.clear();  // profiles must agree on their shape inputs
    EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
  }
  {
    Plan plan = withShapeInput();
    for (Profile& p : plan.profiles) p.shape_values["x"] = ProfileShapeValues{{1}, {1}, {1}};  // a float input
    EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
  }
}

TEST(PlanFormat, RefusesAnInPlaceInputTheLayerDoesNotHave) {
  Plan plan = makeRichPlan();
  plan.layers.back().tactics.at(0).inplace_input = 0;  // the custom layer has no output 0
  EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
  plan = makeRichPlan();
  for (Layer& l : plan.layers)
    if (!l.tactics.empty()) l.tactics[0].inplace_input = 99;
  EXPECT_THROW(deserialize(serialize(plan), "bad.plan"), Error);
}

TEST(PlanFormat, WeightStrippedPlanDropsInitializerValuesOnly) {
  Plan plan = makeRichPlan(/*weights_stripped=*/true);
  std::vector<std::byte> stripped = serialize(plan);
  std::vector<std::byte> full = serialize(makeRichPlan(false));
  EXPECT_LT(stripped.size(), full.size());
  Plan back = deserialize(stripped, "stripped.plan");
  EXPECT_TRUE(back.header.weights_stripped);
  expectPlansEqual(plan, back, /*stripped=*/true);
  EXPECT_TRUE(back.graph.tensors[back.graph.find("conv.weight.fused")].value) << "derived constants are kept";
}

TEST(PlanFormat, WeightALayerReadsNeedsAValueUnlessStripped) {
  Plan plan = makeRichPlan();
  int weight = -1;
  for (const Layer& layer : plan.layers)
    for (int id : layer.node.inputs)
      if (weight < 0 && id != ir::kAbsent && plan.graph.tensors[id].is_initializer) weight = id;
  ASSERT_GE(weight, 0);
  plan.graph.tensors[weight].value.reset();
  EXPECT_THROW(deserialize(serialize(plan)), Error);
  plan.header.weights_stripped = true;
  EXPECT_NO_THROW(deserialize(serialize(plan)));
}

TEST(PlanFormat, WeightOnlyTheWeightProgramReadsMayBeAbsent) {
  Plan plan = makeRichPlan();
  int id = plan.graph.addTensor("program_only.weight");
  plan.graph.tensors[id].is_initializer = true;
  plan.graph.tensors[id].rank_known = true;
  plan.graph.tensors[id].shape = {2};
  EXPECT_NO_THROW(deserialize(serialize(plan)));
}

TEST(PlanFormat, WeightsAre64ByteAligned) {
  Plan plan = makeRichPlan();
  std::vector<std::byte> bytes = serialize(plan);
  // The weights section is the last; each value inside it starts at a multiple of 64.
  size_t table = 16 + readU32(bytes, 12);
  uint32_t count = readU32(bytes, table);
  for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(readU64(bytes, table + 4 + 28 * i + 4) % 64, 0u) << "section " << i;
  size_t weights = readU64(bytes, table + 4 + 28 * (count - 1) + 4);
  const auto& w = *plan.graph.tensors[plan.graph.find("conv.weight")].value;
  auto found = std::search(bytes.begin() + static_cast<ptrdiff_t>(weights), bytes.end(), w.bytes().begin(), w.bytes().end());
  ASSERT_NE(found, bytes.end());
  EXPECT_EQ(static_cast<size_t>(found - bytes.begin()) % 64, 0u);
}

TEST(PlanFormat, ReadsHeaderAlone) {
  Plan plan = makeRichPlan();
  std::vector<std::byte> bytes = serialize(plan);
  Header h = readHeader(std::span(bytes).first(headerRegion(bytes)), "rich.plan");
  EXPECT_EQ(h.format_version, kFormatVersion);
  EXPECT_EQ(h.device_identity, plan.header.device_identity);
  EXPECT_EQ(h.architecture, "sm_90");
  EXPECT_EQ(h.hardware, HardwareCompatibility::kAMPERE_PLUS);
  EXPECT_TRUE(h.refittable);
  EXPECT_TRUE(h.version_compatible);
}

TEST(PlanFormat, RefusesNewerFormatVersion) {
  std::vector<std::byte> bytes = serialize(makeGoldenPlanV1());
  uint32_t newer = kFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &newer, 4);
  for (bool header_only : {false, true}) {
    try {
      if (header_only)
        (void)readHeader(bytes, "future.plan");
      else
        (void)deserialize(bytes, "future.plan");
      ADD_FAILURE() << "newer plan loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
      EXPECT_EQ(std::string(e.what()), "future.plan: plan format version " + std::to_string(newer) +
                                           " is newer than this kiln supports (" + std::to_string(kFormatVersion) + ")");
    }
  }
}

TEST(PlanFormat, RefusesWrongMagic) {
  std::vector<std::byte> bytes = serialize(makeGoldenPlanV1());
  bytes[3] = std::byte{'X'};
  try {
    (void)deserialize(bytes, "other.bin");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    EXPECT_NE(std::string(e.what()).find("other.bin: not a kiln plan"), std::string::npos) << e.what();
  }
  expectInvalid({}, "empty file");
}

TEST(PlanFormat, EverySingleByteCorruptionOfTheHeaderIsRefused) {
  std::vector<std::byte> bytes = serialize(makeRichPlan());
  size_t region = headerRegion(bytes);
  for (size_t pos = 0; pos < region; ++pos)
    for (uint8_t mask : {0x01, 0x10, 0x80, 0xFF}) {
      std::vector<std::byte> damaged = bytes;
      damaged[pos] ^= std::byte{mask};
      expectInvalid(damaged, "byte " + std::to_string(pos) + " ^ " + std::to_string(mask));
      EXPECT_THROW((void)readHeader(damaged, "damaged.plan"), Error) << pos;
    }
}

TEST(PlanFormat, EverySingleByteFlipAnywhereIsRefused) {
  // Every byte is covered by a checksum or the zero-padding rule.
  std::vector<std::byte> bytes = serialize(makeGoldenPlanV1());
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::vector<std::byte> damaged = bytes;
    damaged[pos] ^= std::byte{0x04};
    expectInvalid(damaged, "byte " + std::to_string(pos));
  }
}

TEST(PlanFormat, RandomByteFlipsAreRefused) {
  std::vector<std::byte> bytes = serialize(makeRichPlan());
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::byte> damaged = bytes;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= std::byte{static_cast<uint8_t>(1 + rng() % 255)};
    expectInvalid(damaged, "trial " + std::to_string(trial));
  }
}

TEST(PlanFormat, EveryTruncationIsRefused) {
  std::vector<std::byte> bytes = serialize(makeGoldenPlanV1());
  for (size_t n = 0; n < bytes.size(); ++n) expectInvalid(std::span(bytes).first(n), "prefix " + std::to_string(n));
  std::vector<std::byte> longer = bytes;
  longer.push_back(std::byte{0});
  expectInvalid(longer, "one byte appended");
}

TEST(PlanFormat, TruncationsOfARichPlanAreRefused) {
  std::vector<std::byte> bytes = serialize(makeRichPlan());
  for (size_t n = 0; n < bytes.size(); n += 7) expectInvalid(std::span(bytes).first(n), "prefix " + std::to_string(n));
}

// Damage with valid checksums: the section parsers themselves must catch every bad count,
// size, id and enum. The plan may load (a changed character of a name is still a plan), but
// nothing may crash and every refusal is a kInvalidPlan error.
TEST(PlanFormat, HostileSectionsWithValidChecksumsNeverCrash) {
  for (bool stripped : {false, true}) {
    std::vector<std::byte> bytes = serialize(makeRichPlan(stripped));
    size_t first_section = (headerRegion(bytes) + 63) / 64 * 64;
    std::mt19937 rng(99);
    int refused = 0;
    for (int trial = 0; trial < 4000; ++trial) {
      std::vector<std::byte> damaged = bytes;
      size_t pos = first_section + rng() % (bytes.size() - first_section);
      switch (trial % 3) {
        case 0: damaged[pos] ^= std::byte{static_cast<uint8_t>(1 + rng() % 255)}; break;
        case 1: damaged[pos] = std::byte{0xFF}; break;
        default:  // a bogus 32-bit count or length
          if (pos + 4 <= damaged.size()) {
            uint32_t v = rng() % 2 ? 0xFFFFFFFFu : static_cast<uint32_t>(rng());
            std::memcpy(damaged.data() + pos, &v, 4);
          }
      }
      fixChecksums(damaged);
      try {
        (void)deserialize(damaged, "damaged.plan");
      } catch (const Error& e) {
        ++refused;
        EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << e.what();
      }
    }
    EXPECT_GT(refused, 1000);
  }
}

TEST(PlanFormat, ErrorsNameWhatIsWrong) {
  Plan plan = makeGoldenPlanV1();
  plan.layers[0].node.inputs[0] = 99;  // a tensor id out of range
  std::vector<std::byte> bytes = serialize(plan);
  try {
    (void)deserialize(bytes, "bad.plan");
    ADD_FAILURE();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.plan: layers section"), std::string::npos) << msg;
    EXPECT_NE(msg.find("node 'matmul' input refers to tensor 99"), std::string::npos) << msg;
  }
}

TEST(PlanFormat, RefusesLayerWithWrongTacticCount) {
  Plan plan = makeGoldenPlanV1();
  plan.layers[0].tactics.push_back(plan.layers[0].tactics[0]);
  EXPECT_THROW(deserialize(serialize(plan)), Error);
}

}  // namespace
}  // namespace kiln::plan
