// cancel_transposes: a Transpose of a Transpose becomes one Transpose with the composed
// permutation, or nothing when that is the identity (readers take the original tensor; a graph
// output keeps its name through an Identity). Must not fire when the inner Transpose's output
// is read elsewhere or kept. Every rewrite equals the original graph on the CPU reference.
#include <gtest/gtest.h>

#include <map>

#include "backends/cpu/reference.h"
#include "passes/cancel_transposes.h"
#include "support/graph_writer.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::GraphWriter;

ir::Attributes perm(std::vector<int64_t> p) {
  ir::Attributes a;
  a.set("perm", std::move(p));
  return a;
}

void expectSameOutputs(const ir::Graph& original, const ir::Graph& rewritten) {
  std::map<std::string, ir::Tensor> feeds;
  for (int id : original.inputs)
    feeds[original.tensors[id].name] = testing::randomTensor(DataType::kFLOAT, original.tensors[id].shape, 7);
  const auto expected = cpu::runReference(original, feeds);
  const auto actual = cpu::runReference(rewritten, feeds);
  for (const auto& [name, value] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 0, .atol = 0}), "") << name;
  }
}

TEST(CancelTransposes, AnInversePairDisappears) {
  GraphWriter w;
  const int x = w.input("x", {2, 3, 5, 7});
  const int t1 = w.node("Transpose", {x}, perm({0, 2, 1, 3}));
  const int t2 = w.node("Transpose", {t1}, perm({0, 2, 1, 3}));
  const ir::Graph original = w.finish({w.node("Relu", {t2})});
  ir::Graph g = original;
  EXPECT_EQ(passes::cancelTransposes(g, {}), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "Relu");
  EXPECT_EQ(g.tensors[g.nodes[0].inputs[0]].name, "x");
  expectSameOutputs(original, g);
}

TEST(CancelTransposes, APairComposesIntoOneTranspose) {
  GraphWriter w;
  const int x = w.input("x", {2, 3, 5, 7});
  const int t1 = w.node("Transpose", {x}, perm({0, 2, 1, 3}));   // [2,5,3,7]
  const int t2 = w.node("Transpose", {t1}, perm({0, 1, 3, 2}));  // [2,5,7,3]
  const ir::Graph original = w.finish({w.node("Relu", {t2})});
  ir::Graph g = original;
  EXPECT_EQ(passes::cancelTransposes(g, {}), 1);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].attrs.ints("perm"), (std::vector<int64_t>{0, 2, 3, 1}));
  expectSameOutputs(original, g);
}

TEST(CancelTransposes, AChainOfThreeAndDefaultPermutations) {
  GraphWriter w;
  const int x = w.input("x", {4, 3, 2});
  const int t1 = w.node("Transpose", {x});                       // reversed: [2,3,4]
  const int t2 = w.node("Transpose", {t1}, perm({1, 0, 2}));     // [3,2,4]
  const int t3 = w.node("Transpose", {t2}, perm({2, 1, 0}));     // [4,2,3]
  const ir::Graph original = w.finish({w.node("Relu", {t3})});
  ir::Graph g = original;
  EXPECT_EQ(passes::cancelTransposes(g, {}), 2);
  EXPECT_EQ(g.nodes.size(), 2u);
  expectSameOutputs(original, g);
}

TEST(CancelTransposes, AnInversePairThatIsAGraphOutputBecomesAnIdentity) {
  GraphWriter w;
  const int x = w.input("x", {3, 5});
  const int t2 = w.node("Transpose", {w.node("Transpose", {x})});
  const ir::Graph original = w.finish({t2});
  ir::Graph g = original;
  EXPECT_EQ(passes::cancelTransposes(g, {}), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "Identity");
  expectSameOutputs(original, g);
}

TEST(CancelTransposes, DoesNotFireWhenTheInnerResultIsReadElsewhereOrKept) {
  GraphWriter w;
  const int x = w.input("x", {3, 5, 2});
  const int t1 = w.node("Transpose", {x}, perm({1, 0, 2}));
  const int t2 = w.node("Transpose", {t1}, perm({1, 0, 2}));
  ir::Graph g = w.finish({t2, w.node("Relu", {t1})});
  EXPECT_EQ(passes::cancelTransposes(g, {}), 0);

  GraphWriter k;
  const int y = k.input("y", {3, 5});
  const int inner = k.node("Transpose", {y});
  ir::Graph kept = k.finish({k.node("Relu", {k.node("Transpose", {inner})})});
  EXPECT_EQ(passes::cancelTransposes(kept, {k.name(inner)}), 0);
}

}  // namespace
}  // namespace kiln
