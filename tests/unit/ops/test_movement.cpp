// Shape rules and reference kernels of Transpose, Tile, Pad, Concat, Split, Slice, the Gather
// and Scatter families, DepthToSpace, SpaceToDepth, Trilu and OneHot.
#include "unit/ops/movement_test_util.h"

namespace kiln::mv_test {
namespace {

In data(Shape s) { return In{DataType::kFLOAT, std::move(s)}; }

//! Plain index arithmetic for checks: element of a row-major tensor.
double at(const Tensor& t, std::vector<int64_t> idx) {
  std::vector<int64_t> st = ir::contiguousStrides(t.shape());
  int64_t off = 0;
  for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * st[i];
  return t.at(off);
}

TEST(Transpose, PermutesDimsAndData) {
  EXPECT_EQ(inferShape("Transpose", {data({kBatch, 3, 5})}, attrs({{"perm", std::vector<int64_t>{2, 0, 1}}})), (Shape{5, kBatch, 3}));
  EXPECT_EQ(errorCode([] { inferShape("Transpose", {data({2, 3})}, attrs({{"perm", std::vector<int64_t>{0, 0}}})); }),
            ErrorCode::kInvalidModel);
  Tensor x = randomFloats({2, 3, 5});
  Tensor y = run1("Transpose", {x}, attrs({{"perm", std::vector<int64_t>{2, 0, 1}}}));
  ASSERT_EQ(y.shape(), (Shape{5, 2, 3}));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(at(y, {c, a, b}), at(x, {a, b, c}));
  Tensor h = run1("Transpose", {iota(DataType::kHALF, {3, 2})});
  EXPECT_EQ(h.toDouble(), (std::vector<double>{0, 2, 4, 1, 3, 5}));
}

TEST(Tile, RepeatsEachAxis) {
  EXPECT_EQ(inferShape("Tile", {data({kBatch, 3}), known(ints({1, 2}))}), (Shape{kBatch, 6}));
  Tensor y = run1("Tile", {iota(DataType::kINT32, {2, 2}), ints({2, 3})});
  ASSERT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(at(y, {3, 5}), 3);
  EXPECT_EQ(at(y, {2, 2}), 0);
}

TEST(Pad, ModesOnOddSizes) {
  Tensor x = floats({1, 3}, {1, 2, 3});
  auto pad = [&](const char* mode) {
    return run1("Pad", {x, ints({0, 2, 0, 3})}, attrs({{"mode", std::string(mode)}})).toDouble();
  };
  EXPECT_EQ(pad("constant"), (std::vector<double>{0, 0, 1, 2, 3, 0, 0, 0}));
  EXPECT_EQ(pad("edge"), (std::vector<double>{1, 1, 1, 2, 3, 3, 3, 3}));
  EXPECT_EQ(pad("reflect"), (std::vector<double>{3, 2, 1, 2, 3, 2, 1, 2}));
  EXPECT_EQ(pad("wrap"), (std::vector<double>{2, 3, 1, 2, 3, 1, 2, 3}));
  Tensor c = run1("Pad", {x, ints({1, -1}), floats({}, {9}), ints({1})});
  EXPECT_EQ(c.toDouble(), (std::vector<double>{9, 1, 2}));
  EXPECT_EQ(inferShape("Pad", {data({kBatch, 3}), known(ints({0, 1, 0, 1}))}), (Shape{kBatch, 5}));
  EXPECT_EQ(inferShape("Pad", {data({kBatch, 3}), In{DataType::kINT64, {4}}}), (Shape{kU, kU}));
}

TEST(Concat, SumsAxisAndMergesSymbols) {
  EXPECT_EQ(inferShape("Concat", {data({kBatch, 3}), data({kU, 4})}, attrs({{"axis", int64_t{-1}}})), (Shape{kBatch, 7}));
  EXPECT_EQ(inferShape("Concat", {data({kBatch, 3}), data({2, 3})}, attrs({{"axis", int64_t{0}}})), (Shape{kU, 3}));
  EXPECT_EQ(errorCode([] { inferShape("Concat", {data({2, 3}), data({2, 4})}, attrs({{"axis", int64_t{0}}})); }),
            ErrorCode::kInvalidModel);
  Tensor y = run1("Concat", {iota(DataType::kINT64, {2, 1}), iota(DataType::kINT64, {2, 2})}, attrs({{"axis", int64_t{1}}}));
  EXPECT_EQ(y.toInt64(), (std::vector<int64_t>{0, 0, 1, 1, 2, 3}));
}

TEST(Split, SplitInputNumOutputsAndOldAttribute) {
  Tensor x = iota(DataType::kFLOAT, {7});
  std::vector<Tensor> a = runOp("Split", {x}, attrs({{"num_outputs", int64_t{3}}}), 3);
  EXPECT_EQ(a[0].toDouble(), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(a[2].toDouble(), (std::vector<double>{6}));
  std::vector<Tensor> b = runOp("Split", {x, ints({2, 5})}, {}, 2);
  EXPECT_EQ(b[1].shape(), (Shape{5}));
  std::vector<Tensor> c = runOp("Split", {x}, attrs({{"split", std::vector<int64_t>{4, 3}}}), 2, 11);
  EXPECT_EQ(c[1].toDouble(), (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(errorCode([&] { runOp("Split", {x, ints({2, 2})}, {}, 2); }), ErrorCode::kInvalidModel);
}

TEST(Slice, NegativeStepsClampingAndUnknowns) {
  Tensor x = iota(DataType::kFLOAT, {3, 5});
  Tensor y = run1("Slice", {x, ints({-1, 100}), ints({-100, 0}), ints({0, 1}), ints({-2, -3})});
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.toDouble(), (std::vector<double>{14, 11, 4, 1}));
  EXPECT_EQ(run1("Slice", {x, ints({1}), ints({1000})}).shape(), (Shape{2, 5}));
  EXPECT_EQ(inferShape("Slice", {data({kBatch, 8}), known(ints({1})), known(ints({-1})), known(ints({1}))}), (Shape{kBatch, 6}));
  EXPECT_EQ(inferShape("Slice", {data({kBatch, 8}), In{DataType::kINT64, {1}}, known(ints({-1})), known(ints({1}))}),
            (Shape{kBatch, kU}));
  EXPECT_EQ(inferShape("Slice", {data({kBatch, 8}), known(ints({0})), known(ints({2})), In{DataType::kINT64, {1}}}), (Shape{kU, kU}));
  EXPECT_EQ(errorCode([] { inferShape("Slice", {data({4}), known(ints({0})), known(ints({2})), known(ints({0})), known(ints({0}))}); }),
            ErrorCode::kInvalidModel);
}

TEST(Gather, AxisAndNegativeIndices) {
  EXPECT_EQ(inferShape("Gather", {data({kBatch, 5, 3}), In{DataType::kINT64, {2, 4}}}, attrs({{"axis", int64_t{1}}})),
            (Shape{kBatch, 2, 4, 3}));
  Tensor x = iota(DataType::kFLOAT, {3, 4});
  Tensor idx = Tensor::fromDouble(DataType::kINT32, {2}, std::vector<double>{-1, 0});
  EXPECT_EQ(run1("Gather", {x, idx}, attrs({{"axis", int64_t{1}}})).toDouble(), (std::vector<double>{3, 0, 7, 4, 11, 8}));
  EXPECT_EQ(errorCode([&] { run1("Gather", {x, ints({3})}); }), ErrorCode::kInvalidArgument);
}

TEST(GatherElements, PicksAlongAxis) {
  Tensor x = iota(DataType::kFLOAT, {3, 3});
  Tensor idx = Tensor::fromInt64({2, 3}, std::vector<int64_t>{1, 2, 0, 2, 0, -3});
  EXPECT_EQ(run1("GatherElements", {x, idx}).toDouble(), (std::vector<double>{3, 7, 2, 6, 1, 2}));
}

TEST(GatherND, BatchDims) {
  Tensor x = iota(DataType::kFLOAT, {2, 2, 2});
  Tensor idx = Tensor::fromInt64({2, 1}, std::vector<int64_t>{1, 0});
  Tensor y = run1("GatherND", {x, idx}, attrs({{"batch_dims", int64_t{1}}}));
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.toDouble(), (std::vector<double>{2, 3, 4, 5}));
  Tensor idx2 = Tensor::fromInt64({2, 2}, std::vector<int64_t>{0, 1, 1, 0});
  EXPECT_EQ(run1("GatherND", {x, idx2}).toDouble(), (std::vector<double>{2, 3, 4, 5}));
  EXPECT_EQ(inferShape("GatherND", {data({kBatch, 5, 6}), In{DataType::kINT64, {kBatch, 3, 1}}}, attrs({{"batch_dims", int64_t{1}}})),
            (Shape{kBatch, 3, 6}));
}

TEST(Scatter, NDAndElementsWithReductions) {
  Tensor x = floats({4}, {1, 2, 3, 4});
  Tensor idx = Tensor::fromInt64({2, 1}, std::vector<int64_t>{3, 3});
  Tensor upd = floats({2}, {10, 20});
  EXPECT_EQ(run1("ScatterND", {x, idx, upd}, attrs({{"reduction", std::string("add")}})).toDouble(),
            (std::vector<double>{1, 2, 3, 34}));
  EXPECT_EQ(run1("ScatterND", {x, idx, upd}, attrs({{"reduction", std::string("mul")}})).toDouble(),
            (std::vector<double>{1, 2, 3, 800}));
  Tensor xe = floats({1, 5}, {1, 2, 3, 4, 5});
  Tensor ie = Tensor::fromInt64({1, 2}, std::vector<int64_t>{1, -1});
  Tensor ue = floats({1, 2}, {-7, 9});
  ir::Attributes a = attrs({{"axis", int64_t{1}}, {"reduction", std::string("max")}});
  EXPECT_EQ(run1("ScatterElements", {xe, ie, ue}, a).toDouble(), (std::vector<double>{1, 2, 3, 4, 9}));
  EXPECT_EQ(run1("ScatterElements", {xe, ie, ue}, attrs({{"axis", int64_t{1}}})).toDouble(), (std::vector<double>{1, -7, 3, 4, 9}));
}

TEST(DepthToSpace, RoundTripsWithSpaceToDepthInBothModes) {
  Tensor x = randomFloats({2, 8, 3, 5});
  Tensor s = run1("SpaceToDepth", {run1("DepthToSpace", {x}, attrs({{"blocksize", int64_t{2}}}))}, attrs({{"blocksize", int64_t{2}}}));
  EXPECT_EQ(s.toDouble(), x.toDouble());
  Tensor crd = run1("DepthToSpace", {iota(DataType::kFLOAT, {1, 4, 1, 1})}, attrs({{"blocksize", int64_t{2}}, {"mode", std::string("CRD")}}));
  EXPECT_EQ(crd.toDouble(), (std::vector<double>{0, 1, 2, 3}));
  Tensor dcr = run1("DepthToSpace", {iota(DataType::kFLOAT, {1, 8, 1, 1})}, attrs({{"blocksize", int64_t{2}}}));
  EXPECT_EQ(dcr.toDouble(), (std::vector<double>{0, 2, 4, 6, 1, 3, 5, 7}));
  EXPECT_EQ(errorCode([] { inferShape("DepthToSpace", {data({1, 6, 2, 2})}, attrs({{"blocksize", int64_t{2}}})); }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(inferShape("SpaceToDepth", {data({kBatch, 3, 4, 6})}, attrs({{"blocksize", int64_t{2}}})), (Shape{kBatch, 12, 2, 3}));
}

TEST(Trilu, UpperAndLowerWithK) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run1("Trilu", {x}).toDouble(), (std::vector<double>{1, 2, 3, 0, 5, 6}));
  EXPECT_EQ(run1("Trilu", {x, Tensor::scalarInt64(-1)}, attrs({{"upper", int64_t{0}}})).toDouble(),
            (std::vector<double>{0, 0, 0, 4, 0, 0}));
}

TEST(OneHot, InsertsDepthAtAxis) {
  Tensor idx = Tensor::fromInt64({2}, std::vector<int64_t>{1, -1});
  Tensor y = run1("OneHot", {idx, Tensor::scalarInt64(3), floats({2}, {0, 5})}, attrs({{"axis", int64_t{0}}}));
  ASSERT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.toDouble(), (std::vector<double>{0, 0, 5, 0, 0, 5}));
  EXPECT_EQ(inferShape("OneHot", {In{DataType::kINT64, {kBatch}}, In{DataType::kINT64, {}}, data({2})}), (Shape{kBatch, kU}));
}

TEST(Movement, EmptyTensorsGiveEmptyOutputs) {
  Tensor e = randomFloats({0, 3});
  EXPECT_EQ(run1("Slice", {e, ints({0}), ints({-1}), ints({0}), ints({-1})}).shape(), (Shape{0, 3}));
  EXPECT_EQ(run1("Concat", {e, randomFloats({2, 3})}, attrs({{"axis", int64_t{0}}})).shape(), (Shape{2, 3}));
  EXPECT_EQ(run1("Transpose", {e}).shape(), (Shape{3, 0}));
  EXPECT_EQ(run1("Pad", {e, ints({1, 0, 0, 0})}).toDouble(), (std::vector<double>{0, 0, 0}));
}

TEST(Transpose, RandomOddShape4DMatchesIndexArithmetic) {
  Tensor x = randomFloats({3, 1, 5, 7}, 11);
  Tensor y = run1("Transpose", {x}, attrs({{"perm", std::vector<int64_t>{3, 1, 0, 2}}}));
  ASSERT_EQ(y.shape(), (Shape{7, 1, 3, 5}));
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t d = 0; d < 7; ++d) ASSERT_EQ(at(y, {d, 0, a, c}), at(x, {a, 0, c, d}));
}

}  // namespace
}  // namespace kiln::mv_test
