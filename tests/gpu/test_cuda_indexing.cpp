// "cuda.indexing" against the CPU reference: GatherND (with batch_dims), GatherElements,
// ScatterND and ScatterElements (every reduction, duplicate indices), in fp32 / fp16 / bf16
// and integer types, int32 and int64 indices (negative ones included), at odd sizes.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.indexing", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

std::string label(const std::string& op, DataType type, const ir::Shape& shape) {
  return op + " " + std::string(toString(type)) + " " + toString(shape);
}

//! Indices of `shape` whose element i (in the last dim when `per_last`, else each) lies in
//! [-dims[i], dims[i]), random (negative ones included), deterministic for a seed.
ir::Tensor randomIndices(const ir::Shape& shape, const std::vector<int64_t>& dims, bool per_last, DataType type,
                         uint32_t seed) {
  std::mt19937 rng(seed);
  int64_t n = volume(shape);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t dim = per_last ? dims[static_cast<size_t>(i % shape.back())] : dims[0];
    std::uniform_int_distribution<int64_t> d(-dim, dim - 1);
    v[static_cast<size_t>(i)] = d(rng);
  }
  ir::Tensor t = ir::Tensor::fromInt64(shape, v);
  return type == DataType::kINT64 ? t : t.cast(type);
}

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};
const DataType kIndexTypes[] = {DataType::kINT64, DataType::kINT32};

TEST(CudaIndexing, GatherNDMatchesWithAndWithoutBatchDims) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape data, indices;
    int64_t batch_dims;
  };
  const Case cases[] = {
      {{5, 7}, {3, 2}, 0},           // whole tuples: single elements
      {{5, 7, 3}, {4, 1}, 0},        // rows
      {{2, 3, 5}, {2, 3, 2}, 0},     // 2-D tuple grid
      {{3, 6, 5}, {3, 4, 1}, 1},     // batch_dims 1 (BERT's form)
      {{2, 3, 9, 4}, {2, 3, 7, 1}, 2},
      {{2, 5, 3}, {2, 2}, 1},        // batch_dims 1, one tuple per batch
      {{3, 5, 7}, {3, 1, 2}, 1},
  };
  const DataType index_type = DataType::kINT64;  // GatherND takes int64 indices only
  for (const Case& c : cases) {
      std::vector<int64_t> dims(c.data.begin() + c.batch_dims, c.data.begin() + c.batch_dims + c.indices.back());
      ir::Tensor idx = randomIndices(c.indices, dims, true, index_type, 7);
      ir::Attributes a;
      a.set("batch_dims", c.batch_dims);
      for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT64, DataType::kBOOL}) {
        ir::Graph g = testing::makeNodeGraph("GatherND", {{"data", type, c.data}, {"indices", index_type, c.indices, false, &idx}}, a);
        expectProviderMatches(g, type, label("GatherND b=" + std::to_string(c.batch_dims), type, c.data) + " idx " + toString(c.indices));
      }
    }
}

TEST(CudaIndexing, GatherElementsOnEveryAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape data = {4, 5, 7};
  const ir::Shape idx_shapes[] = {{4, 5, 7}, {3, 2, 6}, {4, 9, 7}, {1, 5, 11}};
  for (DataType index_type : kIndexTypes)
    for (int64_t axis : {0, 1, 2, -1})
      for (const ir::Shape& is : idx_shapes) {
        size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
        bool fits = true;
        for (size_t d = 0; d < 3; ++d) fits &= d == a || is[d] <= data[d];
        if (!fits) continue;
        ir::Tensor idx = randomIndices(is, {data[a]}, false, index_type, 11);
        ir::Attributes attrs;
        attrs.set("axis", axis);
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32}) {
          ir::Graph g = testing::makeNodeGraph("GatherElements", {{"data", type, data}, {"indices", index_type, is, false, &idx}}, attrs);
          expectProviderMatches(g, type, label("GatherElements axis " + std::to_string(axis), type, data) + " idx " + toString(is));
        }
      }
}

TEST(CudaIndexing, ScatterNDWithDuplicatesAndEveryReduction) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape data, indices;
  };
  const Case cases[] = {{{9}, {13, 1}}, {{5, 7}, {6, 2}}, {{5, 7, 3}, {4, 1}}, {{4, 5, 6}, {3, 2, 2}}};
  const DataType index_type = DataType::kINT64;  // ScatterND takes int64 indices only
  for (const char* reduction : {"none", "add", "mul", "max", "min"})
      for (const Case& c : cases) {
        std::vector<int64_t> dims(c.data.begin(), c.data.begin() + c.indices.back());
        ir::Tensor idx = randomIndices(c.indices, dims, true, index_type, 5);  // duplicates likely
        ir::Shape upd(c.indices.begin(), c.indices.end() - 1);
        for (size_t d = static_cast<size_t>(c.indices.back()); d < c.data.size(); ++d) upd.push_back(c.data[d]);
        ir::Attributes a;
        a.set("reduction", std::string(reduction));
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32}) {
          ir::Graph g = testing::makeNodeGraph(
              "ScatterND", {{"data", type, c.data}, {"indices", index_type, c.indices, false, &idx}, {"updates", type, upd}}, a);
          expectProviderMatches(g, type, label(std::string("ScatterND ") + reduction, type, c.data) + " idx " + toString(c.indices));
        }
      }
}

TEST(CudaIndexing, ScatterElementsWithDuplicatesAndEveryReduction) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape data = {5, 6, 7};
  const ir::Shape idx_shapes[] = {{5, 6, 7}, {3, 4, 5}, {2, 6, 1}};
  for (const char* reduction : {"none", "add", "mul", "max", "min"})
    for (int64_t axis : {0, 1, -1})
      for (const ir::Shape& is : idx_shapes) {
        size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
        ir::Tensor idx = randomIndices(is, {data[ax]}, false, DataType::kINT64, 3);
        ir::Attributes a;
        a.set("axis", axis);
        a.set("reduction", std::string(reduction));
        for (DataType type : kFloatTypes) {
          ir::Graph g = testing::makeNodeGraph(
              "ScatterElements", {{"data", type, data}, {"indices", DataType::kINT64, is, false, &idx}, {"updates", type, is}}, a);
          expectProviderMatches(g, type, label(std::string("ScatterElements ") + reduction + " axis " + std::to_string(axis), type, data) +
                                              " idx " + toString(is));
        }
        ir::Tensor idx32 = idx.cast(DataType::kINT32);
        ir::Graph gi = testing::makeNodeGraph(
            "ScatterElements", {{"data", DataType::kINT64, data}, {"indices", DataType::kINT32, is, false, &idx32}, {"updates", DataType::kINT64, is}}, a);
        expectProviderMatches(gi, DataType::kINT64, label(std::string("ScatterElements int64 ") + reduction, DataType::kINT64, data));
      }
}

}  // namespace
}  // namespace kiln
