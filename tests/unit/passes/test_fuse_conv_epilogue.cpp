// The fuse_conv_epilogue pass on graphs built here, on the CPU oracle. Fires: a bias Add
// ([C,1,1] and [1,C,1,1], either operand order) or the Conv's own bias; Relu, Clip (ReLU6, one
// bound), Sigmoid, HardSwish, SiLU as Mul(x, Sigmoid(x)) in both orders, Mul(x, HardSigmoid(x));
// a residual Add (either order) with and without an activation after it (ResNet's and
// MobileNetV2's block ends, the residual a graph input or another Conv's output); 1-D
// convolutions; after BatchNormalization folding. Each makes FusedConv layers whose outputs
// equal the unfused graph's (float32, 1e-5 relative) at several shapes, odd ones included.
// Must not fire: an intermediate used twice (or a graph output), a bias that is not constant
// or broadcasts over another axis, a residual of another (or an unproven) shape, a SiLU whose
// x has a third use, a HardSigmoid of other constants, a Clip bound that is not constant, a
// kept debug tensor, a 3-D convolution.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "backends/cpu/reference.h"
#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "passes/fold_batchnorm.h"
#include "passes/fuse_conv_epilogue.h"
#include "support/graph_writer.h"
#include "support/models.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using ir::Shape;
using testing::GraphWriter;
using Ints = std::vector<int64_t>;

ir::Attributes attrsOf(const std::map<std::string, ir::AttributeValue>& values) {
  ir::Attributes a;
  for (const auto& [k, v] : values) a.set(k, v);
  return a;
}

struct Expect {
  int fused = 1;
  std::string activation = "none";
  bool bias = false, residual = false;
  size_t nodes = 0;  //!< nodes left after the pass (0: not checked)
};

std::vector<const ir::Node*> fusedNodes(const ir::Graph& g) {
  std::vector<const ir::Node*> out;
  for (const ir::Node& n : g.nodes)
    if (n.op == "FusedConv") out.push_back(&n);
  return out;
}

//! Runs the pass on a copy of `original`, checks what it made (the first fused layer against
//! `want`), and compares both graphs on the reference backend with random inputs.
ir::Graph expectFusion(const ir::Graph& original, const Expect& want, const std::set<std::string>& keep = {}) {
  ir::Graph g = original;
  const int count = passes::fuseConvEpilogue(g, keep);
  EXPECT_EQ(count, want.fused);
  const std::vector<const ir::Node*> fused = fusedNodes(g);
  EXPECT_EQ(static_cast<int>(fused.size()), want.fused);
  if (want.fused == 0) {
    EXPECT_EQ(g.nodes.size(), original.nodes.size());
  }
  if (want.nodes) {
    EXPECT_EQ(g.nodes.size(), want.nodes);
  }
  if (!fused.empty()) {
    const ir::Node& f = *fused.front();
    EXPECT_EQ(f.domain, "kiln");
    EXPECT_EQ(f.attrs.s("activation"), want.activation);
    EXPECT_EQ(f.inputs.size() > 2 && f.inputs[2] != ir::kAbsent, want.bias);
    EXPECT_EQ(f.inputs.size() > 3 && f.inputs[3] != ir::kAbsent, want.residual);
    // Refit: the weight is the original initializer, never a copy.
    EXPECT_TRUE(g.tensors[f.inputs[1]].is_initializer) << g.tensors[f.inputs[1]].name;
  }
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 100;
  for (int id : original.inputs)
    feeds[original.tensors[id].name] =
        testing::randomTensor(DataType::kFLOAT, original.tensors[id].shape, seed++, -2, 2);
  const auto expected = cpu::runReference(original, feeds);
  const auto actual = cpu::runReference(g, feeds);
  for (const auto& [name, value] : expected) {
    if (!actual.count(name)) {
      ADD_FAILURE() << "the fused graph has no output " << name;
      continue;
    }
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 1e-5, .atol = 1e-6}), "") << name;
  }
  return g;
}

//! One convolution: X [N, C, H, W] by W [K, C/group, kh, kw].
struct ConvCase {
  Ints x;
  int64_t k;
  Ints kernel;
  std::map<std::string, ir::AttributeValue> attrs;
};
const ConvCase kCases[] = {
    {{1, 3, 7, 9}, 5, {3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
    {{2, 4, 9, 8}, 6, {3, 3}, {{"group", int64_t{2}}, {"strides", Ints{2, 2}}}},
    {{1, 8, 5, 5}, 8, {1, 1}, {}},
    {{3, 1, 1, 1}, 1, {1, 1}, {}},
};

//! For each case: x -> Conv(W[, B]) -> `epilogue(writer, y, case)`.
void forEachCase(const std::function<int(GraphWriter&, int y, const ConvCase& c)>& epilogue, const Expect& want,
                 bool conv_bias = false) {
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(toString(c.x) + " k=" + std::to_string(c.k));
    GraphWriter w;
    const int x = w.input("x", c.x);
    const int64_t group = c.attrs.count("group") ? std::get<int64_t>(c.attrs.at("group")) : 1;
    Ints wshape = {c.k, c.x[1] / group};
    wshape.insert(wshape.end(), c.kernel.begin(), c.kernel.end());
    std::vector<int> inputs = {x, w.weight("W", wshape)};
    if (conv_bias) inputs.push_back(w.weight("B", {c.k}));
    const int y = w.node("Conv", inputs, attrsOf(c.attrs));
    expectFusion(w.finish({epilogue(w, y, c)}), want);
  }
}

int clip(GraphWriter& w, int x, double lo, double hi) { return w.node("Clip", {x, w.scalar(lo), w.scalar(hi)}); }

TEST(FuseConvEpilogue, FiresOnABiasAddInEitherOrder) {
  forEachCase(
      [](GraphWriter& w, int y, const ConvCase& c) {
        return w.node("Add", {y, w.weight("b", {c.k, 1, 1})});
      },
      {.bias = true, .nodes = 1});
  forEachCase(
      [](GraphWriter& w, int y, const ConvCase& c) {
        return w.node("Add", {w.weight("b", {1, c.k, 1, 1}), y});
      },
      {.bias = true, .nodes = 1});
}

TEST(FuseConvEpilogue, FiresOnEachActivation) {
  forEachCase([](GraphWriter& w, int y, const ConvCase&) { return w.node("Relu", {y}); },
              {.activation = "relu", .bias = true},
              /*conv_bias=*/true);
  forEachCase([](GraphWriter& w, int y, const ConvCase&) { return clip(w, y, 0.0, 6.0); },
              {.activation = "clip", .bias = true}, true);
  forEachCase([](GraphWriter& w, int y, const ConvCase&) { return w.node("Sigmoid", {y}); },
              {.activation = "sigmoid", .bias = true}, true);
  forEachCase([](GraphWriter& w, int y, const ConvCase&) { return w.node("HardSwish", {y}); },
              {.activation = "hardswish", .bias = true}, true);
  // Without any bias too.
  forEachCase([](GraphWriter& w, int y, const ConvCase&) { return clip(w, y, -0.5, 0.5); }, {.activation = "clip"});
}

TEST(FuseConvEpilogue, FiresOnSiluAndHardSwishAsExportersWriteThem) {
  // SiLU: Mul(x, Sigmoid(x)) and Mul(Sigmoid(x), x), after a bias Add.
  for (bool x_first : {true, false}) {
    forEachCase(
        [&](GraphWriter& w, int y, const ConvCase& c) {
          const int x = w.node("Add", {y, w.weight("b", {c.k, 1, 1})});
          const int s = w.node("Sigmoid", {x});
          return x_first ? w.node("Mul", {x, s}) : w.node("Mul", {s, x});
        },
        {.activation = "silu", .bias = true, .nodes = 1});
  }
  // HardSwish: Mul(x, HardSigmoid(x)) with alpha 1/6 (as float) and beta 1/2.
  forEachCase(
      [](GraphWriter& w, int y, const ConvCase&) {
        const int h = w.node("HardSigmoid", {y}, attrsOf({{"alpha", 0.16666667f}, {"beta", 0.5f}}));
        return w.node("Mul", {h, y});
      },
      {.activation = "hardswish", .bias = true, .nodes = 1}, true);
}

TEST(FuseConvEpilogue, FiresOnClipWithOneBound) {
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
  expectFusion(w.finish({w.node("Clip", {y, w.scalar(0.0)})}), {.activation = "clip", .bias = true, .nodes = 1});
  GraphWriter v;  // only max: min absent
  const int vx = v.input("x", {1, 3, 7, 9});
  const int vy = v.node("Conv", {vx, v.weight("W", {4, 3, 3, 3}), v.weight("B", {4})});
  const ir::Graph g = expectFusion(v.finish({v.node("Clip", {vy, ir::kAbsent, v.scalar(0.25)})}),
                                   {.activation = "clip", .bias = true, .nodes = 1});
  EXPECT_EQ(g.nodes[0].attrs.f("max"), 0.25f);
  EXPECT_TRUE(std::isinf(g.nodes[0].attrs.f("min")));
}

//! x -> Conv -> Add(bias) -> Add(residual) [-> act]; the residual is the graph input "r".
ir::Graph residualBlock(const ConvCase& c, bool y_first, const char* act, bool conv_bias) {
  GraphWriter w;
  const int x = w.input("x", c.x);
  const int64_t group = c.attrs.count("group") ? std::get<int64_t>(c.attrs.at("group")) : 1;
  Ints wshape = {c.k, c.x[1] / group};
  wshape.insert(wshape.end(), c.kernel.begin(), c.kernel.end());
  std::vector<int> inputs = {x, w.weight("W", wshape)};
  if (conv_bias) inputs.push_back(w.weight("B", {c.k}));
  int y = w.node("Conv", inputs, attrsOf(c.attrs));
  if (!conv_bias) y = w.node("Add", {y, w.weight("b", {c.k, 1, 1})});
  // Y's shape: infer it from a graph that ends here.
  GraphWriter probe = w;
  const Shape ys = probe.finish({y}).tensors[y].shape;
  const int r = w.input("r", ys);
  int out = y_first ? w.node("Add", {y, r}) : w.node("Add", {r, y});
  if (std::string(act) == "relu") out = w.node("Relu", {out});
  if (std::string(act) == "clip") out = w.node("Clip", {out, w.scalar(0.0), w.scalar(6.0)});
  return w.finish({out});
}

TEST(FuseConvEpilogue, FiresOnResNetAndMobileNetBlockEnds) {
  for (const ConvCase& c : kCases)
    for (bool y_first : {true, false})
      for (bool conv_bias : {true, false})
        for (const char* act : {"relu", "none", "clip"}) {
          SCOPED_TRACE(toString(c.x) + " " + act + (y_first ? " Add(y, r)" : " Add(r, y)") +
                       (conv_bias ? " conv bias" : " bias Add"));
          expectFusion(residualBlock(c, y_first, act, conv_bias),
                       {.activation = act, .bias = true, .residual = true, .nodes = 1});
        }
}

TEST(FuseConvEpilogue, TheResidualMayBeAnotherConvsOutput) {
  // ResNet's downsampling block: relu(conv3(x) + bias + downsample(x)); one of the two Convs
  // takes the Add and the Relu, the other stays a Conv with its bias.
  GraphWriter w;
  const int x = w.input("x", {2, 4, 9, 7});
  const int main =
      w.node("Conv", {x, w.weight("W3", {6, 4, 1, 1}), w.weight("B3", {6})}, attrsOf({{"strides", Ints{2, 2}}}));
  const int down =
      w.node("Conv", {x, w.weight("Wd", {6, 4, 1, 1}), w.weight("Bd", {6})}, attrsOf({{"strides", Ints{2, 2}}}));
  const ir::Graph g = expectFusion(w.finish({w.node("Relu", {w.node("Add", {main, down})})}),
                                   {.activation = "relu", .bias = true, .residual = true, .nodes = 2});
  EXPECT_EQ(g.nodes[0].op, "Conv");
  EXPECT_EQ(g.nodes[1].op, "FusedConv");
}

TEST(FuseConvEpilogue, AnActivationBeforeTheResidualEndsTheMatch) {
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int r = w.input("r", {1, 4, 5, 7});
  const int y = w.node("Relu", {w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})})});
  const ir::Graph g = expectFusion(w.finish({w.node("Add", {y, r})}), {.activation = "relu", .bias = true, .nodes = 2});
  EXPECT_EQ(g.nodes[1].op, "Add");
}

TEST(FuseConvEpilogue, FiresOnOneDimensionalConvolutions) {
  GraphWriter w;
  const int x = w.input("x", {2, 3, 17});
  const int y = w.node("Conv", {x, w.weight("W", {5, 3, 3})}, attrsOf({{"pads", Ints{1, 1}}}));
  const int b = w.node("Add", {y, w.weight("b", {5, 1})});
  const int s = w.node("Sigmoid", {b});
  expectFusion(w.finish({w.node("Mul", {b, s})}), {.activation = "silu", .bias = true, .nodes = 1});
}

// A BatchNormalization in training mode normalizes by the batch's statistics: it is not folded.
TEST(FuseConvEpilogue, TrainingBatchNormIsNotFolded) {
  GraphWriter w;
  const int x = w.input("x", {2, 3, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3})});
  ir::Graph g = w.finish(
      {w.node("BatchNormalization", {y, w.weight("s", {4}), w.weight("b", {4}), w.weight("m", {4}), w.weight("v", {4})},
              attrsOf({{"training_mode", int64_t{1}}}))});
  EXPECT_EQ(passes::foldBatchNormIntoConv(g, {}), 0);
}

TEST(FuseConvEpilogue, FiresAfterBatchNormFoldingAndOnTheTinyCnn) {
  ir::Graph g = onnx::importFile(std::string(KILN_SOURCE_DIR) + "/examples/tiny_cnn.onnx");
  const ir::Graph original = g;
  EXPECT_EQ(passes::foldBatchNormIntoConv(g, {}), 2);
  EXPECT_EQ(passes::fuseConvEpilogue(g, {}), 2);
  const std::vector<const ir::Node*> fused = fusedNodes(g);
  ASSERT_EQ(fused.size(), 2u);
  for (const ir::Node* f : fused) {
    EXPECT_EQ(f->attrs.s("activation"), "relu");
    EXPECT_EQ(f->inputs.size(), 3u);  // the folded bias
  }
  EXPECT_EQ(fused[0]->name, "conv1+bn1+relu");
  const std::map<std::string, ir::Tensor> feeds = {
      {"image", testing::randomTensor(DataType::kFLOAT, {1, 3, 32, 32}, 5)}};
  EXPECT_EQ(testing::compareTensors(cpu::runReference(original, feeds).at("probabilities"),
                                    cpu::runReference(g, feeds).at("probabilities"), {.rtol = 1e-5, .atol = 1e-6}),
            "");
}

TEST(FuseConvEpilogue, ABiasAddGoesThroughTheWeightProgram) {
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3})});
  ir::Graph g = w.finish({w.node("Relu", {w.node("Add", {y, w.weight("b", {1, 4, 1, 1})})})});
  ASSERT_EQ(passes::fuseConvEpilogue(g, {}), 1);
  const ir::Node& f = g.nodes.at(0);
  const ir::TensorInfo& bias = g.tensors[f.inputs[2]];
  EXPECT_EQ(bias.shape, (Shape{4}));
  ASSERT_FALSE(g.weight_program.empty());
  EXPECT_EQ(g.weight_program.back().op, "Reshape");
  EXPECT_EQ(g.tensors[g.weight_program.back().inputs[0]].name, "b");  // refit replays it from "b"
  EXPECT_EQ(g.weight_program.back().outputs[0], f.inputs[2]);
}

TEST(FuseConvEpilogue, DoesNotFireWhenAnIntermediateHasTwoUses) {
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
  expectFusion(w.finish({w.node("Relu", {y}), w.node("Sigmoid", {y})}), {.fused = 0});
  // The Conv's output is itself a graph output.
  GraphWriter v;
  const int vx = v.input("x", {1, 3, 7, 9});
  const int vy = v.node("Conv", {vx, v.weight("W", {4, 3, 3, 3}), v.weight("B", {4})});
  expectFusion(v.finish({vy, v.node("Relu", {vy})}), {.fused = 0});
  // The bias Add's output is read twice: the bias fuses, the two readers stay.
  GraphWriter u;
  const int ux = u.input("x", {1, 3, 7, 9});
  const int ub = u.node("Add", {u.node("Conv", {ux, u.weight("W", {4, 3, 3, 3})}), u.weight("b", {4, 1, 1})});
  expectFusion(u.finish({u.node("Relu", {ub}), u.node("Sigmoid", {ub})}), {.bias = true, .nodes = 3});
}

TEST(FuseConvEpilogue, DoesNotFireOnABiasItCannotTake) {
  // Not a constant.
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int b = w.input("b", {4, 1, 1});
  expectFusion(w.finish({w.node("Add", {w.node("Conv", {x, w.weight("W", {4, 3, 3, 3})}), b})}), {.fused = 0});
  // Broadcasting over another axis (or over all of Y, or a second bias on a Conv that has one).
  for (Shape bias : {Shape{7}, Shape{4, 5, 7}, Shape{1, 4, 5, 1}, Shape{1, 1, 1}, Shape{1, 5, 1}, Shape{2, 4, 1, 1}}) {
    SCOPED_TRACE(toString(bias));
    GraphWriter v;
    const int vx = v.input("x", {2, 3, 7, 9});
    const int vy = v.node("Conv", {vx, v.weight("W", {4, 3, 3, 3})});
    expectFusion(v.finish({v.node("Add", {vy, v.weight("b", bias)})}), {.fused = 0});
  }
  GraphWriter u;
  const int ux = u.input("x", {1, 3, 7, 9});
  const int uy = u.node("Conv", {ux, u.weight("W", {4, 3, 3, 3}), u.weight("B", {4})});
  expectFusion(u.finish({u.node("Add", {uy, u.weight("b", {4, 1, 1})})}), {.fused = 0});
}

TEST(FuseConvEpilogue, DoesNotFireOnAResidualOfAnotherOrAnUnprovenShape) {
  for (Shape residual : {Shape{1, 4, 1, 1}, Shape{1, 4, 5, 1}, Shape{4, 5, 7}, Shape{2, 4, 5, 7}}) {
    SCOPED_TRACE(toString(residual));
    GraphWriter w;
    const int x = w.input("x", {1, 3, 7, 9});
    const int r = w.input("r", residual);
    const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
    expectFusion(w.finish({w.node("Add", {y, r})}), {.fused = 0});
  }
  // Unknown dims are not facts: a residual [?, 4, 5, 7] against Y [?, 4, 5, 7] does not fuse.
  GraphWriter w;
  const int x = w.input("x", {ir::kUnknownDim, 3, 7, 9});
  const int r = w.input("r", {ir::kUnknownDim, 4, 5, 7});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
  ir::Graph g = w.finish({w.node("Add", {y, r})});
  EXPECT_EQ(passes::fuseConvEpilogue(g, {}), 0);
  // A constant of Y's shape is no residual (and no channel bias).
  GraphWriter v;
  const int vx = v.input("x", {1, 3, 7, 9});
  const int vy = v.node("Conv", {vx, v.weight("W", {4, 3, 3, 3}), v.weight("B", {4})});
  expectFusion(v.finish({v.node("Add", {vy, v.weight("c", {1, 4, 5, 7})})}), {.fused = 0});
}

TEST(FuseConvEpilogue, DoesNotFireOnFormulasThatDifferFromTheActivations) {
  auto conv = [](GraphWriter& w) {
    const int x = w.input("x", {1, 3, 7, 9});
    return w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
  };
  {  // SiLU's x read a third time.
    GraphWriter w;
    const int y = conv(w);
    expectFusion(w.finish({w.node("Mul", {y, w.node("Sigmoid", {y})}), w.node("Relu", {y})}), {.fused = 0});
  }
  {  // Sigmoid gating of another tensor: x * sigmoid(g).
    GraphWriter w;
    const int y = conv(w);
    const int gate = w.input("g", {1, 4, 5, 7});
    expectFusion(w.finish({w.node("Mul", {y, w.node("Sigmoid", {gate})})}), {.fused = 0});
  }
  {  // HardSigmoid with ONNX's default alpha 0.2: not HardSwish.
    GraphWriter w;
    const int y = conv(w);
    expectFusion(w.finish({w.node("Mul", {y, w.node("HardSigmoid", {y})})}), {.fused = 0});
  }
  {  // A Clip bound computed at run time.
    GraphWriter w;
    const int y = conv(w);
    const int hi = w.input("hi", {});
    expectFusion(w.finish({w.node("Clip", {y, w.scalar(0.0), hi})}), {.fused = 0});
  }
}

TEST(FuseConvEpilogue, DoesNotFuseAKeptDebugTensorOrA3DConvolution) {
  GraphWriter w;
  const int x = w.input("x", {1, 3, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {4, 3, 3, 3}), w.weight("B", {4})});
  const std::string kept = w.name(y);
  expectFusion(w.finish({w.node("Relu", {y})}), {.fused = 0}, {kept});
  // Keeping the tensor after the residual Add: the residual fuses, the Relu stays.
  GraphWriter v;
  const int vx = v.input("x", {1, 3, 7, 9});
  const int vr = v.input("r", {1, 4, 5, 7});
  const int sum = v.node("Add", {v.node("Conv", {vx, v.weight("W", {4, 3, 3, 3}), v.weight("B", {4})}), vr});
  const std::string kept_sum = v.name(sum);
  expectFusion(v.finish({v.node("Relu", {sum})}), {.bias = true, .residual = true, .nodes = 2}, {kept_sum});
  // 3-D: no GPU tactic runs a 3-D Conv, nor would one run it fused.
  GraphWriter u;
  const int ux = u.input("x", {1, 2, 4, 4, 4});
  const int uy = u.node("Conv", {ux, u.weight("W", {3, 2, 3, 3, 3}), u.weight("B", {3})});
  expectFusion(u.finish({u.node("Relu", {uy})}), {.fused = 0});
}

// Through the public API: ResNet's, MobileNetV2's and a SiLU block as exported, built into a
// CPU engine. At the default level every Conv but ResNet's downsampling one (whose output is
// the other Conv's residual) is a FusedConv, and the engine agrees with the reference on the
// unfused network at several batches; level 0 fuses nothing.
TEST(FuseConvEpilogue, CpuEngineOfResidualBlocksMatchesTheOracle) {
  const Network network = testing::parseModel(testing::residualCnnModel(3));
  for (int level : {0, 3}) {
    BuilderConfig config = testing::cpuConfig();
    config.setOptimizationLevel(level);
    config.addOptimizationProfile(testing::batchProfile("x", {8, 9, 9}, 1, 2, 5));
    std::string report;
    Engine engine = testing::buildEngine(network, config, &report);
    int changes = -1;
    const nlohmann::json parsed = nlohmann::json::parse(report);
    for (const auto& pass : parsed.at("passes"))
      if (pass.at("name") == "fuse_conv_epilogue") changes = pass.at("changes").get<int>();
    std::map<std::string, int> ops;
    for (const LayerInfo& l : engine.layers()) ++ops[l.op];
    EXPECT_EQ(changes, level ? 7 : 0) << "level " << level;
    EXPECT_EQ(ops["FusedConv"], level ? 7 : 0) << "level " << level;
    EXPECT_EQ(ops["Conv"], level ? 1 : 8) << "level " << level;
    EXPECT_EQ(ops["Relu"] + ops["Clip"] + ops["Sigmoid"] + ops["Add"], level ? 0 : 8) << "level " << level;
    const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
    for (int64_t batch : {1, 2, 5}) {
      const std::map<std::string, ir::Tensor> in = {{"x", testing::randomInput({batch, 8, 9, 9}, 60 + batch)}};
      EXPECT_EQ(
          testing::compareOutputs(testing::reference(network, in), testing::runContext(engine, *ctx, in), 1e-5, 1e-6),
          "")
          << "level " << level << ", batch " << batch;
    }
  }
}

}  // namespace
}  // namespace kiln
