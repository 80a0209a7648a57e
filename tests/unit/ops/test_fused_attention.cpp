// FusedAttention on the CPU reference against a naive composition written here (scores,
// mask, causal, softmax, weighted sum per element), for both layouts, broadcast float masks,
// bool masks, causal with Sq != Skv, a value size unlike the key size, and fully masked rows
// (zeros with zero_masked_rows, NaN without); and the shape rule's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "ir/ops/attention_geometry.h"
#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::inferError;
using nn_testing::info;
using nn_testing::randomTensor;

struct Case {
  int64_t batch = 2, heads = 3, q_len = 5, kv_len = 7, head_dim = 8, value_dim = 8;
  bool q_bshd = false, k_bshd = false, v_bshd = false, out_bshd = false;
  double scale = 0.35;
  bool causal = false, zero_masked_rows = false;
};

ir::Shape shapeOf(int64_t b, int64_t h, int64_t s, int64_t d, bool bshd) {
  return bshd ? ir::Shape{b, s, h, d} : ir::Shape{b, h, s, d};
}

ir::Attributes attentionAttrs(const Case& c) {
  auto layout = [](bool bshd) { return std::string(bshd ? "bshd" : "bhsd"); };
  return attrsOf("FusedAttention", {{"q_layout", layout(c.q_bshd)},
                                    {"k_layout", layout(c.k_bshd)},
                                    {"v_layout", layout(c.v_bshd)},
                                    {"out_layout", layout(c.out_bshd)},
                                    {"scale", static_cast<float>(c.scale)},
                                    {"causal", int64_t{c.causal}},
                                    {"zero_masked_rows", int64_t{c.zero_masked_rows}}});
}

//! The naive composition: out[b,h,i,e] in [B,H,Sq,Dv] order (logical), NaN for a masked row.
std::vector<double> naive(const Case& c, const ir::Tensor& q, const ir::Tensor& k, const ir::Tensor& v,
                          const ir::Tensor* mask) {
  auto at = [](const ir::Tensor& t, bool bshd, int64_t b, int64_t h, int64_t s, int64_t d) {
    const ir::Shape& sh = t.shape();
    return bshd ? t.at(((b * sh[1] + s) * sh[2] + h) * sh[3] + d) : t.at(((b * sh[1] + h) * sh[2] + s) * sh[3] + d);
  };
  auto maskAt = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
    const ir::Shape& ms = mask->shape();
    const int64_t idx[4] = {b, h, i, j};
    int64_t flat = 0;
    for (size_t m = 0; m < ms.size(); ++m) flat = flat * ms[m] + (ms[m] == 1 ? 0 : idx[m + 4 - ms.size()]);
    return mask->at(flat);
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> out;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.q_len; ++i) {
        std::vector<double> s(c.kv_len);
        for (int64_t j = 0; j < c.kv_len; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < c.head_dim; ++d) dot += at(q, c.q_bshd, b, h, i, d) * at(k, c.k_bshd, b, h, j, d);
          s[j] = c.scale * dot;
          if (mask)
            s[j] =
                mask->type() == DataType::kBOOL ? (maskAt(b, h, i, j) != 0 ? s[j] : -inf) : s[j] + maskAt(b, h, i, j);
          if (c.causal && j > i + c.kv_len - c.q_len) s[j] = -inf;
        }
        double max = -inf;
        for (double x : s) max = std::max(max, x);
        for (int64_t e = 0; e < c.value_dim; ++e) {
          if (max == -inf) {
            out.push_back(c.zero_masked_rows ? 0.0 : std::numeric_limits<double>::quiet_NaN());
            continue;
          }
          double num = 0, den = 0;
          for (int64_t j = 0; j < c.kv_len; ++j) {
            const double p = std::exp(s[j] - max);
            den += p;
            num += p * at(v, c.v_bshd, b, h, j, e);
          }
          out.push_back(num / den);
        }
      }
  return out;
}

//! Runs the op; returns its output reordered to the logical [B,H,Sq,Dv] order.
std::vector<double> runAttention(const Case& c, const ir::Tensor& q, const ir::Tensor& k, const ir::Tensor& v,
                                 const std::optional<ir::Tensor>& mask) {
  std::vector<std::optional<ir::Tensor>> inputs = {q, k, v, mask};
  const ir::Tensor out = testing::runNodeOutputs("FusedAttention", inputs, attentionAttrs(c))[0];
  EXPECT_EQ(out.shape(), shapeOf(c.batch, c.heads, c.q_len, c.value_dim, c.out_bshd));
  std::vector<double> logical;
  const ir::Shape& s = out.shape();
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.q_len; ++i)
        for (int64_t e = 0; e < c.value_dim; ++e)
          logical.push_back(c.out_bshd ? out.at(((b * s[1] + i) * s[2] + h) * s[3] + e)
                                       : out.at(((b * s[1] + h) * s[2] + i) * s[3] + e));
  return logical;
}

void expectMatches(const Case& c, const std::optional<ir::Tensor>& mask, DataType type = DataType::kFLOAT,
                   double tol = 1e-6) {
  const ir::Tensor q = randomTensor(type, shapeOf(c.batch, c.heads, c.q_len, c.head_dim, c.q_bshd), 1, -2, 2);
  const ir::Tensor k = randomTensor(type, shapeOf(c.batch, c.heads, c.kv_len, c.head_dim, c.k_bshd), 2, -2, 2);
  const ir::Tensor v = randomTensor(type, shapeOf(c.batch, c.heads, c.kv_len, c.value_dim, c.v_bshd), 3);
  const std::vector<double> want = naive(c, q, k, v, mask ? &*mask : nullptr);
  const std::vector<double> got = runAttention(c, q, k, v, mask);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << "element " << i;
  }
}

TEST(FusedAttention, MatchesTheNaiveCompositionInEveryLayout) {
  for (int bits = 0; bits < 16; ++bits) {
    Case c;
    c.q_bshd = bits & 1, c.k_bshd = bits & 2, c.v_bshd = bits & 4, c.out_bshd = bits & 8;
    SCOPED_TRACE("layout bits " + std::to_string(bits));
    expectMatches(c, std::nullopt);
  }
}

TEST(FusedAttention, ValueSizeMayDifferAndSequencesBeOdd) {
  Case c{.batch = 1, .heads = 2, .q_len = 13, .kv_len = 1, .head_dim = 5, .value_dim = 11};
  expectMatches(c, std::nullopt);
  c.kv_len = 13, c.q_len = 1;
  expectMatches(c, std::nullopt);
}

TEST(FusedAttention, FloatMaskBroadcastsFromEveryShape) {
  const Case c;
  for (const ir::Shape& shape : {ir::Shape{7}, ir::Shape{5, 7}, ir::Shape{2, 1, 1, 7}, ir::Shape{1, 3, 5, 1},
                                 ir::Shape{2, 3, 5, 7}, ir::Shape{1, 1, 5, 7}}) {
    SCOPED_TRACE(toString(shape));
    expectMatches(c, randomTensor(DataType::kFLOAT, shape, 9, -3, 3));
  }
}

TEST(FusedAttention, BoolMaskMasksWhereFalseAndFullyMaskedRowsFollowTheFlag) {
  Case c;
  // Row 0 of batch 0 fully masked; the rest random.
  ir::Tensor mask = randomTensor(DataType::kBOOL, {2, 1, 5, 7}, 4);
  std::vector<double> m = mask.toDouble();
  for (int j = 0; j < 7; ++j) m[j] = 0;
  mask = ir::Tensor::fromDouble(DataType::kBOOL, {2, 1, 5, 7}, m);
  expectMatches(c, mask);  // NaN in the masked rows
  c.zero_masked_rows = true;
  expectMatches(c, mask);  // zeros
  // A float mask of -inf masks rows the same way.
  std::vector<double> f(35, 0.5);
  for (int j = 0; j < 7; ++j) f[14 + j] = -std::numeric_limits<double>::infinity();
  expectMatches(c, ir::Tensor::fromDouble(DataType::kFLOAT, {5, 7}, f));
}

TEST(FusedAttention, CausalAlignsTheLastQueryWithTheLastKey) {
  for (auto [q_len, kv_len] : {std::pair<int64_t, int64_t>{7, 7}, {3, 9}, {1, 5}}) {
    Case c{.q_len = q_len, .kv_len = kv_len, .causal = true};
    expectMatches(c, std::nullopt);
    expectMatches(c, randomTensor(DataType::kFLOAT, {1, 3, 1, kv_len}, 6));
  }
}

TEST(FusedAttention, HalfAndBFloat16AccumulateInDouble) {
  const Case c{.q_len = 7, .kv_len = 13, .head_dim = 16, .value_dim = 16};
  expectMatches(c, std::nullopt, DataType::kHALF, 1e-2);
  expectMatches(c, std::nullopt, DataType::kBF16, 2e-2);
}

TEST(FusedAttention, ShapeRuleNamesTheMismatch) {
  const ir::Attributes a = attrsOf("FusedAttention", {});
  const auto f = DataType::kFLOAT;
  const int invalid = static_cast<int>(ErrorCode::kInvalidModel);
  EXPECT_EQ(inferError("FusedAttention", {info(f, {2, 3, 5}), info(f, {2, 3, 7, 8}), info(f, {2, 3, 7, 8})}, a),
            invalid);
  EXPECT_EQ(inferError("FusedAttention", {info(f, {2, 3, 5, 8}), info(f, {2, 4, 7, 8}), info(f, {2, 3, 7, 8})}, a),
            invalid);
  EXPECT_EQ(inferError("FusedAttention", {info(f, {2, 3, 5, 8}), info(f, {2, 3, 7, 4}), info(f, {2, 3, 7, 8})}, a),
            invalid);
  EXPECT_EQ(inferError("FusedAttention", {info(f, {2, 3, 5, 8}), info(f, {2, 3, 7, 8}), info(f, {2, 3, 6, 8})}, a),
            invalid);
  EXPECT_EQ(inferError("FusedAttention",
                       {info(f, {2, 3, 5, 8}), info(f, {2, 3, 7, 8}), info(f, {2, 3, 7, 8}), info(f, {2, 1, 5, 6})}, a),
            invalid);
  EXPECT_EQ(inferError("FusedAttention", {info(f, {2, 3, 5, 8}), info(f, {2, 3, 7, 8}), info(f, {2, 3, 7, 8})},
                       attrsOf("FusedAttention", {{"q_layout", std::string("bsdh")}})),
            invalid);
  try {
    nn_testing::infer("FusedAttention", {info(f, {2, 3, 5, 8}), info(f, {2, 4, 7, 8}), info(f, {2, 3, 7, 8})}, a);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FusedAttention"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("head counts"), std::string::npos) << e.what();
  }
  // Symbolic and unknown dims pass; bshd output puts the heads third.
  ir::Attributes bshd =
      attrsOf("FusedAttention", {{"q_layout", std::string("bshd")}, {"out_layout", std::string("bshd")}});
  const auto out = nn_testing::infer("FusedAttention",
                                     {info(f, {-2, 5, 3, 8}), info(f, {-2, 3, -1, 8}), info(f, {-2, 3, -1, 16})}, bshd);
  EXPECT_EQ(out[0].shape, (ir::Shape{-2, 5, 3, 16}));
}

}  // namespace
}  // namespace kiln
