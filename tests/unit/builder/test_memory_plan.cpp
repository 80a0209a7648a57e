// The memory planner's in-place decisions (fires where the input's memory dies at the layer
// and the tactic allows it; not where the input is read later, directly or through a view, is
// a graph input or output, is kept for debugging, is read twice by the layer, has another
// shape, or where the tactic does not allow it), the placement that follows them, and the
// lower bound beside it.
#include <gtest/gtest.h>

#include "builder/memory_plan.h"
#include "support/graph_writer.h"

namespace kiln::memory {
namespace {

//! The graph's nodes as plan layers of one profile; every tactic allows in-place over the
//! inputs `allowed` gives for its op (none where it gives nothing); `views` name view layers.
std::vector<plan::Layer> layersOf(const ir::Graph& g, const std::map<std::string, std::vector<int>>& allowed,
                                  const std::vector<std::string>& views = {}) {
  std::vector<plan::Layer> layers;
  for (const ir::Node& n : g.nodes) {
    plan::Layer l;
    l.node = n;
    const bool view = std::find(views.begin(), views.end(), n.name) != views.end();
    plan::TacticChoice c{.provider = view ? plan::Layer::kViewProvider : "test"};
    c.config.name = view ? "alias" : "test." + n.op;
    if (auto it = allowed.find(n.op); it != allowed.end() && !view) c.config.inplace_inputs = it->second;
    l.tactics.push_back(c);
    layers.push_back(std::move(l));
  }
  return layers;
}

std::function<bool(int)> notOutput(const ir::Graph& g) {
  return [&g](int id) { return std::find(g.outputs.begin(), g.outputs.end(), id) == g.outputs.end(); };
}

int inPlaceOf(const std::vector<plan::Layer>& layers, size_t l) { return layers[l].tactics[0].inplace_input; }

const std::map<std::string, std::vector<int>> kElementwise = {
    {"Relu", {0}}, {"Exp", {0}}, {"Add", {0, 1}}, {"Mul", {0, 1}}};

TEST(InPlacePlan, FiresWhereTheInputDiesAndNotOverGraphInputsOrOutputs) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int a = w.node("Relu", {x});  // x: a graph input
  const int b = w.node("Exp", {a});   // a dies here
  const int c = w.node("Relu", {b});  // b dies here
  const int y = w.node("Exp", {c});   // y: a graph output
  ir::Graph g = w.finish({y});
  std::vector<plan::Layer> layers = layersOf(g, kElementwise);
  EXPECT_EQ(planInPlace(layers, 0, g, {}, notOutput(g)), 2);
  EXPECT_EQ(inPlaceOf(layers, 0), -1);
  EXPECT_EQ(inPlaceOf(layers, 1), 0);
  EXPECT_EQ(inPlaceOf(layers, 2), 0);
  EXPECT_EQ(inPlaceOf(layers, 3), -1);

  // b and c share a's memory: one buffer is left, alive from layer 0 to 3.
  const std::vector<int> root = aliasRoots(layers, g.tensors.size(), 0);
  EXPECT_EQ(root[b], a);
  EXPECT_EQ(root[c], a);
  const ActivationRequests r =
      activationRequests(layers, g.tensors.size(), 0, {}, notOutput(g), [](int) { return 64; });
  ASSERT_EQ(r.tensor, std::vector<int>{a});
  EXPECT_EQ(r.requests[0].first, 0);
  EXPECT_EQ(r.requests[0].last, 3);
}

TEST(InPlacePlan, NotWhenTheTacticDoesNotAllowIt) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int a = w.node("Relu", {x});
  const int b = w.node("Exp", {a});
  const int y = w.node("Relu", {b});
  ir::Graph g = w.finish({y});
  std::vector<plan::Layer> layers = layersOf(g, {{"Relu", {0}}});  // Exp's tactic does not allow it
  EXPECT_EQ(planInPlace(layers, 0, g, {}, notOutput(g)), 0);
  EXPECT_EQ(inPlaceOf(layers, 1), -1);
}

TEST(InPlacePlan, NotWhenTheInputIsReadLater) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int a = w.node("Relu", {x});
  const int b = w.node("Exp", {a});  // a is read again by the Add
  const int s = w.node("Add", {b, a});
  const int y = w.node("Relu", {s});
  ir::Graph g = w.finish({y});
  std::vector<plan::Layer> layers = layersOf(g, kElementwise);
  planInPlace(layers, 0, g, {}, notOutput(g));
  EXPECT_EQ(inPlaceOf(layers, 1), -1);
  EXPECT_EQ(inPlaceOf(layers, 2), 0);  // both inputs die at the Add: the first allowed is taken
}

TEST(InPlacePlan, NotWhenAViewOfTheInputOrTheTensorItViewsIsReadLater) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int a = w.node("Relu", {x});
  const int v = w.node("Flatten", {a});  // a view: shares a's memory
  const int b = w.node("Exp", {v});      // a is read again below
  const int s = w.node("Add", {b, w.node("Flatten", {a})});
  ir::Graph g = w.finish({s});
  std::vector<plan::Layer> layers = layersOf(g, kElementwise, {g.nodes[1].name, g.nodes[3].name});
  planInPlace(layers, 0, g, {}, notOutput(g));
  EXPECT_EQ(inPlaceOf(layers, 2), -1);

  // Without the later reader, the Exp writes over a through the view.
  testing::GraphWriter w2;
  const int x2 = w2.input("x", {2, 8});
  const int a2 = w2.node("Relu", {x2});
  const int b2 = w2.node("Exp", {w2.node("Flatten", {a2})});
  const int y2 = w2.node("Relu", {b2});
  ir::Graph g2 = w2.finish({y2});
  std::vector<plan::Layer> layers2 = layersOf(g2, kElementwise, {g2.nodes[1].name});
  planInPlace(layers2, 0, g2, {}, notOutput(g2));
  EXPECT_EQ(inPlaceOf(layers2, 2), 0);
  EXPECT_EQ(aliasRoots(layers2, g2.tensors.size(), 0)[b2], a2);
}

TEST(InPlacePlan, NotOverADebugTensorNorAnInputTheLayerReadsTwice) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int a = w.node("Relu", {x});
  const int b = w.node("Exp", {a});     // a is kept for debugging
  const int s = w.node("Mul", {b, b});  // b is both inputs
  const int y = w.node("Relu", {s});
  ir::Graph g = w.finish({y});
  std::vector<plan::Layer> layers = layersOf(g, kElementwise);
  planInPlace(layers, 0, g, {a}, notOutput(g));
  EXPECT_EQ(inPlaceOf(layers, 1), -1);
  EXPECT_EQ(inPlaceOf(layers, 2), -1);
}

TEST(InPlacePlan, OnlyOverAnInputOfTheOutputsShapeAndType) {
  testing::GraphWriter w;
  const int x = w.input("x", {2, 8});
  const int row = w.input("row", {1, 8});
  const int big = w.node("Relu", {x});
  const int small = w.node("Relu", {row});
  const int s = w.node("Add", {small, big});  // small broadcasts: only big may be written over
  const int y = w.node("Relu", {s});
  ir::Graph g = w.finish({y});
  std::vector<plan::Layer> layers = layersOf(g, kElementwise);
  planInPlace(layers, 0, g, {}, notOutput(g));
  EXPECT_EQ(inPlaceOf(layers, 2), 1);

  // Dims that are not known at build time never match.
  testing::GraphWriter w2;
  const int x2 = w2.input("x", {2, 8});
  const int a2 = w2.node("Relu", {x2});
  const int b2 = w2.node("Exp", {a2});
  const int y2 = w2.node("Relu", {b2});
  ir::Graph g2 = w2.finish({y2});
  g2.tensors[a2].shape[0] = ir::kUnknownDim;
  g2.tensors[b2].shape[0] = ir::kUnknownDim;
  std::vector<plan::Layer> layers2 = layersOf(g2, kElementwise);
  planInPlace(layers2, 0, g2, {}, notOutput(g2));
  EXPECT_EQ(inPlaceOf(layers2, 1), -1);
}

TEST(LowerBound, IsTheLargestLiveTotalAndNoPlacementBeatsIt) {
  // 0:[0,1] 1:[1,2] 2:[2,3] 3:[0,3]: at layers 1 and 2 three buffers are alive.
  const std::vector<BufferRequest> requests = {{100, 0, 1}, {300, 1, 2}, {200, 2, 3}, {256, 0, 3}};
  EXPECT_EQ(peakLiveBytes(requests), 256u + 512u + 256u);
  std::vector<uint64_t> offsets;
  EXPECT_GE(planMemory(requests, offsets), peakLiveBytes(requests));
  EXPECT_EQ(peakLiveBytes({}), 0u);
}

}  // namespace
}  // namespace kiln::memory
