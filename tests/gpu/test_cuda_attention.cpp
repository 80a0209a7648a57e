// "cuda.attention" against the CPU reference: every candidate (the flash kernels on tensor cores
// where they apply, generic always) on random data at odd query / key lengths (1 to 333), head sizes
// 64, 128 and others, both layouts, float / bool / broadcast masks and causal, in float16 and
// bfloat16 (1e-2) and float32 (1e-5).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "compute_test_util.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using gputest::Ints;
using testing::NodeInput;

enum class Mask { kNone, kFloatKeys, kFloatFull, kBool };

struct Case {
  DataType type = DataType::kHALF;
  int64_t batch = 2, heads = 3, q_len = 7, kv_len = 7, head_dim = 64, value_dim = 64;
  bool bshd = false;   // q, k, v and out all bshd (mixed below)
  bool mixed = false;  // q bshd, k bhsd, v bshd, out bhsd
  Mask mask = Mask::kNone;
  bool causal = false;
};

std::string describe(const Case& c) {
  return std::string(toString(c.type)) + " B" + std::to_string(c.batch) + " H" + std::to_string(c.heads) + " Sq" +
         std::to_string(c.q_len) + " Skv" + std::to_string(c.kv_len) + " D" + std::to_string(c.head_dim) + "/" +
         std::to_string(c.value_dim) +
         (c.bshd    ? " bshd"
          : c.mixed ? " mixed"
                    : " bhsd") +
         " mask" + std::to_string(static_cast<int>(c.mask)) + (c.causal ? " causal" : "");
}

Ints shapeOf(int64_t b, int64_t h, int64_t s, int64_t d, bool bshd) {
  return bshd ? Ints{b, s, h, d} : Ints{b, h, s, d};
}

//! Checks every candidate; `want_flash` says whether the flash tactic must be among them.
void check(const Case& c, bool want_flash) {
  const bool q_bshd = c.bshd || c.mixed, k_bshd = c.bshd, v_bshd = c.bshd || c.mixed, o_bshd = c.bshd;
  std::vector<NodeInput> inputs = {
      gputest::in("q", c.type, shapeOf(c.batch, c.heads, c.q_len, c.head_dim, q_bshd)),
      gputest::in("k", c.type, shapeOf(c.batch, c.heads, c.kv_len, c.head_dim, k_bshd)),
      gputest::in("v", c.type, shapeOf(c.batch, c.heads, c.kv_len, c.value_dim, v_bshd)),
  };
  switch (c.mask) {
    case Mask::kNone: break;
    case Mask::kFloatKeys: inputs.push_back(gputest::in("mask", DataType::kFLOAT, {c.batch, 1, 1, c.kv_len})); break;
    case Mask::kFloatFull: inputs.push_back(gputest::in("mask", c.type, {c.batch, c.heads, c.q_len, c.kv_len})); break;
    case Mask::kBool: inputs.push_back(gputest::in("mask", DataType::kBOOL, {1, 1, c.q_len, c.kv_len})); break;
  }
  auto layout = [](bool bshd) { return std::string(bshd ? "bshd" : "bhsd"); };
  // Random bool masks and causal with Sq > Skv mask whole rows: zeros there (NaN would not compare).
  const ir::Attributes attrs =
      gputest::attrsOf({{"q_layout", layout(q_bshd)},
                        {"k_layout", layout(k_bshd)},
                        {"v_layout", layout(v_bshd)},
                        {"out_layout", layout(o_bshd)},
                        {"scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)))},
                        {"causal", int64_t{c.causal}},
                        {"zero_masked_rows", int64_t{1}}});
  const ir::Graph g = testing::makeNodeGraph("FusedAttention", inputs, attrs);
  const backend::TacticProvider* provider = backend::findProvider("cuda.attention");
  ASSERT_NE(provider, nullptr);
  const std::vector<testing::CandidateResult> results =
      testing::checkProvider(*provider, g, *backend::gpuDevice(), testing::toleranceFor(c.type));
  ASSERT_FALSE(results.empty()) << describe(c);
  bool flash = false;
  for (const testing::CandidateResult& r : results) {
    EXPECT_TRUE(r.passed) << describe(c) << " " << r.name << ": " << r.message;
    flash = flash || r.name.rfind("flash", 0) == 0;
  }
  EXPECT_EQ(flash, want_flash) << describe(c);
}

TEST(CudaAttention, FlashAndGenericMatchAtOddLengthsInBothLayouts) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kHALF, DataType::kBF16})
    for (int64_t d : {64, 128})
      for (auto [sq, skv] :
           std::vector<std::pair<int64_t, int64_t>>{
               {1, 1}, {7, 7}, {64, 64}, {130, 130}, {7, 130}, {130, 7}, {1, 130}, {200, 333}})
        for (int layout = 0; layout < 3; ++layout) {
          Case c{.type = type,
                 .q_len = sq,
                 .kv_len = skv,
                 .head_dim = d,
                 .value_dim = d,
                 .bshd = layout == 1,
                 .mixed = layout == 2};
          check(c, true);
        }
}

TEST(CudaAttention, MasksAndCausalMatch) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT})
    for (Mask mask : {Mask::kNone, Mask::kFloatKeys, Mask::kFloatFull, Mask::kBool})
      for (bool causal : {false, true})
        for (auto [sq, skv] : std::vector<std::pair<int64_t, int64_t>>{{7, 7}, {130, 130}, {7, 130}, {130, 7}}) {
          Case c{.type = type, .q_len = sq, .kv_len = skv, .bshd = true, .mask = mask, .causal = causal};
          check(c, type != DataType::kFLOAT);
        }
}

TEST(CudaAttention, GenericCoversOtherHeadSizesAndFloat32) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16})
    for (auto [d, dv] : std::vector<std::pair<int64_t, int64_t>>{{8, 8}, {40, 40}, {64, 32}, {100, 256}, {256, 256}})
      for (bool bshd : {false, true}) {
        Case c{.type = type,
               .q_len = 13,
               .kv_len = 7,
               .head_dim = d,
               .value_dim = dv,
               .bshd = bshd,
               .mask = Mask::kFloatKeys};
        check(c, false);
      }
  // float32 at the flash head sizes: generic only.
  check(Case{.type = DataType::kFLOAT, .q_len = 130, .kv_len = 130, .head_dim = 128, .value_dim = 128}, false);
}

TEST(CudaAttention, BertBaseShapeMatches) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    Case c{.type = type, .batch = 4, .heads = 12, .q_len = 128, .kv_len = 128, .bshd = true, .mask = Mask::kFloatKeys};
    check(c, true);
  }
}

TEST(CudaAttention, NoCandidateBeyondHeadSize256) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Graph g = testing::makeNodeGraph(
      "FusedAttention",
      {gputest::in("q", DataType::kFLOAT, {1, 1, 4, 300}), gputest::in("k", DataType::kFLOAT, {1, 1, 4, 300}),
       gputest::in("v", DataType::kFLOAT, {1, 1, 4, 8})},
      {});
  gputest::expectNoCandidate("cuda.attention", g);
}

}  // namespace
}  // namespace kiln
