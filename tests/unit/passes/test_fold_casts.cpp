// The fold_casts pass after precision conversion, on graphs built here, on the CPU oracle.
// Fires: the Cast widening a float16 / bfloat16 MatMul, Gemm (transB, alpha, a bias row) or
// FusedMatMul result for a layer pinned to float32, and the one writing a graph output; each
// leaves one Cast less and outputs equal to the unfused graph's within float16's tolerance, at
// odd shapes. Must not fire: the 16-bit result also read by a 16-bit layer, the 16-bit result
// a graph output or kept, an op outside the set (Relu, a batched MatMul, Gemm with transA), a
// narrowing Cast, a producer the builder refused.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backends/cpu/reference.h"
#include "passes/fold_casts.h"
#include "passes/fuse_gemm_epilogue.h"
#include "passes/precision.h"
#include "support/graph_writer.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using ir::Shape;
using testing::GraphWriter;

ir::Attributes attrsOf(const std::map<std::string, ir::AttributeValue>& values) {
  ir::Attributes a;
  for (const auto& [k, v] : values) a.set(k, v);
  return a;
}

int castCount(const ir::Graph& g) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == "Cast" ? 1 : 0;
  return n;
}

const ir::Node* nodeNamed(const ir::Graph& g, const std::string& name) {
  for (const ir::Node& n : g.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

//! `graph` converted with every node in `reduced` except those named in `float32`.
ir::Graph converted(const ir::Graph& graph, const std::set<std::string>& float32, DataType reduced = DataType::kHALF) {
  ir::Graph g = graph;
  std::vector<bool> host(g.nodes.size(), false);
  std::vector<DataType> precision(g.nodes.size(), reduced);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (float32.count(g.nodes[n].name)) precision[n] = DataType::kFLOAT;
  passes::convertFloatPrecision(g, precision, host);
  return g;
}

struct Folded {
  ir::Graph graph;
  int count = 0;
};

Folded fold(const ir::Graph& graph, const std::set<std::string>& keep = {}, const std::set<std::string>& refused = {}) {
  Folded f{.graph = graph};
  std::vector<bool> host(f.graph.nodes.size(), false);
  std::vector<int> origin(f.graph.nodes.size());
  for (size_t n = 0; n < origin.size(); ++n) origin[n] = static_cast<int>(n);
  f.count = passes::foldCasts(f.graph, keep, refused, host, &origin);
  EXPECT_EQ(host.size(), f.graph.nodes.size());
  EXPECT_EQ(origin.size(), f.graph.nodes.size());
  return f;
}

//! Both graphs on random non-zero inputs: equal within float16's tolerance.
void expectSameOutputs(const ir::Graph& unfused, const ir::Graph& folded) {
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 300;
  for (int id : unfused.inputs)
    feeds[unfused.tensors[id].name] =
        testing::randomTensor(DataType::kFLOAT, unfused.tensors[id].shape, seed++, 0.1, 1);
  const auto expected = cpu::runReference(unfused, feeds);
  const auto actual = cpu::runReference(folded, feeds);
  for (const auto& [name, value] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(actual.at(name).type(), value.type()) << name;
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 1e-2, .atol = 1e-2}), "") << name;
  }
}

struct Mnk {
  int64_t m, n, k;
};
constexpr Mnk kShapes[] = {{7, 13, 33}, {1, 5, 3}, {13, 33, 7}, {2, 1, 1}};

//! The folded producer: a FusedMatMul writing float32 from `from` inputs.
void expectFoldedInto(const ir::Graph& g, const std::string& name, DataType from = DataType::kHALF) {
  const ir::Node* n = nodeNamed(g, name);
  ASSERT_NE(n, nullptr) << name;
  EXPECT_EQ(n->op, "FusedMatMul");
  EXPECT_EQ(n->domain, "kiln");
  EXPECT_EQ(n->attrs.i("output_type", 0), 1);
  EXPECT_EQ(g.tensors[n->inputs[0]].type, from);
  EXPECT_EQ(g.tensors[n->outputs[0]].type, DataType::kFLOAT);
}

TEST(FoldCasts, FiresOnAMatMulBeforeAFloat32Layer) {
  for (DataType reduced : {DataType::kHALF, DataType::kBF16})
    for (const Mnk& s : kShapes) {
      SCOPED_TRACE(std::string(toString(reduced)) + " M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) +
                   " K=" + std::to_string(s.k));
      GraphWriter w;
      const int x = w.input("x", {s.m, s.k});
      const int mm = w.node("MatMul", {x, w.weight("W", {s.k, s.n})});
      const int y = w.node("Softmax", {mm});
      const ir::Graph g = converted(w.finish({y}), {"Softmax_1"}, reduced);
      const Folded f = fold(g);
      EXPECT_EQ(f.count, 1);
      EXPECT_EQ(castCount(f.graph), castCount(g) - 1);
      expectFoldedInto(f.graph, "MatMul_0", reduced);
      expectSameOutputs(g, f.graph);
    }
}

TEST(FoldCasts, FiresOnABatchedAMatMulWritingAGraphOutput) {
  // A [2, 5, 9] x W [9, 4]: the leading dims fold into M; the output Cast folds, y stays float32.
  GraphWriter w;
  const int x = w.input("x", {2, 5, 9});
  const int y = w.node("MatMul", {w.node("Relu", {x}), w.weight("W", {9, 4})});
  const ir::Graph g = converted(w.finish({y}), {});
  const Folded f = fold(g);
  EXPECT_EQ(f.count, 1);
  EXPECT_EQ(castCount(f.graph), castCount(g) - 1);
  expectFoldedInto(f.graph, "MatMul_1");
  EXPECT_EQ(nodeNamed(f.graph, "MatMul_1")->outputs[0], f.graph.outputs[0]);
  EXPECT_EQ(f.graph.tensors[f.graph.outputs[0]].type, DataType::kFLOAT);
  expectSameOutputs(g, f.graph);
}

TEST(FoldCasts, FiresOnGemmWithTransBAlphaAndABiasRow) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k));
    GraphWriter w;
    const int x = w.input("x", {s.m, s.k});
    const int with_c = w.node("Gemm", {x, w.weight("W", {s.n, s.k}), w.weight("C", {s.n})},
                              attrsOf({{"transB", int64_t{1}}, {"alpha", 0.5f}}));
    const int without_c = w.node("Gemm", {x, w.weight("V", {s.k, s.n})}, attrsOf({{"alpha", 2.0f}}));
    const ir::Graph g =
        converted(w.finish({w.node("Softmax", {with_c}), w.node("Softmax", {without_c})}), {"Softmax_2", "Softmax_3"});
    const Folded f = fold(g);
    EXPECT_EQ(f.count, 2);
    EXPECT_EQ(castCount(f.graph), castCount(g) - 2);
    expectFoldedInto(f.graph, "Gemm_0");
    expectFoldedInto(f.graph, "Gemm_1");
    EXPECT_EQ(nodeNamed(f.graph, "Gemm_0")->inputs.size(), 3u);  // C became the bias
    EXPECT_EQ(nodeNamed(f.graph, "Gemm_0")->attrs.i("trans_b"), 1);
    expectSameOutputs(g, f.graph);
  }
}

TEST(FoldCasts, FiresOnAFusedMatMulWithBiasActivationAndResidual) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k));
    GraphWriter w;
    const int x = w.input("x", {s.m, s.k});
    const int r = w.input("r", {s.m, s.n});
    const int mm = w.node("MatMul", {x, w.weight("W", {s.k, s.n})});
    const int act = w.node("Relu", {w.node("Add", {mm, w.weight("b", {s.n})})});
    const int sum = w.node("Add", {act, r});
    ir::Graph g = w.finish({w.node("Softmax", {sum})});
    ASSERT_EQ(passes::fuseGemmEpilogue(g, {}), 1);
    const std::string fused = g.nodes[0].name;
    g = converted(g, {"Softmax_4"});
    const Folded f = fold(g);
    EXPECT_EQ(f.count, 1);
    EXPECT_EQ(castCount(f.graph), castCount(g) - 1);
    expectFoldedInto(f.graph, fused);
    EXPECT_EQ(nodeNamed(f.graph, fused)->attrs.s("activation"), "relu");
    EXPECT_EQ(nodeNamed(f.graph, fused)->inputs.size(), 4u);
    expectSameOutputs(g, f.graph);
  }
}

TEST(FoldCasts, DoesNotFireWhenTheReducedResultHasAnotherReader) {
  // MatMul's float16 result feeds a float16 Relu and, through the Cast, a float32 Softmax.
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int mm = w.node("MatMul", {x, w.weight("W", {33, 13})});
  const ir::Graph g = converted(w.finish({w.node("Relu", {mm}), w.node("Softmax", {mm})}), {"Softmax_2"});
  const Folded f = fold(g);
  EXPECT_EQ(f.count, 0);
  EXPECT_EQ(nodeNamed(f.graph, "MatMul_0")->op, "MatMul");
  // The Relu's output Cast (Relu is not in the set) stays too.
  EXPECT_EQ(castCount(f.graph), castCount(g));
}

TEST(FoldCasts, DoesNotFireWhenTheReducedResultIsAGraphOutputOrKept) {
  // A float16 graph: y16 = MatMul(Cast16(x), Cast16(W)) is an output, and Cast32(y16) -> Relu.
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const auto to = [](int64_t code) { return attrsOf({{"to", code}}); };
  const int x16 = w.node("Cast", {x}, to(10));
  const int w16 = w.node("Cast", {w.weight("W", {33, 13})}, to(10));
  const int y16 = w.node("MatMul", {x16, w16});
  const int z = w.node("Relu", {w.node("Cast", {y16}, to(1))});
  const ir::Graph as_output = w.finish({y16, z});
  EXPECT_EQ(fold(as_output).count, 0);

  ir::Graph kept = as_output;
  kept.outputs = {z};
  EXPECT_EQ(fold(kept, {kept.tensors[y16].name}).count, 0);
  // Neither output nor kept: it folds.
  const Folded f = fold(kept);
  EXPECT_EQ(f.count, 1);
  expectSameOutputs(kept, f.graph);
}

TEST(FoldCasts, DoesNotFireOnOpsOutsideTheSet) {
  GraphWriter w;
  const int x = w.input("x", {2, 5, 9});
  const int b = w.input("b", {2, 9, 4});
  const int relu = w.node("Relu", {x});          // not a GEMM
  const int batched = w.node("MatMul", {x, b});  // 3-D B
  const int trans_a =
      w.node("Gemm", {w.input("a", {9, 5}), w.weight("W", {9, 4})}, attrsOf({{"transA", int64_t{1}}}));  // transA
  const int matrix_c =
      w.node("Gemm", {w.input("c", {5, 9}), w.weight("V", {9, 4}), w.weight("C", {5, 4})});  // C [M, N]
  const ir::Graph original = w.finish({w.node("Softmax", {relu}), w.node("Softmax", {batched}),
                                       w.node("Softmax", {trans_a}), w.node("Softmax", {matrix_c})});
  const ir::Graph g = converted(original, {"Softmax_4", "Softmax_5", "Softmax_6", "Softmax_7"});
  const Folded f = fold(g);
  EXPECT_EQ(f.count, 0);
  EXPECT_EQ(castCount(f.graph), castCount(g));
}

TEST(FoldCasts, DoesNotFireOnANarrowingCastOrARefusedProducer) {
  // MatMul pinned to float32 feeding a float16 Softmax: the Cast narrows; no tactic writes that.
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int mm = w.node("MatMul", {x, w.weight("W", {33, 13})});
  const ir::Graph original = w.finish({w.node("Softmax", {mm})});
  EXPECT_EQ(fold(converted(original, {"MatMul_0"})).count, 0);
  // Widening, but the builder found no tactic for the folded form.
  const ir::Graph g = converted(original, {"Softmax_1"});
  EXPECT_EQ(fold(g, {}, {"MatMul_0"}).count, 0);
  EXPECT_EQ(fold(g).count, 1);
}

}  // namespace
}  // namespace kiln
