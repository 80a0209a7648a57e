// MatMul, Gemm and Einsum: shape rules and reference kernels.
#include <gtest/gtest.h>

#include "unit/ops/linalg_test_util.h"

namespace kiln::testing {
namespace {

using ir::Shape;
using ir::Tensor;

// Naive batched matmul in double over already-broadcast 3-D operands [B,M,K] x [B,K,N].
std::vector<double> naiveMatMul(const std::vector<double>& a, const std::vector<double>& b, int64_t batch, int64_t m,
                                int64_t k, int64_t n, bool broadcast_b = false) {
  std::vector<double> c(static_cast<size_t>(batch * m * n), 0.0);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += a[(bi * m + i) * k + p] * b[((broadcast_b ? 0 : bi) * k + p) * n + j];
        c[(bi * m + i) * n + j] = s;
      }
  return c;
}

Shape matMulShape(Shape a, Shape b) {
  return inferShapes("MatMul", {info(DataType::kFLOAT, a), info(DataType::kFLOAT, b)})[0].shape;
}

TEST(MatMulShape, FollowsNumpyRules) {
  EXPECT_EQ(matMulShape({2, 3, 4}, {4, 5}), (Shape{2, 3, 5}));
  EXPECT_EQ(matMulShape({4}, {4, 5}), (Shape{5}));
  EXPECT_EQ(matMulShape({3, 4}, {4}), (Shape{3}));
  EXPECT_EQ(matMulShape({4}, {4}), (Shape{}));
  EXPECT_EQ(matMulShape({2, 1, 3, 4}, {5, 4, 6}), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(matMulShape({7, 4}, {3, 4, 6}), (Shape{3, 7, 6}));
}

TEST(MatMulShape, KeepsSymbolicAndUnknownDims) {
  const int64_t batch = ir::kFirstSymbol, seq = ir::kFirstSymbol - 1;
  EXPECT_EQ(matMulShape({batch, seq, 768}, {768, 3072}), (Shape{batch, seq, 3072}));
  EXPECT_EQ(matMulShape({batch, seq, ir::kUnknownDim}, {64, 5}), (Shape{batch, seq, 5}));
  EXPECT_EQ(matMulShape({batch, 12, seq, 64}, {batch, 12, 64, seq}), (Shape{batch, 12, seq, seq}));
}

TEST(MatMulShape, RejectsMismatchedInnerDims) {
  try {
    matMulShape({2, 3}, {4, 5});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
  EXPECT_THROW(matMulShape({2, 3, 4}, {3, 4, 5}), Error);  // batch 2 vs 3
  EXPECT_THROW(matMulShape({}, {4, 5}), Error);
}

TEST(MatMulShape, RejectsMixedTypes) {
  EXPECT_THROW(inferShapes("MatMul", {info(DataType::kFLOAT, {2, 3}), info(DataType::kHALF, {3, 2})}), Error);
}

TEST(MatMulKernel, HandCheckedTwoByTwo) {
  Tensor y = OneNode("MatMul", {floats({2, 2}, {1, 2, 3, 4}), floats({2, 2}, {5, 6, 7, 8})}).run1();
  expectNear(y, {19, 22, 43, 50}, 0);
}

TEST(MatMulKernel, RandomOddSizesMatchNaive) {
  for (auto [m, k, n] : {std::tuple{1, 1, 1}, {5, 7, 3}, {9, 13, 517}, {6, 1, 600}, {17, 33, 2}}) {
    Tensor a = randomTensor(DataType::kFLOAT, {m, k}, 1 + m);
    Tensor b = randomTensor(DataType::kFLOAT, {k, n}, 2 + n);
    Tensor y = OneNode("MatMul", {a, b}).run1();
    EXPECT_EQ(y.shape(), (Shape{m, n}));
    expectNear(y, naiveMatMul(a.toDouble(), b.toDouble(), 1, m, k, n), 1e-5);
  }
}

TEST(MatMulKernel, SharedWeightFoldsBatch) {
  Tensor a = randomTensor(DataType::kFLOAT, {2, 3, 5, 7}, 3);
  Tensor b = randomTensor(DataType::kFLOAT, {7, 9}, 4);
  Tensor y = OneNode("MatMul", {a, b}).run1();
  EXPECT_EQ(y.shape(), (Shape{2, 3, 5, 9}));
  expectNear(y, naiveMatMul(a.toDouble(), b.toDouble(), 6, 5, 7, 9, true), 1e-5);
}

TEST(MatMulKernel, BroadcastsBatchDims) {
  // a [2,1,3,4] x b [5,4,6] -> [2,5,3,6]
  Tensor a = randomTensor(DataType::kFLOAT, {2, 1, 3, 4}, 5);
  Tensor b = randomTensor(DataType::kFLOAT, {5, 4, 6}, 6);
  Tensor y = OneNode("MatMul", {a, b}).run1();
  ASSERT_EQ(y.shape(), (Shape{2, 5, 3, 6}));
  auto va = a.toDouble(), vb = b.toDouble(), vy = y.toDouble();
  for (int64_t i0 = 0; i0 < 2; ++i0)
    for (int64_t i1 = 0; i1 < 5; ++i1)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < 6; ++c) {
          double s = 0;
          for (int64_t p = 0; p < 4; ++p) s += va[(i0 * 3 + r) * 4 + p] * vb[(i1 * 4 + p) * 6 + c];
          EXPECT_NEAR(vy[((i0 * 5 + i1) * 3 + r) * 6 + c], s, 1e-5);
        }
}

TEST(MatMulKernel, PromotesOneDimensionalOperands) {
  Tensor v = floats({3}, {1, -2, 0.5});
  Tensor m = floats({3, 2}, {1, 2, 3, 4, 5, 6});
  expectNear(OneNode("MatMul", {v, m}).run1(), {1 - 6 + 2.5, 2 - 8 + 3}, 1e-6);
  Tensor mt = floats({2, 3}, {1, 3, 5, 2, 4, 6});
  expectNear(OneNode("MatMul", {mt, v}).run1(), {1 - 6 + 2.5, 2 - 8 + 3}, 1e-6);
  Tensor dot = OneNode("MatMul", {v, v}).run1();
  EXPECT_EQ(dot.shape(), Shape{});
  expectNear(dot, {1 + 4 + 0.25}, 1e-6);
}

TEST(MatMulKernel, HalfAndIntegerTypes) {
  Tensor a = randomTensor(DataType::kFLOAT, {3, 5}, 7);
  Tensor b = randomTensor(DataType::kFLOAT, {5, 4}, 8);
  Tensor yh = OneNode("MatMul", {a.cast(DataType::kHALF), b.cast(DataType::kHALF)}).run1();
  EXPECT_EQ(yh.type(), DataType::kHALF);
  expectNear(yh, naiveMatMul(a.cast(DataType::kHALF).toDouble(), b.cast(DataType::kHALF).toDouble(), 1, 3, 5, 4), 5e-3);
  Tensor yb = OneNode("MatMul", {a.cast(DataType::kBF16), b.cast(DataType::kBF16)}).run1();
  expectNear(yb, naiveMatMul(a.cast(DataType::kBF16).toDouble(), b.cast(DataType::kBF16).toDouble(), 1, 3, 5, 4), 3e-2);
  Tensor ai = ir::Tensor::fromDouble(DataType::kINT32, {2, 3}, std::vector<double>{1, -2, 3, 4, 5, -6});
  Tensor bi = ir::Tensor::fromDouble(DataType::kINT32, {3, 1}, std::vector<double>{7, 8, 9});
  Tensor yi = OneNode("MatMul", {ai, bi}).run1();
  EXPECT_EQ(yi.toInt64(), (std::vector<int64_t>{7 - 16 + 27, 28 + 40 - 54}));
}

TEST(MatMulKernel, DoubleAccumulationIsAccurate) {
  // Large cancelling sums: float accumulation would lose the small terms.
  const int64_t k = 4001;
  std::vector<double> av(k), bv(k, 1.0);
  double want = 0;
  for (int64_t p = 0; p < k; ++p) {
    av[p] = (p % 2 ? -1e4 : 1e4) + (p == k - 1 ? 0 : 0.001 * static_cast<double>(p % 7));
    want += static_cast<float>(av[p]);
  }
  Tensor y = OneNode("MatMul", {floats({1, k}, av), floats({k, 1}, bv)}).run1();
  EXPECT_NEAR(y.at(0), want, 1e-3);
}

TEST(GemmShape, TransposesAndChecksC) {
  auto gemm = [](Shape a, Shape b, std::optional<Shape> c, ir::Attributes at = {}) {
    std::vector<ir::TensorInfo> in{info(DataType::kFLOAT, a), info(DataType::kFLOAT, b)};
    if (c) in.push_back(info(DataType::kFLOAT, *c));
    return inferShapes("Gemm", in, at)[0].shape;
  };
  EXPECT_EQ(gemm({3, 5}, {5, 4}, std::nullopt), (Shape{3, 4}));
  EXPECT_EQ(gemm({5, 3}, {4, 5}, Shape{4}, attrs({{"transA", int64_t{1}}, {"transB", int64_t{1}}})), (Shape{3, 4}));
  EXPECT_EQ(gemm({ir::kFirstSymbol, 768}, {3072, 768}, Shape{3072}, attrs({{"transB", int64_t{1}}})),
            (Shape{ir::kFirstSymbol, 3072}));
  EXPECT_THROW(gemm({3, 5}, {4, 5}, std::nullopt), Error);
  EXPECT_THROW(gemm({3, 5}, {5, 4}, Shape{3}), Error);  // C [3] does not broadcast to [3,4]
  EXPECT_THROW(gemm({3, 5, 1}, {5, 4}, std::nullopt), Error);
}

TEST(GemmKernel, AllAttributesAndBiasForms) {
  const int64_t m = 5, k = 7, n = 6;
  Tensor a = randomTensor(DataType::kFLOAT, {k, m}, 11);  // transposed
  Tensor b = randomTensor(DataType::kFLOAT, {n, k}, 12);  // transposed
  auto va = a.toDouble(), vb = b.toDouble();
  const double alpha = 0.25, beta = 0.35;
  for (Shape c_shape : {Shape{}, Shape{1}, Shape{n}, Shape{m, 1}, Shape{1, n}, Shape{m, n}}) {
    Tensor c = randomTensor(DataType::kFLOAT, c_shape, 13);
    auto vc = c.toDouble();
    Tensor y = OneNode("Gemm", {a, b, c},
                       attrs({{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.25f}, {"beta", 0.35f}}))
                   .run1();
    ASSERT_EQ(y.shape(), (Shape{m, n}));
    auto vy = y.toDouble();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += va[p * m + i] * vb[j * k + p];
        int64_t ci = 0;
        if (c_shape.size() == 1) ci = c_shape[0] == 1 ? 0 : j;
        if (c_shape.size() == 2) ci = (c_shape[0] == 1 ? 0 : i) * c_shape[1] + (c_shape[1] == 1 ? 0 : j);
        EXPECT_NEAR(vy[i * n + j], alpha * s + beta * vc[ci], 1e-5) << toString(c_shape);
      }
  }
}

TEST(GemmKernel, TransposedOperandsLargerThanATile) {
  const int64_t m = 37, k = 45, n = 70;
  Tensor a = randomTensor(DataType::kFLOAT, {k, m}, 16);
  Tensor b = randomTensor(DataType::kFLOAT, {n, k}, 17);
  Tensor y = OneNode("Gemm", {a, b}, attrs({{"transA", int64_t{1}}, {"transB", int64_t{1}}})).run1();
  auto va = a.toDouble(), vb = b.toDouble(), vy = y.toDouble();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += va[p * m + i] * vb[j * k + p];
      EXPECT_NEAR(vy[i * n + j], s, 1e-5);
    }
}

TEST(GemmKernel, NoBiasPlainProduct) {
  Tensor a = randomTensor(DataType::kDOUBLE, {4, 3}, 14);
  Tensor b = randomTensor(DataType::kDOUBLE, {3, 9}, 15);
  Tensor y = OneNode("Gemm", {a, b}).run1();
  expectNear(y, naiveMatMul(a.toDouble(), b.toDouble(), 1, 4, 3, 9), 1e-12);
}

Shape einsumShape(const std::string& eq, std::vector<Shape> shapes) {
  std::vector<ir::TensorInfo> in;
  for (auto& s : shapes) in.push_back(info(DataType::kFLOAT, s));
  return inferShapes("Einsum", in, attrs({{"equation", eq}}))[0].shape;
}

TEST(EinsumShape, ExplicitImplicitAndEllipsis) {
  EXPECT_EQ(einsumShape("bij, bjk -> bik", {{2, 3, 4}, {2, 4, 5}}), (Shape{2, 3, 5}));
  EXPECT_EQ(einsumShape("ij,jk", {{3, 4}, {4, 5}}), (Shape{3, 5}));
  EXPECT_EQ(einsumShape("ba", {{3, 4}}), (Shape{4, 3}));  // implicit output is alphabetical
  EXPECT_EQ(einsumShape("i,i", {{7}, {7}}), Shape{});
  EXPECT_EQ(einsumShape("ii", {{7, 7}}), Shape{});
  EXPECT_EQ(einsumShape("...ii ->...i", {{2, 3, 4, 4}}), (Shape{2, 3, 4}));
  EXPECT_EQ(einsumShape("...ij,...jk->...ik", {{2, 1, 3, 4}, {5, 4, 6}}), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(einsumShape("...ij,jk", {{2, 3, 4}, {4, 6}}), (Shape{2, 3, 6}));
  const int64_t s = ir::kFirstSymbol;
  EXPECT_EQ(einsumShape("bhid,bhjd->bhij", {{s, 12, s - 1, 64}, {s, 12, s - 1, 64}}), (Shape{s, 12, s - 1, s - 1}));
}

TEST(EinsumShape, RejectsBadEquations) {
  EXPECT_THROW(einsumShape("ij,jk->ik", {{3, 4}, {5, 6}}), Error);  // j: 4 vs 5
  EXPECT_THROW(einsumShape("ijk->i", {{3, 4}}), Error);            // rank mismatch
  EXPECT_THROW(einsumShape("ij->k", {{3, 4}}), Error);             // unknown output label
  EXPECT_THROW(einsumShape("ij,jk->ik", {{3, 4}}), Error);         // too few inputs
  EXPECT_THROW(einsumShape("i1->i", {{3, 4}}), Error);
  try {
    einsumShape("ij->ii", {{3, 3}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
}

Tensor einsum(const std::string& eq, std::vector<Tensor> in) {
  return OneNode("Einsum", optionalInputs(in), attrs({{"equation", eq}})).run1();
}

TEST(EinsumKernel, MatmulForms) {
  Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, 21);
  Tensor y = randomTensor(DataType::kFLOAT, {2, 4, 5}, 22);
  expectNear(einsum("bij, bjk -> bik", {x, y}), naiveMatMul(x.toDouble(), y.toDouble(), 2, 3, 4, 5), 1e-5);
  // Attention scores: q [b,h,i,d] . k [b,h,j,d] -> [b,h,i,j]
  Tensor q = randomTensor(DataType::kFLOAT, {1, 3, 5, 8}, 23);
  Tensor k = randomTensor(DataType::kFLOAT, {1, 3, 6, 8}, 24);
  Tensor s = einsum("bhid,bhjd->bhij", {q, k});
  ASSERT_EQ(s.shape(), (Shape{1, 3, 5, 6}));
  auto vq = q.toDouble(), vk = k.toDouble(), vs = s.toDouble();
  for (int h = 0; h < 3; ++h)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 6; ++j) {
        double want = 0;
        for (int d = 0; d < 8; ++d) want += vq[(h * 5 + i) * 8 + d] * vk[(h * 6 + j) * 8 + d];
        EXPECT_NEAR(vs[(h * 5 + i) * 6 + j], want, 1e-5);
      }
  // Implicit form gives the same as explicit.
  Tensor a = randomTensor(DataType::kFLOAT, {3, 4}, 25);
  Tensor b = randomTensor(DataType::kFLOAT, {4, 5}, 26);
  expectNear(einsum("ij,jk", {a, b}), naiveMatMul(a.toDouble(), b.toDouble(), 1, 3, 4, 5), 1e-5);
}

TEST(EinsumKernel, TransposeSumTraceDiagonal) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  expectNear(einsum("ij->ji", {x}), {1, 4, 2, 5, 3, 6}, 0);
  expectNear(einsum("ij->i", {x}), {6, 15}, 1e-6);
  expectNear(einsum("ij->", {x}), {21}, 1e-6);
  expectNear(einsum("i,i", {floats({3}, {1, 2, 3}), floats({3}, {4, -5, 6})}), {4 - 10 + 18}, 1e-6);
  Tensor sq = floats({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectNear(einsum("ii", {sq}), {15}, 1e-6);
  expectNear(einsum("ii->i", {sq}), {1, 5, 9}, 0);
  Tensor batch = randomTensor(DataType::kFLOAT, {2, 3, 3}, 27);
  auto vb = batch.toDouble();
  Tensor diag = einsum("...ii ->...i", {batch});
  ASSERT_EQ(diag.shape(), (Shape{2, 3}));
  expectNear(diag, {vb[0], vb[4], vb[8], vb[9], vb[13], vb[17]}, 0);
  expectNear(einsum("i,j->ij", {floats({2}, {1, 2}), floats({3}, {3, 4, 5})}), {3, 4, 5, 6, 8, 10}, 0);
}

TEST(EinsumKernel, EllipsisBroadcastAndThreeOperands) {
  Tensor a = randomTensor(DataType::kFLOAT, {2, 1, 3, 4}, 31);
  Tensor b = randomTensor(DataType::kFLOAT, {5, 4, 6}, 32);
  Tensor viaEinsum = einsum("...ij,...jk->...ik", {a, b});
  Tensor viaMatMul = OneNode("MatMul", {a, b}).run1();
  ASSERT_EQ(viaEinsum.shape(), viaMatMul.shape());
  expectNear(viaEinsum, viaMatMul.toDouble(), 1e-5);
  Tensor x = randomTensor(DataType::kDOUBLE, {2, 3}, 33);
  Tensor y = randomTensor(DataType::kDOUBLE, {3, 4}, 34);
  Tensor z = randomTensor(DataType::kDOUBLE, {4, 5}, 35);
  auto xy = naiveMatMul(x.toDouble(), y.toDouble(), 1, 2, 3, 4);
  expectNear(einsum("ij,jk,kl->il", {x, y, z}), naiveMatMul(xy, z.toDouble(), 1, 2, 4, 5), 1e-12);
  // Integer inputs accumulate exactly.
  Tensor ia = ir::Tensor::fromDouble(DataType::kINT64, {2, 2}, std::vector<double>{1, 2, 3, 4});
  EXPECT_EQ(einsum("ij,jk->ik", {ia, ia}).toInt64(), (std::vector<int64_t>{7, 10, 15, 22}));
}

}  // namespace
}  // namespace kiln::testing
