#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::randomTensor;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

constexpr double kInf = std::numeric_limits<double>::infinity();

//! Plain [B, H, S, D] tensor values, read by index.
struct Heads {
  std::vector<double> v;
  int64_t h, s, d;
  double operator()(int64_t b, int64_t hh, int64_t i, int64_t k) const { return v[((b * h + hh) * s + i) * d + k]; }
};

//! Attention written out for 4-D inputs whose K/V heads were already repeated per query head:
//! returns Y [B, H, Sq, Dv] and the masked, capped scores [B, H, Sq, T].
struct Want {
  std::vector<double> y, biased, probs;
};
Want attend(const Heads& q, const Heads& k, const Heads& v, int64_t batch, double scale, double softcap,
            const std::function<double(int64_t, int64_t, int64_t, int64_t)>& bias) {
  Want w;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < q.h; ++h)
      for (int64_t i = 0; i < q.s; ++i) {
        std::vector<double> s(k.s);
        for (int64_t j = 0; j < k.s; ++j) {
          double dot = 0.0;
          for (int64_t c = 0; c < q.d; ++c) dot += q(b, h, i, c) * k(b, h, j, c);
          dot *= scale;
          if (softcap > 0) dot = softcap * std::tanh(dot / softcap);
          s[j] = dot + bias(b, h, i, j);
          w.biased.push_back(s[j]);
        }
        double sum = 0.0;
        for (double x : s) sum += std::isinf(x) ? 0.0 : std::exp(x);
        for (int64_t c = 0; c < v.d; ++c) {
          double acc = 0.0;
          for (int64_t j = 0; j < k.s; ++j) acc += (std::isinf(s[j]) ? 0.0 : std::exp(s[j]) / sum) * v(b, h, j, c);
          w.y.push_back(sum > 0 ? acc : 0.0);
        }
        for (int64_t j = 0; j < k.s; ++j) w.probs.push_back(std::isinf(s[j]) || sum == 0 ? 0.0 : std::exp(s[j]) / sum);
      }
  return w;
}

//! [B, Hkv, T, D] with each head repeated `group` times: [B, Hkv * group, T, D].
Heads repeatHeads(const Heads& x, int64_t batch, int64_t group) {
  Heads r{{}, x.h * group, x.s, x.d};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < r.h; ++h)
      for (int64_t j = 0; j < x.s; ++j)
        for (int64_t c = 0; c < x.d; ++c) r.v.push_back(x(b, h / group, j, c));
  return r;
}

//! Past rows then new rows along the sequence.
Heads concatSeq(const Heads& past, const Heads& now, int64_t batch) {
  Heads r{{}, now.h, past.s + now.s, now.d};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < now.h; ++h)
      for (int64_t j = 0; j < r.s; ++j)
        for (int64_t c = 0; c < now.d; ++c) r.v.push_back(j < past.s ? past(b, h, j, c) : now(b, h, j - past.s, c));
  return r;
}

TEST(Attention, GroupedHeadsWithPastCausalPaddedFloatMaskAndSoftcap) {
  const int64_t B = 2, Hq = 4, Hkv = 2, Sq = 3, Skv = 5, P = 2, D = 6, Dv = 7, T = P + Skv;
  const ir::Tensor q = randomTensor(DataType::kFLOAT, {B, Hq, Sq, D}, 51);
  const ir::Tensor k = randomTensor(DataType::kFLOAT, {B, Hkv, Skv, D}, 52);
  const ir::Tensor v = randomTensor(DataType::kFLOAT, {B, Hkv, Skv, Dv}, 53);
  const ir::Tensor mask = randomTensor(DataType::kFLOAT, {Sq, T - 1}, 54);  // the last key column is padded
  const ir::Tensor pk = randomTensor(DataType::kFLOAT, {B, Hkv, P, D}, 55);
  const ir::Tensor pv = randomTensor(DataType::kFLOAT, {B, Hkv, P, Dv}, 56);
  auto out = runNode(
      "Attention", {q, k, v, mask, pk, pv},
      attrsOf("Attention",
              {{"is_causal", int64_t{1}}, {"scale", 0.3f}, {"softcap", 1.5f}, {"qk_matmul_output_mode", int64_t{2}}}),
      4, 23);
  const Heads keys = concatSeq({pk.toDouble(), Hkv, P, D}, {k.toDouble(), Hkv, Skv, D}, B);
  const Heads values = concatSeq({pv.toDouble(), Hkv, P, Dv}, {v.toDouble(), Hkv, Skv, Dv}, B);
  const auto m = mask.toDouble();
  const Want w = attend({q.toDouble(), Hq, Sq, D}, repeatHeads(keys, B, Hq / Hkv), repeatHeads(values, B, Hq / Hkv), B,
                        double(0.3f), double(1.5f), [&](int64_t, int64_t, int64_t i, int64_t j) {
                          return j > i + P || j >= T - 1 ? -kInf : m[i * (T - 1) + j];
                        });
  expectNear(out[0], w.y, 1e-5);
  EXPECT_EQ(out[1].shape(), (Ints{B, Hkv, T, D}));
  expectNear(out[1], keys.v, 0);
  expectNear(out[2], values.v, 0);
  EXPECT_EQ(out[3].shape(), (Ints{B, Hq, Sq, T}));
  const auto qk = out[3].toDouble();
  ASSERT_EQ(qk.size(), w.biased.size());
  for (size_t i = 0; i < qk.size(); ++i) {
    if (std::isinf(w.biased[i])) EXPECT_TRUE(std::isinf(qk[i]) && qk[i] < 0) << i;
    else EXPECT_NEAR(qk[i], w.biased[i], 1e-5 * (1 + std::fabs(w.biased[i]))) << i;
  }
}

TEST(Attention, SequenceFirstLayoutWithBroadcastBoolMaskAndSoftmaxOutput) {
  const int64_t B = 2, H = 3, Sq = 5, Skv = 4, D = 3, Dv = 5;
  const ir::Tensor q = randomTensor(DataType::kDOUBLE, {B, Sq, H * D}, 61);
  const ir::Tensor k = randomTensor(DataType::kDOUBLE, {B, Skv, H * D}, 62);
  const ir::Tensor v = randomTensor(DataType::kDOUBLE, {B, Skv, H * Dv}, 63);
  std::vector<double> keep(B * Sq * Skv);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = (i * 5 + 1) % 3 != 0 ? 1.0 : 0.0;
  keep[1 * Skv + 0] = keep[1 * Skv + 1] = keep[1 * Skv + 2] = keep[1 * Skv + 3] = 0.0;  // b 0, query 1: all masked
  const ir::Tensor mask = tensorOf({B, 1, Sq, Skv}, keep, DataType::kBOOL);
  auto out =
      runNode("Attention", {q, k, v, mask},
              attrsOf("Attention", {{"q_num_heads", H}, {"kv_num_heads", H}, {"qk_matmul_output_mode", int64_t{3}}}), 4,
              23, {1, 2});
  // [B, S, H * D] -> [B, H, S, D]
  const auto split = [&](const ir::Tensor& t, int64_t s, int64_t d) {
    const auto x = t.toDouble();
    Heads r{{}, H, s, d};
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < s; ++i)
          for (int64_t c = 0; c < d; ++c) r.v.push_back(x[((b * s + i) * H + h) * d + c]);
    return r;
  };
  const Want w =
      attend(split(q, Sq, D), split(k, Skv, D), split(v, Skv, Dv), B, 1 / std::sqrt(3.0), 0,
             [&](int64_t b, int64_t, int64_t i, int64_t j) { return keep[(b * Sq + i) * Skv + j] ? 0.0 : -kInf; });
  std::vector<double> y;  // back to [B, Sq, H * Dv]
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t c = 0; c < Dv; ++c) y.push_back(w.y[((b * H + h) * Sq + i) * Dv + c]);
  EXPECT_EQ(out[0].shape(), (Ints{B, Sq, H * Dv}));
  expectNear(out[0], y, 1e-12);
  expectNear(out[3], w.probs, 1e-12);
  for (int64_t c = 0; c < Dv; ++c) EXPECT_EQ(out[0].toDouble()[1 * H * Dv + c], 0.0);  // the fully masked row
}

TEST(Attention, NonpadLengthsMaskKeysAndShiftTheCausalDiagonal) {
  const int64_t B = 2, H = 1, Sq = 2, Skv = 5, D = 4;
  const ir::Tensor q = randomTensor(DataType::kFLOAT, {B, H, Sq, D}, 71);
  const ir::Tensor k = randomTensor(DataType::kFLOAT, {B, H, Skv, D}, 72);
  const ir::Tensor v = randomTensor(DataType::kFLOAT, {B, H, Skv, D}, 73);
  const std::vector<double> lengths = {3, 5};
  const ir::Tensor nonpad = tensorOf({B}, lengths, DataType::kINT64);
  auto out = testing::runNodeOutputs("Attention", testing::optionalInputs({q, k, v, {}, {}, {}, nonpad}, {3, 4, 5}),
                                     attrsOf("Attention", {{"is_causal", int64_t{1}}}), 1, 24);
  const Want w = attend({q.toDouble(), H, Sq, D}, {k.toDouble(), H, Skv, D}, {v.toDouble(), H, Skv, D}, B, 0.5, 0,
                        [&](int64_t b, int64_t, int64_t i, int64_t j) {
                          const auto len = static_cast<int64_t>(lengths[b]);
                          return j >= len || j > i + len - Sq ? -kInf : 0.0;
                        });
  expectNear(out[0], w.y, 1e-5);
}

TEST(Attention, WindowAroundThePositionAfterThePastWithRankOneMask) {
  const int64_t B = 1, H = 2, Sq = 3, Skv = 4, P = 3, D = 5, T = P + Skv, left = 2, right = 1;
  const ir::Tensor q = randomTensor(DataType::kFLOAT, {B, H, Sq, D}, 81);
  const ir::Tensor k = randomTensor(DataType::kFLOAT, {B, H, Skv, D}, 82);
  const ir::Tensor v = randomTensor(DataType::kFLOAT, {B, H, Skv, D}, 83);
  const ir::Tensor pk = randomTensor(DataType::kFLOAT, {B, H, P, D}, 84);
  const ir::Tensor pv = randomTensor(DataType::kFLOAT, {B, H, P, D}, 85);
  const ir::Tensor mask = randomTensor(DataType::kFLOAT, {T}, 86);
  auto out = runNode("Attention", {q, k, v, mask, pk, pv},
                     attrsOf("Attention", {{"left_window_size", left}, {"right_window_size", right}}), 1, 25);
  const auto m = mask.toDouble();
  const Want w = attend(
      {q.toDouble(), H, Sq, D}, concatSeq({pk.toDouble(), H, P, D}, {k.toDouble(), H, Skv, D}, B),
      concatSeq({pv.toDouble(), H, P, D}, {v.toDouble(), H, Skv, D}, B), B, 1 / std::sqrt(5.0), 0,
      [&](int64_t, int64_t, int64_t i, int64_t j) { return j < i + P - left || j > i + P + right ? -kInf : m[j]; });
  expectNear(out[0], w.y, 1e-5);
}

TEST(AttentionShape, OutputsAndRefusals) {
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto none = attrsOf("Attention", {});
  auto out = nn_testing::infer(
      "Attention", {f({2, 6, 4, 8}), f({2, 3, 5, 8}), f({2, 3, 5, 10}), f({4, 7}), f({2, 3, 2, 8}), f({2, 3, 2, 10})},
      none, 4, 23);
  EXPECT_EQ(out[0].shape, (Ints{2, 6, 4, 10}));
  EXPECT_EQ(out[1].shape, (Ints{2, 3, 7, 8}));
  EXPECT_EQ(out[2].shape, (Ints{2, 3, 7, 10}));
  EXPECT_EQ(out[3].shape, (Ints{2, 6, 4, 7}));
  const auto heads = attrsOf("Attention", {{"q_num_heads", int64_t{4}}, {"kv_num_heads", int64_t{2}}});
  EXPECT_EQ(nn_testing::infer("Attention", {f({2, 5, 32}), f({2, 3, 16}), f({2, 3, 6})}, heads, 1, 23)[0].shape,
            (Ints{2, 5, 12}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  const auto err = [&](const std::vector<ir::TensorInfo>& in, const ir::Attributes& a, int opset = 23) {
    return nn_testing::inferError("Attention", in, a, 1, opset);
  };
  EXPECT_EQ(err({f({2, 5, 32}), f({2, 3, 16}), f({2, 3, 6})}, none), invalid);         // 3-D without head counts
  EXPECT_EQ(err({f({2, 5, 4, 8}), f({2, 2, 3, 8}), f({2, 2, 3, 8})}, none), invalid);  // 5 heads over 2
  EXPECT_EQ(err({f({2, 4, 4, 8}), f({2, 2, 3, 6}), f({2, 2, 3, 8})}, none), invalid);  // head sizes differ
  EXPECT_EQ(err({f({2, 4, 4, 8}), f({2, 2, 3, 8}), f({2, 2, 3, 8}), f({4, 4})}, none), invalid);  // mask too wide
  EXPECT_EQ(err({f({2, 4, 4, 8}), f({2, 2, 3, 8}), f({2, 2, 3, 8})},
                attrsOf("Attention", {{"qk_matmul_output_mode", int64_t{4}}})),
            invalid);
  EXPECT_EQ(err({f({2, 4, 4, 8}), f({2, 2, 3, 8}), f({2, 2, 3, 8})},
                attrsOf("Attention", {{"left_window_size", int64_t{-2}}}), 25),
            invalid);
  EXPECT_EQ(ir::findSchema("Attention")->since_opset, 23);
}

}  // namespace
}  // namespace kiln
