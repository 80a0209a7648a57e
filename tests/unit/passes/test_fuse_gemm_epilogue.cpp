// The fuse_gemm_epilogue pass on graphs built here, on the CPU oracle. Fires: bias, Relu, the
// Gelu op, the erf formula in the dynamo and the legacy order (Div and Mul forms), the tanh
// formula as GPT-2 writes it, a residual Add, Gemm with transB / alpha / beta, and GPT-2's
// Reshape -> Gemm -> Reshape sandwich; each makes one FusedMatMul whose outputs equal the
// unfused graph's (float32, 1e-5 relative) at several shapes, odd ones included. Must not
// fire: an intermediate used twice, a bias that is not constant, a bias broadcasting over
// another axis, a residual of another shape, a kept debug tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "backends/cpu/reference.h"
#include "ir/op_schema.h"
#include "onnx/importer.h"
#include "passes/fuse_gemm_epilogue.h"
#include "passes/shape_inference.h"
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

struct Expect {
  int fused = 1;
  std::string activation = "none";
  bool bias = false, residual = false;
};

const ir::Node* fusedNode(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes)
    if (n.op == "FusedMatMul") return &n;
  return nullptr;
}

//! Runs the pass on a copy of `original`, checks what it made, and compares both graphs on
//! the reference backend with random inputs.
void expectFusion(const ir::Graph& original, const Expect& want, const std::set<std::string>& keep = {}) {
  ir::Graph g = original;
  const int count = passes::fuseGemmEpilogue(g, keep);
  ASSERT_EQ(count, want.fused);
  int fused_nodes = 0;
  for (const ir::Node& n : g.nodes) fused_nodes += n.op == "FusedMatMul" ? 1 : 0;
  EXPECT_EQ(fused_nodes, want.fused);
  if (want.fused == 0) {
    EXPECT_EQ(g.nodes.size(), original.nodes.size());
  } else {
    const ir::Node* f = fusedNode(g);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->domain, "kiln");
    EXPECT_EQ(f->attrs.s("activation"), want.activation);
    EXPECT_EQ(f->inputs.size() > 2 && f->inputs[2] != ir::kAbsent, want.bias);
    EXPECT_EQ(f->inputs.size() > 3 && f->inputs[3] != ir::kAbsent, want.residual);
    // Refit: the weight is the original initializer, never a copy.
    EXPECT_TRUE(g.tensors[f->inputs[1]].is_initializer) << g.tensors[f->inputs[1]].name;
    if (want.fused == 1 && want.bias && want.residual && want.activation != "none") {
      EXPECT_EQ(g.nodes.size(), 1u);
    }
  }
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 100;
  for (int id : original.inputs)
    feeds[original.tensors[id].name] = testing::randomTensor(DataType::kFLOAT, original.tensors[id].shape, seed++, -2, 2);
  const auto expected = cpu::runReference(original, feeds);
  const auto actual = cpu::runReference(g, feeds);
  for (const auto& [name, value] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 1e-5, .atol = 1e-6}), "") << name;
  }
}

struct Mnk {
  int64_t m, n, k;
};
constexpr Mnk kShapes[] = {{7, 13, 33}, {1, 5, 3}, {13, 33, 7}, {2, 1, 1}};

//! For each shape: x[M,K] -> MatMul(W[K,N]) -> `epilogue(writer, y)`.
void forEachShape(const std::function<int(GraphWriter&, int y, const Mnk& s)>& epilogue, const Expect& want) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k));
    GraphWriter w;
    const int x = w.input("x", {s.m, s.k});
    const int y = w.node("MatMul", {x, w.weight("W", {s.k, s.n})});
    expectFusion(w.finish({epilogue(w, y, s)}), want);
  }
}

// 0.5 * x * (1 + erf(x / sqrt 2)) as torch.onnx dynamo writes it.
int geluErfDynamo(GraphWriter& w, int x, bool div = true) {
  const int d = div ? w.node("Div", {x, w.scalar(1.4142135381698608)}) : w.node("Mul", {w.scalar(0.7071067811865476), x});
  const int e = w.node("Erf", {d});
  const int a = w.node("Add", {e, w.scalar(1.0)});
  const int h = w.node("Mul", {w.scalar(0.5), a});
  return w.node("Mul", {x, h});
}

// The legacy exporter's order: x * (1 + erf(x / sqrt 2)) * 0.5.
int geluErfLegacy(GraphWriter& w, int x) {
  const int d = w.node("Div", {x, w.scalar(1.41421)});
  const int e = w.node("Erf", {d});
  const int a = w.node("Add", {w.scalar(1.0), e});
  const int m = w.node("Mul", {x, a});
  return w.node("Mul", {m, w.scalar(0.5)});
}

// GPT-2's 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
int geluTanhGpt2(GraphWriter& w, int x) {
  const int half = w.node("Mul", {x, w.scalar(0.5)});
  const int cube = w.node("Pow", {x, w.scalar(3.0)});
  const int c = w.node("Mul", {cube, w.scalar(0.044715)});
  const int s = w.node("Add", {x, c});
  const int t = w.node("Mul", {s, w.scalar(0.7978845608028654)});
  const int th = w.node("Tanh", {t});
  const int a = w.node("Add", {th, w.scalar(1.0)});
  return w.node("Mul", {half, a});
}

TEST(FuseGemmEpilogue, FiresOnBias) {
  forEachShape([](GraphWriter& w, int y, const Mnk& s) { return w.node("Add", {y, w.weight("b", {s.n})}); },
               {.bias = true});
  // b + Y, with b of shape [1, N].
  forEachShape([](GraphWriter& w, int y, const Mnk& s) { return w.node("Add", {w.weight("b", {1, s.n}), y}); },
               {.bias = true});
}

TEST(FuseGemmEpilogue, FiresOnBiasAndRelu) {
  forEachShape(
      [](GraphWriter& w, int y, const Mnk& s) { return w.node("Relu", {w.node("Add", {y, w.weight("b", {s.n})})}); },
      {.activation = "relu", .bias = true});
  forEachShape([](GraphWriter& w, int y, const Mnk&) { return w.node("Relu", {y}); }, {.activation = "relu"});
}

TEST(FuseGemmEpilogue, FiresOnTheGeluOp) {
  for (const char* approximate : {"none", "tanh"}) {
    forEachShape(
        [&](GraphWriter& w, int y, const Mnk& s) {
          return w.node("Gelu", {w.node("Add", {y, w.weight("b", {s.n})})},
                        attrsOf({{"approximate", std::string(approximate)}}));
        },
        {.activation = std::string(approximate) == "none" ? "gelu_erf" : "gelu_tanh", .bias = true});
  }
}

TEST(FuseGemmEpilogue, FiresOnTheErfFormulaInBothOrders) {
  forEachShape([](GraphWriter& w, int y, const Mnk& s) { return geluErfDynamo(w, w.node("Add", {y, w.weight("b", {s.n})})); },
               {.activation = "gelu_erf", .bias = true});
  forEachShape([](GraphWriter& w, int y, const Mnk&) { return geluErfDynamo(w, y, /*div=*/false); },
               {.activation = "gelu_erf"});
  forEachShape([](GraphWriter& w, int y, const Mnk& s) { return geluErfLegacy(w, w.node("Add", {y, w.weight("b", {s.n})})); },
               {.activation = "gelu_erf", .bias = true});
}

TEST(FuseGemmEpilogue, FiresOnTheTanhFormula) {
  forEachShape([](GraphWriter& w, int y, const Mnk& s) { return geluTanhGpt2(w, w.node("Add", {y, w.weight("b", {s.n})})); },
               {.activation = "gelu_tanh", .bias = true});
}

TEST(FuseGemmEpilogue, LeavesAFormulaWithAWrongConstant) {
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int y = w.node("Add", {w.node("MatMul", {x, w.weight("W", {33, 13})}), w.weight("b", {13})});
  const int d = w.node("Div", {y, w.scalar(1.5)});  // not sqrt 2
  const int a = w.node("Add", {w.node("Erf", {d}), w.scalar(1.0)});
  const int out = w.node("Mul", {y, w.node("Mul", {w.scalar(0.5), a})});
  // The bias fuses; the formula stays as it is, reading the fused layer's output.
  ir::Graph g = w.finish({out});
  expectFusion(g, {.bias = true});
  ir::Graph fused = g;
  passes::fuseGemmEpilogue(fused, {});
  EXPECT_EQ(fused.nodes.size(), g.nodes.size() - 1);
}

TEST(FuseGemmEpilogue, FiresOnBiasActivationAndResidual) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m));
    GraphWriter w;
    const int x = w.input("x", {s.m, s.k});
    const int r = w.input("r", {s.m, s.n});
    const int y = w.node("MatMul", {x, w.weight("W", {s.k, s.n})});
    const int act = geluErfDynamo(w, w.node("Add", {w.weight("b", {s.n}), y}));
    expectFusion(w.finish({w.node("Add", {r, act})}), {.activation = "gelu_erf", .bias = true, .residual = true});
  }
  // Residual alone, on a 3-D A.
  GraphWriter w;
  const int x = w.input("x", {2, 7, 33});
  const int r = w.input("r", {2, 7, 13});
  const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
  expectFusion(w.finish({w.node("Add", {y, r})}), {.residual = true});
}

TEST(FuseGemmEpilogue, FiresOnGemmWithTransBAlphaAndBeta) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m));
    for (float beta : {1.0f, 0.5f}) {
      GraphWriter w;
      const int x = w.input("x", {s.m, s.k});
      const int y = w.node("Gemm", {x, w.weight("W", {s.n, s.k}), w.weight("C", {1, s.n})},
                           attrsOf({{"transB", int64_t{1}}, {"alpha", 0.75f}, {"beta", beta}}));
      expectFusion(w.finish({w.node("Relu", {y})}), {.activation = "relu", .bias = true});
    }
    GraphWriter w;  // no C: a bias Add after it
    const int x = w.input("x", {s.m, s.k});
    const int y = w.node("Gemm", {x, w.weight("W", {s.n, s.k})}, attrsOf({{"transB", int64_t{1}}}));
    expectFusion(w.finish({w.node("Add", {y, w.weight("b", {s.n})})}), {.bias = true});
  }
}

TEST(FuseGemmEpilogue, FoldsTheGpt2ReshapeSandwich) {
  for (const Mnk& s : kShapes) {
    SCOPED_TRACE("M=" + std::to_string(s.m));
    GraphWriter w;
    const int x = w.input("x", {2, s.m, s.k});
    const int r = w.input("r", {2, s.m, s.n});
    const int flat = w.node("Reshape", {x, w.shape({-1, s.k})});
    const int y = w.node("Gemm", {flat, w.weight("W", {s.k, s.n}), w.weight("C", {s.n})});
    const int back = w.node("Reshape", {y, w.shape({2, s.m, s.n})});
    ir::Graph g = w.finish({w.node("Add", {back, r})});
    expectFusion(g, {.bias = true, .residual = true});
    ir::Graph fused = g;
    passes::fuseGemmEpilogue(fused, {});
    ASSERT_EQ(fused.nodes.size(), 1u);  // both reshapes went into the layer
    EXPECT_EQ(fused.tensors[fused.nodes[0].inputs[0]].name, "x");
    EXPECT_EQ(fused.tensors[fused.nodes[0].outputs[0]].shape, (Shape{2, s.m, s.n}));
  }
  // A second reshape that does not restore the leading dims: nothing fuses.
  GraphWriter w;
  const int x = w.input("x", {2, 6, 5});
  const int flat = w.node("Reshape", {x, w.shape({-1, 5})});
  const int y = w.node("Gemm", {flat, w.weight("W", {5, 4})});
  const int back = w.node("Reshape", {y, w.shape({3, 4, 4})});
  expectFusion(w.finish({w.node("Relu", {back})}), {.fused = 0});
}

TEST(FuseGemmEpilogue, FoldsTheSandwichAfterAttentionKeepingAViewOfTheHeads) {
  // GPT-2's attention output: [2, S, heads, size] -> Reshape(-1, heads*size) -> Gemm ->
  // Reshape([2, S, N]) -> Add(residual). The first Reshape stays, retargeted to [2, S, K].
  for (const int64_t seq : {1, 7, 13}) {
    SCOPED_TRACE("S=" + std::to_string(seq));
    GraphWriter w;
    const int x = w.input("x", {2, seq, 3, 5});
    const int r = w.input("r", {2, seq, 13});
    const int flat = w.node("Reshape", {x, w.shape({-1, 15})});
    const int y = w.node("Gemm", {flat, w.weight("W", {15, 13}), w.weight("C", {13})});
    const int back = w.node("Reshape", {y, w.shape({2, seq, 13})});
    ir::Graph g = w.finish({w.node("Add", {back, r})});
    expectFusion(g, {.bias = true, .residual = true});
    ir::Graph fused = g;
    passes::fuseGemmEpilogue(fused, {});
    ASSERT_EQ(fused.nodes.size(), 2u);
    EXPECT_EQ(fused.nodes[0].op, "Reshape");
    EXPECT_EQ(fused.tensors[fused.nodes[0].outputs[0]].shape, (Shape{2, seq, 15}));
    EXPECT_EQ(fused.nodes[1].op, "FusedMatMul");
    EXPECT_EQ(fused.tensors[fused.nodes[1].outputs[0]].shape, (Shape{2, seq, 13}));
  }
  // Trailing dims that do not multiply to K (3 * 5 != 16): nothing fuses.
  GraphWriter w;
  const int x = w.input("x", {2, 4, 3, 5});
  const int flat = w.node("Reshape", {x, w.shape({-1, 12})});
  const int y = w.node("Gemm", {flat, w.weight("W", {12, 4})});
  const int back = w.node("Reshape", {y, w.shape({2, 5, 4})});
  expectFusion(w.finish({w.node("Relu", {back})}), {.fused = 0});
}

TEST(FuseGemmEpilogue, DoesNotFireWhenTheIntermediateHasTwoUses) {
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
  const int z = w.node("Add", {y, w.weight("b", {13})});
  const int other = w.node("Sigmoid", {y});
  expectFusion(w.finish({z, other}), {.fused = 0});
  // The MatMul's output is itself a graph output.
  GraphWriter v;
  const int vx = v.input("x", {7, 33});
  const int vy = v.node("MatMul", {vx, v.weight("W", {33, 13})});
  expectFusion(v.finish({vy, v.node("Relu", {vy})}), {.fused = 0});
}

TEST(FuseGemmEpilogue, DoesNotFireOnANonConstantBias) {
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int b = w.input("b", {13});
  const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
  expectFusion(w.finish({w.node("Add", {y, b})}), {.fused = 0});
}

TEST(FuseGemmEpilogue, DoesNotFireOnABiasOverAnotherAxis) {
  for (Shape bias : {Shape{7, 1}, Shape{7, 13}, Shape{1, 1, 13}}) {
    SCOPED_TRACE(toString(bias));
    GraphWriter w;
    const int x = w.input("x", {7, 33});
    const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
    expectFusion(w.finish({w.node("Add", {y, w.weight("b", bias)})}), {.fused = 0});
  }
}

TEST(FuseGemmEpilogue, DoesNotFireOnAResidualOfAnotherShape) {
  for (Shape residual : {Shape{1, 13}, Shape{13}, Shape{2, 7, 13}}) {
    SCOPED_TRACE(toString(residual));
    GraphWriter w;
    const int x = w.input("x", {7, 33});
    const int r = w.input("r", residual);
    const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
    expectFusion(w.finish({w.node("Add", {y, r})}), {.fused = 0});
  }
  // Unknown dims are not facts: a residual [?, 13] against Y [?, 13] does not fuse.
  GraphWriter w;
  const int x = w.input("x", {ir::kUnknownDim, 33});
  const int r = w.input("r", {ir::kUnknownDim, 13});
  const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
  ir::Graph g = w.finish({w.node("Add", {y, r})});
  EXPECT_EQ(passes::fuseGemmEpilogue(g, {}), 0);
}

TEST(FuseGemmEpilogue, DoesNotFuseAKeptDebugTensor) {
  GraphWriter w;
  const int x = w.input("x", {7, 33});
  const int y = w.node("MatMul", {x, w.weight("W", {33, 13})});
  const int z = w.node("Relu", {y});
  const std::string kept = w.name(y);
  ir::Graph g = w.finish({z});
  expectFusion(g, {.fused = 0}, {kept});
  // Keeping the tensor after the bias: the bias fuses, the Relu stays.
  GraphWriter v;
  const int vx = v.input("x", {7, 33});
  const int vb = v.node("Add", {v.node("MatMul", {vx, v.weight("W", {33, 13})}), v.weight("b", {13})});
  const std::string kept_bias = v.name(vb);
  expectFusion(v.finish({v.node("Relu", {vb})}), {.bias = true}, {kept_bias});
}

//! Activations of the FusedMatMul layers the pass makes of a real export, by name.
std::map<std::string, int> fusedLayersOf(const char* model) {
  ir::Graph g = onnx::importFile(std::string(KILN_TEST_DATA_DIR) + "/models/" + model);
  passes::fuseGemmEpilogue(g, {});
  std::map<std::string, int> count;
  for (const ir::Node& n : g.nodes)
    if (n.op == "FusedMatMul") {
      ++count[n.attrs.s("activation")];
      count["bias"] += n.inputs.size() > 2 && n.inputs[2] != ir::kAbsent ? 1 : 0;
      count["residual"] += n.inputs.size() > 3 && n.inputs[3] != ir::kAbsent ? 1 : 0;
    }
  return count;
}

TEST(FuseGemmEpilogue, FusesTheTinyBertExport) {
  // Two layers: Q, K, V, the attention output, the FFN up (+ erf GELU as dynamo writes it) and
  // down projections, each with its bias; the attention output and FFN down projections also
  // take their residual Add (symbolic shapes prove both sides [batch, sequence, 64]).
  std::map<std::string, int> count = fusedLayersOf("bert_tiny_dynamo.onnx");
  EXPECT_EQ(count["gelu_erf"], 2);
  EXPECT_EQ(count["none"], 10);
  EXPECT_EQ(count["bias"], 12);
  EXPECT_EQ(count["residual"], 4);
}

TEST(FuseGemmEpilogue, FusesTheTinyGpt2Export) {
  // Two layers of four Gemms between Reshapes (no biases: the export drops GPT-2's zero-
  // initialized ones): the QKV projection, the attention output (+ residual; its input is
  // [batch, sequence, heads, size]), the FFN up (+ tanh GELU) and down (+ residual).
  std::map<std::string, int> count = fusedLayersOf("gpt2_tiny_dynamo.onnx");
  EXPECT_EQ(count["gelu_tanh"], 2);
  EXPECT_EQ(count["none"], 6);
  EXPECT_EQ(count["residual"], 4);
}

}  // namespace
}  // namespace kiln
