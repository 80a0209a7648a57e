// "cuda.movement" against the CPU reference: reshape-like copies, Transpose, Concat, Split,
// Slice, Gather, Expand, Tile, Pad, DepthToSpace / SpaceToDepth and Resize, in fp32 / fp16 /
// bf16 (and integer types where the op is a pure copy), at odd sizes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

const DataType kTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};

void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.movement", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

std::string label(const std::string& op, DataType type, const ir::Shape& shape) {
  return op + " " + std::string(toString(type)) + " " + toString(shape);
}

ir::Tensor ints(std::vector<int64_t> v) { return ir::Tensor::fromInt64({static_cast<int64_t>(v.size())}, v); }

TEST(CudaMovement, ReshapeLikeOpsCopyBytes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL}) {
    ir::Tensor shape = ints({5, -1});
    ir::Graph reshape =
        testing::makeNodeGraph("Reshape", {{"x", type, {3, 5, 7}}, {"shape", DataType::kINT64, {2}, true, &shape}}, {});
    expectProviderMatches(reshape, type, label("Reshape", type, {3, 5, 7}));
    ir::Attributes flat;
    flat.set("axis", int64_t{2});
    ir::Graph flatten = testing::makeNodeGraph("Flatten", {{"x", type, {2, 3, 5, 7}}}, flat);
    expectProviderMatches(flatten, type, label("Flatten", type, {2, 3, 5, 7}));
    ir::Tensor axes = ints({1});
    ir::Graph squeeze =
        testing::makeNodeGraph("Squeeze", {{"x", type, {4, 1, 9}}, {"axes", DataType::kINT64, {1}, true, &axes}}, {});
    expectProviderMatches(squeeze, type, label("Squeeze", type, {4, 1, 9}));
    ir::Graph unsqueeze =
        testing::makeNodeGraph("Unsqueeze", {{"x", type, {4, 9}}, {"axes", DataType::kINT64, {1}, true, &axes}}, {});
    expectProviderMatches(unsqueeze, type, label("Unsqueeze", type, {4, 9}));
    ir::Graph identity = testing::makeNodeGraph("Identity", {{"x", type, {33}}}, {});
    expectProviderMatches(identity, type, label("Identity", type, {33}));
  }
}

TEST(CudaMovement, TransposeMatchesForEveryPermutationKind) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape shape;
    std::vector<int64_t> perm;
  };
  const Case cases[] = {
      {{64, 31}, {1, 0}},                  // 2-D: tiled
      {{3, 33, 65}, {0, 2, 1}},            // batched last-two swap: tiled
      {{2, 3, 5, 7}, {0, 2, 3, 1}},        // NCHW -> NHWC (collapses to a batched swap)
      {{2, 3, 5, 7}, {0, 3, 1, 2}},        // NHWC -> NCHW
      {{2, 3, 5, 7}, {2, 0, 3, 1}},        // general
      {{4, 6, 8}, {1, 0, 2}},              // inner dim kept: widened copies
      {{2, 3, 4, 5, 6}, {4, 3, 2, 1, 0}},  // reversal
      {{1, 1, 7}, {2, 0, 1}},
      {{3, 3, 9, 11}, {0, 2, 3, 1}},  // an image's 3 channels last: the few-rows kernel
      {{2, 8, 5, 3}, {0, 2, 3, 1}},   // 8 rows, the most it takes
      {{2, 9, 4, 5}, {0, 2, 3, 1}},   // 9 rows: the tile again
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT64, DataType::kUINT8})
    for (const Case& c : cases) {
      ir::Attributes a;
      a.set("perm", c.perm);
      ir::Graph g = testing::makeNodeGraph("Transpose", {{"x", type, c.shape}}, a);
      expectProviderMatches(g, type, label("Transpose", type, c.shape) + " perm " + toString(c.perm));
    }
}

TEST(CudaMovement, ConcatJoinsAlongAnyAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kTypes)
    for (int64_t axis : {0, 1, 2, -1}) {
      ir::Shape a = {2, 3, 5}, b = {2, 3, 5}, c = {2, 3, 5};
      size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      b[ax] = 4;
      c[ax] = 1;
      ir::Attributes attrs;
      attrs.set("axis", axis);
      ir::Graph g = testing::makeNodeGraph("Concat", {{"a", type, a}, {"b", type, b}, {"c", type, c}}, attrs);
      expectProviderMatches(g, type, label("Concat axis " + std::to_string(axis), type, a));
    }
  // Many inputs: more than one launch batch.
  std::vector<NodeInput> many;
  for (int i = 0; i < 11; ++i)
    many.push_back({"x" + std::to_string(i), DataType::kFLOAT, {3, static_cast<int64_t>(i + 1)}});
  ir::Attributes attrs;
  attrs.set("axis", int64_t{1});
  expectProviderMatches(testing::makeNodeGraph("Concat", many, attrs), DataType::kFLOAT, "Concat of 11");
}

TEST(CudaMovement, SplitBySizesAndEqually) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kTypes) {
    ir::Tensor split = ints({2, 3, 4});
    ir::Attributes attrs;
    attrs.set("axis", int64_t{1});
    ir::Graph sized = testing::makeNodeGraph(
        "Split", {{"x", type, {3, 9, 5}}, {"split", DataType::kINT64, {3}, true, &split}}, attrs, 3);
    expectProviderMatches(sized, type, label("Split sizes", type, {3, 9, 5}));
    ir::Attributes last;
    last.set("axis", int64_t{-1});
    last.set("num_outputs", int64_t{2});
    ir::Graph equal = testing::makeNodeGraph("Split", {{"x", type, {4, 10}}}, last, 2);
    expectProviderMatches(equal, type, label("Split equally", type, {4, 10}));
  }
}

TEST(CudaMovement, SliceWithStepsAndNegativeIndices) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape shape;
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const Case cases[] = {
      {{10, 11}, {1, 2}, {8, 11}, {0, 1}, {1, 1}},        {{10, 11}, {0}, {11}, {1}, {2}},
      {{10, 11, 6}, {-1, 9}, {-11, 0}, {0, 1}, {-1, -3}}, {{3, 64}, {0}, {64}, {1}, {1}},      // whole rows: widened
      {{4, 5, 8}, {1, 4}, {3, 8}, {0, 2}, {1, 1}},        {{7, 5}, {-100}, {100}, {-1}, {1}},  // clamped
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32})
    for (const Case& c : cases) {
      int64_t k = static_cast<int64_t>(c.starts.size());
      ir::Tensor s = ints(c.starts), e = ints(c.ends), a = ints(c.axes), st = ints(c.steps);
      ir::Graph g = testing::makeNodeGraph("Slice",
                                           {{"x", type, c.shape},
                                            {"starts", DataType::kINT64, {k}, true, &s},
                                            {"ends", DataType::kINT64, {k}, true, &e},
                                            {"axes", DataType::kINT64, {k}, true, &a},
                                            {"steps", DataType::kINT64, {k}, true, &st}},
                                           {});
      expectProviderMatches(g, type, label("Slice", type, c.shape) + " starts " + toString(c.starts));
    }
}

TEST(CudaMovement, GatherWithNegativeIndicesOnAnyAxis) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kTypes)
    for (DataType index_type : {DataType::kINT64, DataType::kINT32})
      for (int64_t axis : {0, 1, -1}) {
        ir::Shape data = {6, 7, 9};
        int64_t dim = data[axis < 0 ? axis + 3 : axis];
        std::vector<double> v = {0, static_cast<double>(dim - 1), -1, static_cast<double>(-dim), 2, 2, 1};
        ir::Tensor idx = ir::Tensor::fromDouble(index_type, {7}, v);
        ir::Attributes attrs;
        attrs.set("axis", axis);
        ir::Graph g =
            testing::makeNodeGraph("Gather", {{"data", type, data}, {"indices", index_type, {7}, true, &idx}}, attrs);
        expectProviderMatches(g, type, label("Gather axis " + std::to_string(axis), type, data));
        ir::Tensor idx2 = ir::Tensor::fromDouble(index_type, {2, 3}, std::vector<double>{1, -2, 0, 3, -1, 4});
        ir::Graph g2 = testing::makeNodeGraph(
            "Gather", {{"data", type, data}, {"indices", index_type, {2, 3}, true, &idx2}}, attrs);
        expectProviderMatches(g2, type, label("Gather 2-D indices axis " + std::to_string(axis), type, data));
      }
}

TEST(CudaMovement, ExpandAndTileRepeatData) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT64}) {
    ir::Tensor to = ints({2, 3, 4, 5});
    ir::Graph expand =
        testing::makeNodeGraph("Expand", {{"x", type, {3, 1, 5}}, {"shape", DataType::kINT64, {4}, true, &to}}, {});
    expectProviderMatches(expand, type, label("Expand", type, {3, 1, 5}));
    ir::Tensor to2 = ints({7, 1});
    ir::Graph expand2 =
        testing::makeNodeGraph("Expand", {{"x", type, {1, 9}}, {"shape", DataType::kINT64, {2}, true, &to2}}, {});
    expectProviderMatches(expand2, type, label("Expand", type, {1, 9}));
    ir::Tensor reps = ints({2, 1, 3});
    ir::Graph tile =
        testing::makeNodeGraph("Tile", {{"x", type, {3, 5, 7}}, {"repeats", DataType::kINT64, {3}, true, &reps}}, {});
    expectProviderMatches(tile, type, label("Tile", type, {3, 5, 7}));
  }
}

TEST(CudaMovement, PadInEveryMode) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kTypes)
    for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
      ir::Attributes attrs;
      attrs.set("mode", std::string(mode));
      ir::Tensor pads = ints({0, 1, 2, 0, 2, 1});  // before: 0 1 2, after: 0 2 1
      ir::Tensor value = ir::Tensor::fromDouble(type, {}, std::vector<double>{0.5});
      std::vector<NodeInput> inputs = {{"x", type, {2, 5, 6}}, {"pads", DataType::kINT64, {6}, true, &pads}};
      if (std::string(mode) == "constant") inputs.push_back({"value", type, {}, true, &value});
      ir::Graph g = testing::makeNodeGraph("Pad", inputs, attrs);
      expectProviderMatches(g, type, label(std::string("Pad ") + mode, type, {2, 5, 6}));
    }
  // The innermost dim padded (the channels-last stem's 3 -> 8 channels), alone or with spatial
  // pads (the space-to-depth stem's NHWC 3 -> 4 channels): row kernels with 8- and 16-byte
  // stores, 12-byte rows stored element by element, the innermost-only kernel for longer rows;
  // with zeros, with a value, and padding before the data too.
  for (DataType type : kTypes)
    for (const std::vector<int64_t>& p :
         {std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 5}, std::vector<int64_t>{0, 0, 0, 2, 0, 0, 0, 1},
          std::vector<int64_t>{0, 3, 1, 0, 0, 2, 3, 1}, std::vector<int64_t>{1, 0, 2, 0, 0, 1, 0, 3}}) {
      ir::Tensor last_pads = ints(p);
      ir::Tensor value = ir::Tensor::fromDouble(type, {}, std::vector<double>{-1.5});
      for (bool with_value : {false, true}) {
        std::vector<NodeInput> inputs = {{"x", type, {2, 7, 9, 3}}, {"pads", DataType::kINT64, {8}, true, &last_pads}};
        if (with_value) inputs.push_back({"value", type, {}, true, &value});
        expectProviderMatches(testing::makeNodeGraph("Pad", inputs, {}), type,
                              label("Pad innermost " + toString(ir::Shape(p.begin(), p.end())), type, {2, 7, 9, 3}));
      }
    }
  // Axes input and negative pads (cropping).
  ir::Tensor pads = ints({-1, 3, 2, -2});
  ir::Tensor axes = ints({1, 3});
  ir::Graph g = testing::makeNodeGraph("Pad",
                                       {{"x", DataType::kFLOAT, {2, 7, 3, 9}},
                                        {"pads", DataType::kINT64, {4}, true, &pads},
                                        {""},
                                        {"axes", DataType::kINT64, {2}, true, &axes}},
                                       {});
  expectProviderMatches(g, DataType::kFLOAT, "Pad with axes");
}

TEST(CudaMovement, DepthToSpaceAndSpaceToDepth) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kTypes) {
    for (const char* mode : {"DCR", "CRD"}) {
      ir::Attributes attrs;
      attrs.set("blocksize", int64_t{2});
      attrs.set("mode", std::string(mode));
      ir::Graph g = testing::makeNodeGraph("DepthToSpace", {{"x", type, {2, 12, 3, 5}}}, attrs);
      expectProviderMatches(g, type, label(std::string("DepthToSpace ") + mode, type, {2, 12, 3, 5}));
    }
    ir::Attributes attrs;
    attrs.set("blocksize", int64_t{3});
    ir::Graph g = testing::makeNodeGraph("SpaceToDepth", {{"x", type, {2, 5, 6, 9}}}, attrs);
    expectProviderMatches(g, type, label("SpaceToDepth", type, {2, 5, 6, 9}));
  }
}

TEST(CudaMovement, ResizeNearestAndLinearOn4D) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    std::string mode, transform, nearest;
    std::vector<double> scales;  // empty: sizes
    std::vector<int64_t> sizes;
  };
  const Case cases[] = {
      {"nearest", "asymmetric", "floor", {1, 1, 2, 2}, {}},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 1.5, 0.5}, {}},
      {"nearest", "align_corners", "round_prefer_ceil", {}, {2, 3, 7, 11}},
      {"linear", "half_pixel", "round_prefer_floor", {1, 1, 2, 2}, {}},
      {"linear", "pytorch_half_pixel", "round_prefer_floor", {}, {2, 3, 9, 4}},
      {"linear", "align_corners", "round_prefer_floor", {1, 1, 1.7, 2.3}, {}},
      {"linear", "asymmetric", "round_prefer_floor", {1, 1, 0.6, 0.5}, {}},
  };
  for (DataType type : kTypes)
    for (const Case& c : cases) {
      ir::Attributes attrs;
      attrs.set("mode", c.mode);
      attrs.set("coordinate_transformation_mode", c.transform);
      attrs.set("nearest_mode", c.nearest);
      ir::Tensor scales = c.scales.empty() ? ir::Tensor() : ir::Tensor::fromDouble(DataType::kFLOAT, {4}, c.scales);
      ir::Tensor sizes = c.sizes.empty() ? ir::Tensor() : ints(c.sizes);
      std::vector<NodeInput> inputs = {{"x", type, {2, 3, 5, 8}}, {""}};
      if (!c.scales.empty()) inputs.push_back({"scales", DataType::kFLOAT, {4}, true, &scales});
      else inputs.insert(inputs.end(), {{""}, {"sizes", DataType::kINT64, {4}, true, &sizes}});
      ir::Graph g = testing::makeNodeGraph("Resize", inputs, attrs);
      expectProviderMatches(g, type, label("Resize " + c.mode + " " + c.transform, type, {2, 3, 5, 8}));
    }
}

TEST(CudaMovement, ResizeOfNOrCOrCubicGetsNoCandidate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cuda.movement");
  ASSERT_NE(provider, nullptr);
  ir::Attributes attrs;
  attrs.set("mode", std::string("cubic"));
  ir::Tensor scales = ir::Tensor::fromDouble(DataType::kFLOAT, {4}, std::vector<double>{1, 1, 2, 2});
  ir::Graph g = testing::makeNodeGraph(
      "Resize", {{"x", DataType::kFLOAT, {1, 2, 3, 4}}, {""}, {"scales", DataType::kFLOAT, {4}, true, &scales}}, attrs);
  auto results = testing::checkProvider(*provider, g, *backend::gpuDevice(), testing::toleranceFor(DataType::kFLOAT));
  EXPECT_TRUE(results.empty());
}

}  // namespace
}  // namespace kiln
