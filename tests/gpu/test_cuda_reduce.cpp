// cuda.reduce against the reference: every Reduce* op over leading, middle, trailing, several
// and all axes, keepdims on and off, noop_with_empty_axes, and ArgMax/ArgMin (first and last
// index on ties), in fp32/fp16/bf16 at odd sizes. Every candidate (thread, warp, block) runs.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::in;
using gputest::ints;
using gputest::Ints;

ir::Tensor axesOf(Ints axes) { return ir::Tensor::fromInt64({static_cast<int64_t>(axes.size())}, axes); }

ir::Graph reduce(const std::string& op, DataType t, Ints shape, const ir::Tensor* axes, int64_t keepdims = 1,
                 int64_t noop = 0) {
  std::vector<testing::NodeInput> inputs = {in("X", t, std::move(shape))};
  if (axes) inputs.push_back(ints("axes", *axes));
  return testing::makeNodeGraph(op, inputs, attrsOf({{"keepdims", keepdims}, {"noop_with_empty_axes", noop}}));
}

TEST(CudaReduce, EveryOpOverOneAxisInEveryPrecision) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor middle = axesOf({1}), last = axesOf({-1});
  for (DataType t : gputest::kPrecisions) {
    for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2",
                           "ReduceSumSquare", "ReduceLogSumExp"}) {
      SCOPED_TRACE(op);
      expectAllPass("cuda.reduce", reduce(op, t, {3, 37, 5}, &middle), t);
      expectAllPass("cuda.reduce", reduce(op, t, {4, 67}, &last, 0), t);
    }
    expectAllPass("cuda.reduce", reduce("ReduceProd", t, {2, 9, 3}, &middle), t);
  }
}

TEST(CudaReduce, SeveralAndAllAxes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor outer_inner = axesOf({0, 2}), two = axesOf({1, 3}), three = axesOf({0, -1, 1});
  for (DataType t : gputest::kPrecisions) {
    expectAllPass("cuda.reduce", reduce("ReduceMax", t, {5, 6, 7}, &outer_inner), t);
    expectAllPass("cuda.reduce", reduce("ReduceSum", t, {2, 5, 3, 7}, &two, 0), t);
    expectAllPass("cuda.reduce", reduce("ReduceMean", t, {3, 4, 1, 5}, &three), t);
    expectAllPass("cuda.reduce", reduce("ReduceMin", t, {3, 4, 5}, nullptr), t);      // no axes: all
    expectAllPass("cuda.reduce", reduce("ReduceSum", t, {6, 11, 3}, nullptr, 0), t);  // to a scalar
    expectAllPass("cuda.reduce", reduce("ReduceLogSumExp", t, {2, 3, 41}, nullptr), t);
  }
}

TEST(CudaReduce, LongReductionOverFewOutputs) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor first = axesOf({0}), last = axesOf({1});
  expectAllPass("cuda.reduce", reduce("ReduceMean", DataType::kFLOAT, {3, 2000}, &last), DataType::kFLOAT);
  expectAllPass("cuda.reduce", reduce("ReduceMax", DataType::kFLOAT, {1500, 3}, &first), DataType::kFLOAT);
  expectAllPass("cuda.reduce", reduce("ReduceSum", DataType::kHALF, {2, 3000}, &last), DataType::kHALF);
}

TEST(CudaReduce, LogSumOfPositiveValues) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor axes = axesOf({1});
  for (DataType t : gputest::kPrecisions) {
    const ir::Tensor x = testing::randomTensor(t, {4, 23, 3}, 5, 0.1, 1.0);
    ir::Graph g = testing::makeNodeGraph(
        "ReduceLogSum",
        {testing::NodeInput{.name = "X", .type = t, .shape = {4, 23, 3}, .value = &x}, ints("axes", axes)},
        attrsOf({}));
    expectAllPass("cuda.reduce", g, t);
  }
}

TEST(CudaReduce, EmptyAxesWithNoopCopiesTheInput) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor none = ir::Tensor::fromInt64({0}, std::vector<int64_t>{});
  for (DataType t : gputest::kPrecisions)
    expectAllPass("cuda.reduce", reduce("ReduceSum", t, {3, 5, 7}, &none, 1, 1), t);
  // Without noop, empty axes reduce everything.
  expectAllPass("cuda.reduce", reduce("ReduceSum", DataType::kFLOAT, {3, 5, 7}, &none, 1, 0), DataType::kFLOAT);
}

TEST(CudaReduce, DoubleIntegerAndBoolTypesReduceAsTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor middle = axesOf({1}), two = axesOf({0, -1});
  const char* ops[] = {"ReduceSum", "ReduceMean",      "ReduceMax", "ReduceMin",    "ReduceProd",
                       "ReduceL1",  "ReduceSumSquare", "ReduceL2",  "ReduceLogSum", "ReduceLogSumExp"};
  for (DataType t : {DataType::kDOUBLE, DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16,
                     DataType::kINT32, DataType::kUINT32, DataType::kINT64, DataType::kUINT64})
    for (const char* op : ops) {
      SCOPED_TRACE(std::string(op) + " " + std::string(toString(t)));
      // LogSum of integers needs positive sums: the reference rounds log of the sum.
      const bool positive = std::string(op) == "ReduceLogSum" || std::string(op) == "ReduceL2";
      const Ints shape = std::string(op) == "ReduceProd" ? Ints{3, 4, 5} : Ints{3, 37, 5};
      ir::Tensor x = testing::randomTensor(t, shape, 7, positive ? 1.0 : -3.0, 4.0);
      ir::Graph g = testing::makeNodeGraph(op, {{"X", t, shape, false, &x}, ints("axes", middle)},
                                           attrsOf({{"keepdims", int64_t{1}}}));
      expectAllPass("cuda.reduce", g, t);
      expectAllPass("cuda.reduce", reduce(op, t, {4, 3, 6}, &two, 0), t);
    }
  for (const char* op : {"ReduceMax", "ReduceMin"}) {
    SCOPED_TRACE(op);
    expectAllPass("cuda.reduce", reduce(op, DataType::kBOOL, {4, 7}, &middle), DataType::kBOOL);
  }
}

TEST(CudaReduce, EmptyRunTimeAxesReduceEverythingOrNothing) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // An axes input with no elements needs no values: all axes, or a copy with noop_with_empty_axes.
  for (int64_t noop : {0, 1})
    for (DataType t : {DataType::kFLOAT, DataType::kDOUBLE}) {
      ir::Graph g = testing::makeNodeGraph("ReduceSum", {in("X", t, {3, 2, 5}), in("axes", DataType::kINT64, {0})},
                                           attrsOf({{"keepdims", int64_t{1}}, {"noop_with_empty_axes", noop}}));
      expectAllPass("cuda.reduce", g, t);
    }
}

TEST(CudaReduce, EmptyReductionGivesTheIdentity) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Tensor middle = axesOf({1});
  for (const char* op : {"ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"}) {
    SCOPED_TRACE(op);
    expectAllPass("cuda.reduce", reduce(op, DataType::kDOUBLE, {3, 0, 4}, &middle), DataType::kDOUBLE);
    expectAllPass("cuda.reduce", reduce(op, DataType::kINT32, {3, 0, 4}, &middle), DataType::kINT32);
  }
  expectAllPass("cuda.reduce", reduce("ReduceMax", DataType::kBOOL, {2, 0, 3}, &middle), DataType::kBOOL);
}

TEST(CudaReduce, ArgMaxArgMinAlongAnyAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : gputest::kPrecisions) {
    for (const char* op : {"ArgMax", "ArgMin"}) {
      SCOPED_TRACE(op);
      for (int64_t last : {0, 1}) {
        // A strided axis (one thread per output) and a long contiguous one (a warp per output).
        expectAllPass("cuda.reduce",
                      testing::makeNodeGraph(op, {in("X", t, {3, 17, 5})},
                                             attrsOf({{"axis", int64_t{1}}, {"select_last_index", last}})),
                      t);
        expectAllPass("cuda.reduce",
                      testing::makeNodeGraph(
                          op, {in("X", t, {7, 301})},
                          attrsOf({{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}, {"select_last_index", last}})),
                      t);
      }
      expectAllPass("cuda.reduce", testing::makeNodeGraph(op, {in("X", t, {9, 4})}, attrsOf({})), t);
    }
  }
}

TEST(CudaReduce, ArgMaxTiesFollowTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // Few distinct values: many ties, so first/last index selection must match exactly.
  std::vector<double> v(4 * 150);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 7) % 5);
  const ir::Tensor x = ir::Tensor::fromDouble(DataType::kFLOAT, {4, 150}, v);
  for (int64_t last : {0, 1})
    for (int64_t axis : {0, 1})
      expectAllPass("cuda.reduce",
                    testing::makeNodeGraph("ArgMax", {testing::NodeInput{.name = "X", .shape = {4, 150}, .value = &x}},
                                           attrsOf({{"axis", axis}, {"select_last_index", last}})),
                    DataType::kFLOAT);
}

}  // namespace
}  // namespace kiln
