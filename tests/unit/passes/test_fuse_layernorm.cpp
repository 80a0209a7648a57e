// fuse_layernorm: the decomposed LayerNorm older exporters write (ReduceMean, Sub, Pow 2,
// ReduceMean, Add eps, Sqrt, Div, then Mul scale and Add bias) becomes one LayerNormalization.
// Fires with and without the affine part and over several trailing axes; the result equals the
// unfused graph on the CPU reference (random inputs, odd sizes); must not fire when an
// intermediate is read elsewhere or kept, when the axes are not trailing, or when epsilon is
// not a constant.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backends/cpu/reference.h"
#include "passes/fuse_layernorm.h"
#include "support/graph_writer.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::GraphWriter;

struct Form {
  bool scale = true, bias = true;
  std::vector<int64_t> axes = {-1};
};

//! x -> the decomposed LayerNorm over `form.axes`; returns y. `d_out` receives x - mean.
int decomposed(GraphWriter& w, int x, const ir::Shape& normalized, const Form& form, int* d_out = nullptr,
               int epsilon = -1) {
  const int axes = w.shape(form.axes);
  const int mean = w.node("ReduceMean", {x, axes});
  const int d = w.node("Sub", {x, mean});
  const int var = w.node("ReduceMean", {w.node("Pow", {d, w.scalar(2.0)}), axes});
  const int std = w.node("Sqrt", {w.node("Add", {var, epsilon >= 0 ? epsilon : w.scalar(1e-5)})});
  int y = w.node("Div", {d, std});
  if (form.scale) y = w.node("Mul", {y, w.weight("gamma", normalized)});
  if (form.bias) y = w.node("Add", {y, w.weight("beta", normalized)});
  if (d_out) *d_out = d;
  return y;
}

int layerNorms(const ir::Graph& g) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == "LayerNormalization" ? 1 : 0;
  return n;
}

void expectEqualOnTheReference(const ir::Graph& original, const ir::Graph& fused) {
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 40;
  for (int id : original.inputs)
    feeds[original.tensors[id].name] = testing::randomTensor(DataType::kFLOAT, original.tensors[id].shape, seed++, -3, 3);
  const auto expected = cpu::runReference(original, feeds);
  const auto actual = cpu::runReference(fused, feeds);
  for (const auto& [name, value] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 1e-5, .atol = 1e-5}), "") << name;
  }
}

TEST(FuseLayerNorm, FiresOnEveryFormAndEqualsTheUnfusedGraph) {
  const Form forms[] = {{}, {.scale = true, .bias = false}, {.scale = false, .bias = false}, {.axes = {-2, -1}}};
  for (const Form& form : forms)
    for (const ir::Shape& shape : {ir::Shape{3, 7, 13}, ir::Shape{2, 1, 33}, ir::Shape{5, 4, 1}}) {
      SCOPED_TRACE(std::to_string(form.axes.size()) + " axes, scale " + std::to_string(form.scale) + ", bias " +
                   std::to_string(form.bias) + ", last dim " + std::to_string(shape.back()));
      GraphWriter w;
      const int x = w.input("x", shape);
      const ir::Shape normalized(shape.end() - static_cast<std::ptrdiff_t>(form.axes.size()), shape.end());
      const ir::Graph original = w.finish({decomposed(w, x, normalized, form)});
      ir::Graph g = original;
      ASSERT_EQ(passes::fuseDecomposedLayerNorm(g, {}), 1);
      ASSERT_EQ(g.nodes.size(), 1u);
      EXPECT_EQ(g.nodes[0].op, "LayerNormalization");
      EXPECT_EQ(g.nodes[0].attrs.i("axis"), static_cast<int64_t>(shape.size() - form.axes.size()));
      EXPECT_FLOAT_EQ(g.nodes[0].attrs.f("epsilon"), 1e-5f);
      EXPECT_EQ(g.nodes[0].inputs.size(), form.bias ? 3u : 2u);
      expectEqualOnTheReference(original, g);
    }
}

TEST(FuseLayerNorm, DoesNotFireWhenTheCenteredValuesAreReadElsewhere) {
  GraphWriter w;
  const int x = w.input("x", {2, 9});
  int d = -1;
  const int y = decomposed(w, x, {9}, {}, &d);
  ir::Graph g = w.finish({y, w.node("Relu", {d})});
  EXPECT_EQ(passes::fuseDecomposedLayerNorm(g, {}), 0);
  EXPECT_EQ(layerNorms(g), 0);
}

TEST(FuseLayerNorm, DoesNotFireOnAKeptIntermediate) {
  GraphWriter w;
  const int x = w.input("x", {2, 9});
  int d = -1;
  const int y = decomposed(w, x, {9}, {}, &d);
  ir::Graph g = w.finish({y});
  EXPECT_EQ(passes::fuseDecomposedLayerNorm(g, {w.name(d)}), 0);
}

TEST(FuseLayerNorm, DoesNotFireOverALeadingAxis) {
  GraphWriter w;
  const int x = w.input("x", {4, 6, 5});
  ir::Graph g = w.finish({decomposed(w, x, {6, 5}, {.scale = false, .bias = false, .axes = {1}})});
  EXPECT_EQ(passes::fuseDecomposedLayerNorm(g, {}), 0);
}

TEST(FuseLayerNorm, DoesNotFireOnAComputedEpsilon) {
  GraphWriter w;
  const int x = w.input("x", {3, 8});
  const int eps = w.input("eps", {});
  ir::Graph g = w.finish({decomposed(w, x, {8}, {}, nullptr, eps)});
  EXPECT_EQ(passes::fuseDecomposedLayerNorm(g, {}), 0);
}

TEST(FuseLayerNorm, KeepsAScaleThatIsNotOverTheNormalizedDims) {
  // A Mul by a [4, 1] constant scales rows, not features: the LayerNorm fuses, the Mul stays.
  GraphWriter w;
  const int x = w.input("x", {4, 6});
  const int n = decomposed(w, x, {6}, {.scale = false, .bias = false});
  const ir::Graph original = w.finish({w.node("Mul", {n, w.weight("rows", {4, 1})})});
  ir::Graph g = original;
  EXPECT_EQ(passes::fuseDecomposedLayerNorm(g, {}), 1);
  EXPECT_EQ(g.nodes.size(), 2u);
  expectEqualOnTheReference(original, g);
}

}  // namespace
}  // namespace kiln
