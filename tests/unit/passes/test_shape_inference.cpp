// Shape inference with folding: Shape and Size of a tensor whose dims are all known fold to
// constants even when its data is a run-time input, so the shape arithmetic after them (as in
// ONNX's expanded LayerNormalization: Size(Shape(X)) -> Sub -> ConstantOfShape -> Concat ->
// Reshape) folds too; with a symbolic dim they stay run-time layers.
#include <gtest/gtest.h>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "passes/shape_inference.h"
#include "support/tactic_harness.h"

namespace kiln::passes {
namespace {

struct RankChain {
  ir::Graph graph;
  int shape = -1, rank = -1, ones = -1, target = -1, y = -1;
};

//! x [dims] -> Shape -> Size -> rank; ConstantOfShape(Sub(rank, [1])) of ones; Concat([x's
//! first dim via Shape(start=0,end=1)], [-1], ones) -> Reshape(x, that) -> y.
RankChain rankChain(ir::Shape dims) {
  RankChain c;
  ir::Graph& g = c.graph;
  g.opset = 17;
  const int x = g.tensorId("x");
  g.tensors[x].shape = std::move(dims);
  g.tensors[x].rank_known = true;
  g.inputs.push_back(x);
  const auto node = [&](const std::string& op, std::vector<int> inputs, const std::string& out, ir::Attributes a = {}) {
    ir::Node n;
    n.name = op + "_" + out;
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {g.tensorId(out)};
    a.owner = n.describe();
    n.attrs = std::move(a);
    g.nodes.push_back(std::move(n));
    return g.nodes.back().outputs[0];
  };
  const int one = g.addConstant("one", ir::Tensor::fromInt64({1}, std::vector<int64_t>{1}));
  const int rest = g.addConstant("rest", ir::Tensor::fromInt64({1}, std::vector<int64_t>{-1}));
  c.shape = node("Shape", {x}, "x_shape");
  c.rank = node("Size", {c.shape}, "rank");
  const int count = node("Sub", {c.rank, one}, "count");
  ir::Attributes fill;
  fill.set("value", ir::Tensor::fromInt64({1}, std::vector<int64_t>{1}));
  c.ones = node("ConstantOfShape", {count}, "ones", fill);
  ir::Attributes first;
  first.set("end", int64_t{1});
  const int lead = node("Shape", {x}, "lead", first);
  ir::Attributes axis;
  axis.set("axis", int64_t{0});
  c.target = node("Concat", {lead, rest, c.ones}, "target", axis);
  c.y = node("Reshape", {x, c.target}, "y");
  g.outputs = {c.y};
  return c;
}

TEST(ShapeInference, ShapeAndSizeOfKnownDimsFoldAndTheArithmeticAfterThemToo) {
  RankChain c = rankChain({2, 3, 4});
  inferShapes(c.graph);
  ASSERT_TRUE(c.graph.tensors[c.shape].value);
  EXPECT_EQ(c.graph.tensors[c.shape].value->toInt64(), (std::vector<int64_t>{2, 3, 4}));
  ASSERT_TRUE(c.graph.tensors[c.rank].value);
  EXPECT_EQ(c.graph.tensors[c.rank].value->toInt64(), (std::vector<int64_t>{3}));
  ASSERT_TRUE(c.graph.tensors[c.target].value);
  EXPECT_EQ(c.graph.tensors[c.target].value->toInt64(), (std::vector<int64_t>{2, -1, 1, 1}));
  EXPECT_EQ(c.graph.tensors[c.y].shape, (ir::Shape{2, 12, 1, 1}));
  EXPECT_FALSE(c.graph.tensors[c.y].value);  // x's data is still a run-time input
  removeFoldedNodes(c.graph);
  ASSERT_EQ(c.graph.nodes.size(), 1u);
  EXPECT_EQ(c.graph.nodes[0].op, "Reshape");
}

// The folded graph (one Reshape with a constant target) computes what the whole chain did, on
// the CPU oracle.
TEST(ShapeInference, TheFoldedGraphEqualsTheChainOnTheOracle) {
  RankChain c = rankChain({2, 3, 4});
  c.graph.tensors[c.graph.inputs[0]].type = DataType::kFLOAT;
  const ir::Graph before = c.graph;
  inferShapes(c.graph);
  removeFoldedNodes(c.graph);
  ASSERT_EQ(c.graph.nodes.size(), 1u);
  const std::map<std::string, ir::Tensor> feeds = {{"x", testing::randomTensor(DataType::kFLOAT, {2, 3, 4}, 3)}};
  const ir::Tensor want = cpu::runReference(before, feeds).at("y");
  const ir::Tensor got = cpu::runReference(c.graph, feeds).at("y");
  EXPECT_EQ(got.shape(), (ir::Shape{2, 12, 1, 1}));
  EXPECT_EQ(got.toDouble(), want.toDouble());
}

TEST(ShapeInference, ShapeOfASymbolicDimStaysARunTimeLayer) {
  ir::Graph probe;
  const int64_t batch = probe.symbolDim("batch");
  RankChain c = rankChain({batch, 3, 4});
  c.graph.symbols = probe.symbols;
  inferShapes(c.graph);
  EXPECT_FALSE(c.graph.tensors[c.shape].value);
  ASSERT_TRUE(c.graph.tensors[c.shape].shape_value);
  EXPECT_EQ(*c.graph.tensors[c.shape].shape_value, (ir::Shape{batch, 3, 4}));
  // The rank is known all the same (Size of the [3] shape tensor), and the target's length.
  ASSERT_TRUE(c.graph.tensors[c.rank].value);
  EXPECT_EQ(c.graph.tensors[c.rank].value->toInt64(), (std::vector<int64_t>{3}));
  EXPECT_FALSE(c.graph.tensors[c.target].value);
  EXPECT_EQ(c.graph.tensors[c.y].shape.size(), 4u);
}

TEST(ShapeInference, WithoutFoldingShapeStaysALayer) {
  // Without folding nothing tells the Reshape its target's length.
  RankChain c = rankChain({2, 3, 4});
  EXPECT_THROW(inferShapes(c.graph, InferenceOptions{.fold_constants = false}), Error);
  EXPECT_FALSE(c.graph.tensors[c.shape].value);
}

}  // namespace
}  // namespace kiln::passes
