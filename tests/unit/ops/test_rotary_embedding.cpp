#include <gtest/gtest.h>

#include <complex>

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

constexpr int64_t kB = 2, kH = 3, kS = 5, kD = 6;

//! Angle of row r, pair i: any values work; these are distinct and not multiples of pi.
double angle(int64_t r, int64_t i) { return 0.37 * static_cast<double>(r + 1) / static_cast<double>(i + 1) - 0.5; }

//! [rows, width] cos and sin tables of angle().
std::pair<ir::Tensor, ir::Tensor> caches(ir::Shape shape, DataType type = DataType::kFLOAT) {
  const int64_t width = shape.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  std::vector<double> c, s;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < width; ++i) {
      c.push_back(std::cos(angle(r, i)));
      s.push_back(std::sin(angle(r, i)));
    }
  return {tensorOf(shape, c, type), tensorOf(std::move(shape), s, type)};
}

//! Each head vector x[0..kD) with its pairs (a, b) multiplied as a + ib by e^(i angle).
std::vector<double> rotateHead(std::vector<double> v, int64_t cache_row, int64_t dim, bool interleaved) {
  for (int64_t i = 0; i < dim / 2; ++i) {
    const int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + dim / 2;
    const std::complex<double> z = std::complex<double>(v[a], v[b]) * std::polar(1.0, angle(cache_row, i));
    v[a] = z.real();
    v[b] = z.imag();
  }
  return v;
}

TEST(RotaryEmbedding, HeadsFirstWithPositionIdsInterleavedPartial) {
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {kB, kH, kS, kD}, 41);
  auto [cos, sin] = caches({9, 3});  // 9 positions, wider than dim / 2 = 2
  std::vector<double> pos(kB * kS);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<double>((i * 7 + 2) % 9);
  const ir::Tensor ids = tensorOf({kB, kS}, pos, DataType::kINT64);
  auto y =
      runNode("RotaryEmbedding", {x, cos, sin, ids},
              attrsOf("RotaryEmbedding", {{"interleaved", int64_t{1}}, {"rotary_embedding_dim", int64_t{4}}}), 1, 23);
  const auto xv = x.toDouble();
  std::vector<double> want;
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t h = 0; h < kH; ++h)
      for (int64_t s = 0; s < kS; ++s) {
        const auto at = xv.begin() + ((b * kH + h) * kS + s) * kD;
        const auto r = rotateHead({at, at + kD}, static_cast<int64_t>(pos[b * kS + s]), 4, true);
        want.insert(want.end(), r.begin(), r.end());
      }
  expectNear(y[0], want, 1e-5);
}

TEST(RotaryEmbedding, SequenceFirstWithPerTokenCaches) {
  const ir::Tensor x = randomTensor(DataType::kDOUBLE, {kB, kS, kH * kD}, 42);
  auto [cos, sin] = caches({kB, kS, kD / 2}, DataType::kDOUBLE);
  auto y = runNode("RotaryEmbedding", {x, cos, sin}, attrsOf("RotaryEmbedding", {{"num_heads", kH}}), 1, 23);
  const auto xv = x.toDouble();
  std::vector<double> want;
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t s = 0; s < kS; ++s)
      for (int64_t h = 0; h < kH; ++h) {
        const auto at = xv.begin() + ((b * kS + s) * kH + h) * kD;
        const auto r = rotateHead({at, at + kD}, b * kS + s, kD, false);
        want.insert(want.end(), r.begin(), r.end());
      }
  expectNear(y[0], want, 1e-12);
}

TEST(RotaryEmbedding, PositionOutsideTheCachesIsAnError) {
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {1, 1, 2, 4}, 43);
  auto [cos, sin] = caches({3, 2});
  const ir::Tensor ids = tensorOf({1, 2}, {0, 3}, DataType::kINT64);
  EXPECT_EQ(testing::errorCode([&] {
              runNode("RotaryEmbedding", {x, cos, sin, ids}, attrsOf("RotaryEmbedding", {}), 1, 23);
            }),
            static_cast<int>(ErrorCode::kInvalidArgument));
}

TEST(RotaryEmbeddingShape, InvalidAttributesAndCaches) {
  const auto f = [](ir::Shape s) { return info(DataType::kFLOAT, std::move(s)); };
  const auto ids = info(DataType::kINT64, {2, 5});
  const auto none = attrsOf("RotaryEmbedding", {});
  EXPECT_EQ(nn_testing::infer("RotaryEmbedding", {f({2, 3, 5, 6}), f({9, 3}), f({9, 3}), ids}, none, 1, 23)[0].shape,
            (Ints{2, 3, 5, 6}));
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  // 3-D without num_heads; hidden size not a multiple of num_heads.
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 5, 18}), f({9, 3}), f({9, 3}), ids}, none, 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 5, 18}), f({9, 3}), f({9, 3}), ids},
                                   attrsOf("RotaryEmbedding", {{"num_heads", int64_t{4}}}), 1, 23),
            invalid);
  // Odd or too large rotary_embedding_dim; caches too narrow; 2-D caches without position_ids.
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 3, 5, 6}), f({9, 3}), f({9, 3}), ids},
                                   attrsOf("RotaryEmbedding", {{"rotary_embedding_dim", int64_t{3}}}), 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 3, 5, 6}), f({9, 4}), f({9, 4}), ids},
                                   attrsOf("RotaryEmbedding", {{"rotary_embedding_dim", int64_t{8}}}), 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 3, 5, 6}), f({9, 2}), f({9, 2}), ids}, none, 1, 23),
            invalid);
  EXPECT_EQ(nn_testing::inferError("RotaryEmbedding", {f({2, 3, 5, 6}), f({9, 3}), f({9, 3})}, none, 1, 23), invalid);
  EXPECT_EQ(ir::findSchema("RotaryEmbedding")->since_opset, 23);
}

}  // namespace
}  // namespace kiln
