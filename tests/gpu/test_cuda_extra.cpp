// "cuda.extra" against the CPU reference: Mod (both sign rules, integer and float), Xor,
// BitShift, and the variadic Sum / Mean / Min / Max with broadcasting, at odd sizes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};

const backend::TacticProvider& extraProvider() {
  const backend::TacticProvider* provider = backend::findProvider("cuda.extra");
  EXPECT_NE(provider, nullptr);
  return *provider;
}

void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.extra", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

std::string label(const std::string& op, DataType type, const ir::Shape& shape) {
  return op + " " + std::string(toString(type)) + " " + toString(shape);
}

TEST(CudaExtra, ModMatchesBothSignRules) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const std::vector<std::pair<ir::Shape, ir::Shape>> shapes = {{{37}, {37}}, {{3, 5, 7}, {5, 1}}, {{2, 1, 9}, {4, 9}}};
  for (int64_t fmod : {0, 1})
    for (const auto& [sa, sb] : shapes) {
      for (DataType type : kFloatTypes) {
        ir::Tensor a = testing::randomTensor(type, sa, 5, -6.0, 6.0);
        ir::Tensor b = testing::randomTensor(type, sb, 6, -2.5, 2.5);
        ir::Attributes attrs;
        attrs.set("fmod", fmod);
        ir::Graph g = testing::makeNodeGraph("Mod", {{"a", type, sa, false, &a}, {"b", type, sb, false, &b}}, attrs);
        expectProviderMatches(g, type, label("Mod fmod=" + std::to_string(fmod), type, sa));
      }
      for (DataType type : {DataType::kINT32, DataType::kINT64, DataType::kINT8}) {
        ir::Tensor a = testing::randomTensor(type, sa, 7, -50.0, 50.0);
        ir::Tensor b = testing::randomTensor(type, sb, 8, -9.0, 9.0);
        ir::Attributes attrs;
        attrs.set("fmod", fmod);
        ir::Graph g = testing::makeNodeGraph("Mod", {{"a", type, sa, false, &a}, {"b", type, sb, false, &b}}, attrs);
        expectProviderMatches(g, type, label("Mod fmod=" + std::to_string(fmod), type, sa));
      }
    }
}

TEST(CudaExtra, XorAndBitShiftMatch) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  ir::Graph x = testing::makeNodeGraph("Xor", {{"a", DataType::kBOOL, {3, 1, 7}}, {"b", DataType::kBOOL, {5, 7}}}, {});
  expectProviderMatches(x, DataType::kBOOL, "Xor");
  for (const char* dir : {"LEFT", "RIGHT"}) {
    ir::Tensor a = testing::randomTensor(DataType::kUINT8, {4, 13}, 9, 0.0, 255.0);
    ir::Tensor n = testing::randomTensor(DataType::kUINT8, {13}, 10, 0.0, 10.0);  // some shift by >= 8
    ir::Attributes attrs;
    attrs.set("direction", std::string(dir));
    ir::Graph g = testing::makeNodeGraph(
        "BitShift", {{"a", DataType::kUINT8, {4, 13}, false, &a}, {"n", DataType::kUINT8, {13}, false, &n}}, attrs);
    expectProviderMatches(g, DataType::kUINT8, std::string("BitShift ") + dir);
  }
}

TEST(CudaExtra, VariadicOpsBroadcastManyInputs) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const std::vector<std::vector<ir::Shape>> cases = {
      {{17}},                               // one input: a copy
      {{3, 5, 7}, {5, 7}, {3, 1, 1}},       // three, broadcasting
      {{2, 3, 1, 9}, {1}, {3, 4, 9}, {9}},  // four
      {{11}, {11}, {11}, {11}, {11}, {1}},  // six
  };
  for (const char* op : {"Sum", "Mean", "Min", "Max"})
    for (const auto& shapes : cases) {
      for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64}) {
        const bool integer = type == DataType::kINT32 || type == DataType::kINT64;
        if (integer && (std::string(op) == "Sum" || std::string(op) == "Mean")) continue;  // float-only ops
        std::vector<NodeInput> inputs;
        for (size_t i = 0; i < shapes.size(); ++i) inputs.push_back({"x" + std::to_string(i), type, shapes[i]});
        ir::Graph g = testing::makeNodeGraph(op, inputs, {});
        expectProviderMatches(g, type, label(op, type, shapes[0]) + " x" + std::to_string(shapes.size()));
      }
    }
}

TEST(CudaExtra, LeavesTwoInputMinMaxToElementwise) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  ir::Graph g = testing::makeNodeGraph("Max", {{"a", DataType::kFLOAT, {7}}, {"b", DataType::kFLOAT, {7}}}, {});
  auto results =
      testing::checkProvider(extraProvider(), g, *backend::gpuDevice(), testing::toleranceFor(DataType::kFLOAT));
  EXPECT_TRUE(results.empty());
}

struct ConvTransposeCase {
  ir::Shape x, w;
  ir::Attributes attrs;
  bool bias = false;
};

TEST(CudaExtra, ConvTransposeMatchesInEveryFloatType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  std::vector<ConvTransposeCase> cases;
  {
    ConvTransposeCase c{{1, 3, 5, 7}, {3, 2, 3, 3}, {}, false};
    c.attrs.set("strides", std::vector<int64_t>{2, 2});
    c.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    c.attrs.set("output_padding", std::vector<int64_t>{1, 0});
    cases.push_back(c);
  }
  {
    ConvTransposeCase c{{2, 4, 6, 5}, {4, 3, 3, 2}, {}, true};
    c.attrs.set("group", int64_t{2});
    c.attrs.set("dilations", std::vector<int64_t>{2, 1});
    c.attrs.set("pads", std::vector<int64_t>{0, 1, 2, 0});
    cases.push_back(c);
  }
  {
    ConvTransposeCase c{{1, 5, 4, 3}, {5, 3, 2, 3}, {}, true};
    c.attrs.set("strides", std::vector<int64_t>{2, 3});
    c.attrs.set("auto_pad", std::string("SAME_UPPER"));
    cases.push_back(c);
  }
  {
    ConvTransposeCase c{{1, 2, 3, 4}, {2, 1, 3, 3}, {}, false};
    c.attrs.set("strides", std::vector<int64_t>{2, 2});
    c.attrs.set("output_shape", std::vector<int64_t>{8, 10});
    cases.push_back(c);
  }
  {
    ConvTransposeCase c{{3, 6, 7, 1}, {6, 1, 1, 1}, {}, true};  // depthwise-like, 1x1
    c.attrs.set("group", int64_t{6});
    cases.push_back(c);
  }
  for (DataType type : kFloatTypes)
    for (size_t i = 0; i < cases.size(); ++i) {
      const ConvTransposeCase& c = cases[i];
      std::vector<NodeInput> inputs = {{"x", type, c.x}, {"w", type, c.w, true}};
      if (c.bias) inputs.push_back({"b", type, ir::Shape{c.w[1] * c.attrs.i("group", 1)}, true});
      ir::Graph g = testing::makeNodeGraph("ConvTranspose", inputs, c.attrs);
      expectProviderMatches(g, type, label("ConvTranspose case " + std::to_string(i), type, c.x));
    }
}

TEST(CudaExtra, EinsumMatchesOneAndTwoOperandForms) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    std::string equation;
    std::vector<ir::Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"bij,bjk->bik", {{3, 4, 5}, {3, 5, 6}}},
      {"ij,kj->ik", {{7, 9}, {5, 9}}},
      {"bhqd,bhkd->bhqk", {{2, 3, 5, 7}, {2, 3, 4, 7}}},
      {"ji,jk->ki", {{6, 3}, {6, 5}}},
      {"i,j->ij", {{7}, {5}}},
      {"...ij,...jk->...ik", {{2, 3, 4}, {1, 4, 5}}},
      {"ij,jk", {{3, 8}, {8, 5}}},
      {"ij->ji", {{5, 7}}},
      {"ii->i", {{6, 6}}},
      {"ij->", {{5, 7}}},
      {"bij->bj", {{3, 4, 9}}},
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const Case& c : cases) {
      std::vector<NodeInput> inputs;
      for (size_t i = 0; i < c.shapes.size(); ++i) inputs.push_back({"x" + std::to_string(i), type, c.shapes[i]});
      ir::Attributes attrs;
      attrs.set("equation", c.equation);
      ir::Graph g = testing::makeNodeGraph("Einsum", inputs, attrs);
      expectProviderMatches(g, type, label("Einsum " + c.equation, type, c.shapes[0]));
    }
}

TEST(CudaExtra, LrnAndHardmaxMatch) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    for (int64_t size : {1, 3, 4}) {
      ir::Attributes attrs;
      attrs.set("size", size);
      attrs.set("alpha", 0.02f);
      attrs.set("beta", 0.6f);
      attrs.set("bias", 1.5f);
      ir::Graph g = testing::makeNodeGraph("LRN", {{"x", type, {2, 7, 5, 3}}}, attrs);
      expectProviderMatches(g, type, label("LRN size " + std::to_string(size), type, {2, 7, 5, 3}));
    }
    for (int64_t axis : {-1, 0, 1}) {
      ir::Attributes attrs;
      attrs.set("axis", axis);
      ir::Graph g13 = testing::makeNodeGraph("Hardmax", {{"x", type, {3, 5, 7}}}, attrs);
      expectProviderMatches(g13, type, label("Hardmax opset 21 axis " + std::to_string(axis), type, {3, 5, 7}));
      ir::Graph g11 = testing::makeNodeGraph("Hardmax", {{"x", type, {3, 5, 7}}}, attrs, 1, 11);
      expectProviderMatches(g11, type, label("Hardmax opset 11 axis " + std::to_string(axis), type, {3, 5, 7}));
    }
  }
}

TEST(CudaExtra, MeanVarianceAndGroupNormalizationMatch) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    for (const std::vector<int64_t>& axes :
         {std::vector<int64_t>{0, 2, 3}, std::vector<int64_t>{1}, std::vector<int64_t>{-1, -2}}) {
      ir::Attributes attrs;
      attrs.set("axes", axes);
      ir::Graph g = testing::makeNodeGraph("MeanVarianceNormalization", {{"x", type, {2, 3, 5, 7}}}, attrs);
      expectProviderMatches(g, type,
                            label("MeanVarianceNormalization axes " + std::to_string(axes.size()), type, {2, 3, 5, 7}));
    }
    ir::Graph dflt = testing::makeNodeGraph("MeanVarianceNormalization", {{"x", type, {3, 4, 9, 1}}}, {});
    expectProviderMatches(dflt, type, label("MeanVarianceNormalization default", type, {3, 4, 9, 1}));
    struct Case {
      ir::Shape x;
      int64_t groups;
      int64_t params;  // scale / bias values: channels, or groups
    };
    for (const Case& c :
         {Case{{2, 6, 5, 7}, 3, 6}, Case{{1, 4, 300}, 2, 4}, Case{{3, 8, 3, 3}, 4, 4}, Case{{2, 5, 11}, 5, 5}}) {
      ir::Attributes attrs;
      attrs.set("num_groups", c.groups);
      attrs.set("epsilon", 1e-4f);
      ir::Graph g = testing::makeNodeGraph(
          "GroupNormalization", {{"x", type, c.x}, {"scale", type, {c.params}, true}, {"bias", type, {c.params}, true}},
          attrs, 1, c.params == c.x[1] ? 21 : 18);
      expectProviderMatches(g, type, label("GroupNormalization groups " + std::to_string(c.groups), type, c.x));
    }
  }
}

TEST(CudaExtra, LpPoolAndGlobalLpPoolMatch) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    for (int64_t p : {1, 2, 3}) {
      ir::Attributes attrs;
      attrs.set("kernel_shape", std::vector<int64_t>{3, 2});
      attrs.set("strides", std::vector<int64_t>{2, 1});
      attrs.set("pads", std::vector<int64_t>{1, 0, 1, 1});
      attrs.set("p", p);
      ir::Graph g = testing::makeNodeGraph("LpPool", {{"x", type, {2, 3, 7, 6}}}, attrs);
      expectProviderMatches(g, type, label("LpPool p " + std::to_string(p), type, {2, 3, 7, 6}));
      ir::Attributes gattrs;
      gattrs.set("p", p);
      ir::Graph gg = testing::makeNodeGraph("GlobalLpPool", {{"x", type, {2, 5, 3, 7}}}, gattrs);
      expectProviderMatches(gg, type, label("GlobalLpPool p " + std::to_string(p), type, {2, 5, 3, 7}));
    }
    ir::Attributes attrs;
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
    attrs.set("auto_pad", std::string("SAME_UPPER"));
    attrs.set("dilations", std::vector<int64_t>{2, 1});
    ir::Graph g = testing::makeNodeGraph("LpPool", {{"x", type, {1, 2, 5, 9}}}, attrs);
    expectProviderMatches(g, type, label("LpPool same_upper dilated", type, {1, 2, 5, 9}));
  }
}

//! MaxUnpool indices of x [n, c, h, w] for a 2x2 / stride 2 pool: one random position of each
//! window of the unpooled [n, c, 2h, 2w] tensor (distinct, as MaxPool's are).
ir::Tensor unpoolIndices(const ir::Shape& x, uint32_t seed) {
  std::vector<int64_t> idx;
  uint32_t state = seed;
  const int64_t oh = 2 * x[2], ow = 2 * x[3];
  for (int64_t n = 0; n < x[0]; ++n)
    for (int64_t c = 0; c < x[1]; ++c)
      for (int64_t h = 0; h < x[2]; ++h)
        for (int64_t w = 0; w < x[3]; ++w) {
          state = state * 1664525u + 1013904223u;
          const int64_t dh = (state >> 20) & 1, dw = (state >> 21) & 1;
          idx.push_back(((n * x[1] + c) * oh + 2 * h + dh) * ow + 2 * w + dw);
        }
  return ir::Tensor::fromInt64(x, idx);
}

TEST(CudaExtra, MaxUnpoolScattersAndZeroesTheRest) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape x{2, 3, 4, 5};
  ir::Tensor indices = unpoolIndices(x, 11);
  ir::Tensor output_shape = ir::Tensor::fromInt64({4}, std::vector<int64_t>{2, 3, 9, 11});
  for (DataType type : kFloatTypes) {
    ir::Attributes attrs;
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
    attrs.set("strides", std::vector<int64_t>{2, 2});
    ir::Graph g =
        testing::makeNodeGraph("MaxUnpool", {{"x", type, x}, {"i", DataType::kINT64, x, false, &indices}}, attrs);
    expectProviderMatches(g, type, label("MaxUnpool", type, x));
    ir::Graph gs = testing::makeNodeGraph("MaxUnpool",
                                          {{"x", type, x},
                                           {"i", DataType::kINT64, x, false, &indices},
                                           {"s", DataType::kINT64, {4}, false, &output_shape}},
                                          attrs);
    expectProviderMatches(gs, type, label("MaxUnpool output_shape", type, x));
  }
}

}  // namespace
}  // namespace kiln
