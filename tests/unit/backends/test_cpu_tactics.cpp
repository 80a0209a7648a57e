// The CPU tactics "cpu.gemm", "cpu.conv" and (when built with OpenBLAS) "openblas" against
// the reference oracle: every candidate on MatMul / Gemm / Conv layers of odd sizes (and
// FusedConv with every epilogue, openblas's FusedMatMul with every epilogue and with a folded
// Cast), plus refit (new weights are re-packed) and the workspace contract over a shape range.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/reference.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;
using Ints = std::vector<int64_t>;

ir::Attributes attrsOf(std::map<std::string, ir::AttributeValue> values) {
  ir::Attributes a;
  for (auto& [k, v] : values) a.set(k, v);
  return a;
}

NodeInput in(const std::string& name, Ints shape, bool constant = false) {
  return NodeInput{.name = name, .type = DataType::kFLOAT, .shape = std::move(shape), .constant = constant};
}

//! The providers under test for an op family: kiln's own always, OpenBLAS when compiled in.
std::vector<const backend::TacticProvider*> providers(const char* own) {
  std::vector<const backend::TacticProvider*> out;
  const backend::TacticProvider* p = backend::findProvider(own);
  EXPECT_NE(p, nullptr) << own << " is not registered";
  if (p) out.push_back(p);
  if (const backend::TacticProvider* blas = backend::findProvider("openblas")) out.push_back(blas);
  return out;
}

//! Every candidate of every provider passes, and each provider offers at least one.
void expectAllPass(const char* own, const ir::Graph& graph, uint32_t seed = 1) {
  for (const backend::TacticProvider* p : providers(own)) {
    std::vector<testing::CandidateResult> results = testing::checkProvider(
        *p, graph, backend::cpuDevice(), testing::toleranceFor(DataType::kFLOAT), {}, seed);
    EXPECT_FALSE(results.empty()) << p->name() << " offers no candidate";
    std::set<std::string> names;
    for (const auto& r : results) {
      EXPECT_TRUE(r.passed) << p->name() << " / " << r.name << ": " << r.message;
      EXPECT_TRUE(names.insert(r.name).second) << "duplicate candidate name " << r.name;
    }
  }
}

ir::Graph matmul(Ints a, Ints b, bool const_b = false, bool const_a = false) {
  return testing::makeNodeGraph("MatMul", {in("A", std::move(a), const_a), in("B", std::move(b), const_b)}, {});
}

// ---- MatMul ----------------------------------------------------------------------------------

TEST(CpuGemmTactics, MatMul2DOddSizes) {
  expectAllPass("cpu.gemm", matmul({17, 33}, {33, 19}));
  expectAllPass("cpu.gemm", matmul({17, 33}, {33, 19}, /*const_b=*/true));
  expectAllPass("cpu.gemm", matmul({1, 1}, {1, 1}));
  expectAllPass("cpu.gemm", matmul({5, 3}, {3, 1}, true));
}

TEST(CpuGemmTactics, MatMulCrossesEveryBlockBoundary) {
  // M > mc, K > kc and N > nc for every blocking, with ragged edges everywhere.
  expectAllPass("cpu.gemm", matmul({101, 263}, {263, 1031}));
  expectAllPass("cpu.gemm", matmul({101, 263}, {263, 1031}, true));
  expectAllPass("cpu.gemm", matmul({101, 263}, {263, 35}, false, /*const_a=*/true));
}

TEST(CpuGemmTactics, MatMul3DBatched) {
  expectAllPass("cpu.gemm", matmul({3, 17, 33}, {3, 33, 9}));
  expectAllPass("cpu.gemm", matmul({3, 17, 33}, {3, 33, 9}, true));
}

TEST(CpuGemmTactics, MatMulBroadcastsLikeNumpy) {
  expectAllPass("cpu.gemm", matmul({2, 1, 5, 7}, {3, 7, 4}));
  expectAllPass("cpu.gemm", matmul({2, 1, 5, 7}, {3, 7, 4}, true));
  expectAllPass("cpu.gemm", matmul({4, 5, 6}, {6, 7}));          // B shared: one tall GEMM
  expectAllPass("cpu.gemm", matmul({4, 5, 6}, {6, 7}, true));
  expectAllPass("cpu.gemm", matmul({2, 3, 5, 6}, {1, 6, 7}, true));
  expectAllPass("cpu.gemm", matmul({5, 6}, {2, 6, 3}));          // A shared
  expectAllPass("cpu.gemm", matmul({5, 6}, {2, 6, 3}, false, true));
  expectAllPass("cpu.gemm", matmul({2, 1, 4, 3}, {1, 5, 3, 2}));
}

TEST(CpuGemmTactics, MatMulWithVectors) {
  expectAllPass("cpu.gemm", matmul({7}, {7, 5}));
  expectAllPass("cpu.gemm", matmul({7}, {7, 5}, true));
  expectAllPass("cpu.gemm", matmul({3, 5, 7}, {7}));
  expectAllPass("cpu.gemm", matmul({3, 5, 7}, {7}, true));
  expectAllPass("cpu.gemm", matmul({7}, {7}));
  expectAllPass("cpu.gemm", matmul({7}, {2, 7, 5}));
}

TEST(CpuGemmTactics, MatMulEmptyInnerDimensionGivesZeros) {
  expectAllPass("cpu.gemm", matmul({4, 0}, {0, 6}));
}

// ---- Gemm ------------------------------------------------------------------------------------

ir::Graph gemm(Ints a, Ints b, std::optional<Ints> c, int64_t ta, int64_t tb, float alpha, float beta,
               bool const_b = false, bool const_a = false) {
  std::vector<NodeInput> inputs = {in("A", std::move(a), const_a), in("B", std::move(b), const_b)};
  if (c) inputs.push_back(in("C", *c));
  return testing::makeNodeGraph(
      "Gemm", inputs, attrsOf({{"transA", ta}, {"transB", tb}, {"alpha", alpha}, {"beta", beta}}));
}

TEST(CpuGemmTactics, GemmTransposesAlphaBeta) {
  for (int64_t ta : {0, 1}) {
    for (int64_t tb : {0, 1}) {
      SCOPED_TRACE("transA=" + std::to_string(ta) + " transB=" + std::to_string(tb));
      const Ints a = ta ? Ints{33, 17} : Ints{17, 33};
      const Ints b = tb ? Ints{19, 33} : Ints{33, 19};
      expectAllPass("cpu.gemm", gemm(a, b, Ints{17, 19}, ta, tb, 0.75f, -1.5f));
      expectAllPass("cpu.gemm", gemm(a, b, Ints{17, 19}, ta, tb, 1.25f, 0.5f, /*const_b=*/true));
      expectAllPass("cpu.gemm", gemm(a, b, std::nullopt, ta, tb, 2.0f, 1.0f, false, /*const_a=*/true));
    }
  }
}

TEST(CpuGemmTactics, GemmBroadcastsC) {
  for (const Ints& c : {Ints{19}, Ints{1, 19}, Ints{17, 1}, Ints{}, Ints{1}, Ints{1, 1}}) {
    SCOPED_TRACE("C of shape " + toString(c));
    expectAllPass("cpu.gemm", gemm({17, 33}, {19, 33}, c, 0, 1, 1.0f, 0.5f, true));
  }
  expectAllPass("cpu.gemm", gemm({17, 33}, {33, 19}, Ints{19}, 0, 0, 1.0f, 0.0f));  // beta 0 ignores C
}

TEST(CpuGemmTactics, GemmLargeWithConstantWeights) {
  expectAllPass("cpu.gemm", gemm({67, 300}, {1030, 300}, Ints{1030}, 0, 1, 1.0f, 1.0f, true));
}

TEST(CpuGemmTactics, SixteenBitLayersComputeInFloat) {
  const backend::TacticProvider* p = backend::findProvider("cpu.gemm");
  ASSERT_NE(p, nullptr);
  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    SCOPED_TRACE(std::string(toString(type)));
    auto node = [type](const char* name, Ints shape, bool constant = false) {
      return NodeInput{.name = name, .type = type, .shape = std::move(shape), .constant = constant};
    };
    const ir::Graph graphs[] = {
        testing::makeNodeGraph("MatMul", {node("A", {3, 17, 33}), node("B", {33, 19})}, {}),
        testing::makeNodeGraph("MatMul", {node("A", {3, 17, 33}), node("B", {33, 19}, true)}, {}),
        testing::makeNodeGraph("MatMul", {node("A", {2, 5, 9}), node("B", {2, 9, 7})}, {}),
        testing::makeNodeGraph("Gemm", {node("A", {33, 17}), node("B", {19, 33}, true), node("C", {19})},
                               attrsOf({{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}})),
        testing::makeNodeGraph("Gemm", {node("A", {17, 33}, true), node("B", {33, 19}), node("C", {17, 1})}, {}),
    };
    for (const ir::Graph& g : graphs) {
      auto results = testing::checkProvider(*p, g, backend::cpuDevice(), testing::toleranceFor(type));
      EXPECT_FALSE(results.empty());
      for (const auto& r : results) EXPECT_TRUE(r.passed) << r.name << ": " << r.message;
    }
  }
}

TEST(CpuGemmTactics, OffersNothingForUnhandledTypes) {
  for (DataType type : {DataType::kINT32, DataType::kDOUBLE}) {
    ir::Graph g = testing::makeNodeGraph(
        "MatMul", {{.name = "A", .type = type, .shape = {4, 5}}, {.name = "B", .type = type, .shape = {5, 3}}}, {});
    for (const backend::TacticProvider* p : providers("cpu.gemm"))
      EXPECT_TRUE(testing::checkProvider(*p, g, backend::cpuDevice(), testing::toleranceFor(type)).empty())
          << p->name() << " on " << toString(type);
  }
}

// ---- Conv ------------------------------------------------------------------------------------

ir::Graph conv(Ints x, Ints w, bool bias, std::map<std::string, ir::AttributeValue> attrs, bool const_w = true) {
  std::vector<NodeInput> inputs = {in("X", std::move(x)), in("W", w, const_w)};
  if (bias) inputs.push_back(in("B", {w[0]}, true));
  return testing::makeNodeGraph("Conv", inputs, attrsOf(std::move(attrs)));
}

TEST(CpuConvTactics, PaddedWithBiasOddSizes) {
  expectAllPass("cpu.conv", conv({1, 3, 7, 9}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}));
  expectAllPass("cpu.conv", conv({1, 3, 7, 9}, {4, 3, 3, 3}, false, {}));
  expectAllPass("cpu.conv", conv({2, 3, 7, 9}, {5, 3, 2, 4}, true, {{"pads", Ints{0, 1, 2, 0}}}));
}

TEST(CpuConvTactics, StridesAndDilations) {
  expectAllPass("cpu.conv", conv({2, 3, 11, 13}, {4, 3, 3, 3}, true,
                                 {{"strides", Ints{2, 3}}, {"dilations", Ints{2, 1}}, {"pads", Ints{1, 2, 2, 1}}}));
  expectAllPass("cpu.conv", conv({1, 2, 9, 9}, {3, 2, 3, 2}, false, {{"dilations", Ints{2, 3}}}));
}

TEST(CpuConvTactics, Groups) {
  expectAllPass("cpu.conv", conv({2, 4, 7, 9}, {6, 2, 3, 3}, true, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}));
  // Depthwise, strided.
  expectAllPass("cpu.conv", conv({1, 6, 9, 7}, {6, 1, 3, 3}, true,
                                 {{"group", int64_t{6}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}));
}

TEST(CpuConvTactics, AutoPad) {
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    SCOPED_TRACE(mode);
    expectAllPass("cpu.conv", conv({1, 3, 7, 9}, {4, 3, 3, 4}, true, {{"auto_pad", std::string(mode)}, {"strides", Ints{2, 2}}}));
    expectAllPass("cpu.conv", conv({1, 3, 8, 6}, {2, 3, 2, 3}, false, {{"auto_pad", std::string(mode)}}));
  }
}

TEST(CpuConvTactics, Pointwise) {
  expectAllPass("cpu.conv", conv({2, 5, 7, 9}, {11, 5, 1, 1}, true, {}));
  expectAllPass("cpu.conv", conv({2, 6, 7, 9}, {4, 3, 1, 1}, false, {{"group", int64_t{2}}}));
  expectAllPass("cpu.conv", conv({1, 5, 7, 9}, {3, 5, 1, 1}, true, {{"strides", Ints{2, 2}}}));  // via im2col
  expectAllPass("cpu.conv", conv({1, 5, 7, 9}, {3, 5, 1, 1}, true, {{"pads", Ints{1, 0, 0, 1}}}));
}

TEST(CpuConvTactics, OneDimensional) {
  expectAllPass("cpu.conv", conv({2, 3, 11}, {5, 3, 3}, true, {{"strides", Ints{2}}, {"pads", Ints{1, 2}}}));
  expectAllPass("cpu.conv", conv({1, 4, 10}, {4, 2, 3}, false, {{"group", int64_t{2}}, {"dilations", Ints{2}}}));
}

TEST(CpuConvTactics, WeightsAsRuntimeInput) {
  expectAllPass("cpu.conv", conv({1, 3, 7, 9}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}, /*const_w=*/false));
  expectAllPass("cpu.conv", conv({1, 4, 5, 5}, {6, 2, 1, 1}, false, {{"group", int64_t{2}}}, false));
}

TEST(CpuConvTactics, LargerThanOneBlock) {
  // M (output channels) > mr, K > kc for the small blocking, pixels > nc.
  expectAllPass("cpu.conv", conv({2, 16, 20, 21}, {40, 16, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}));
}

TEST(CpuConvTactics, OffersNothingFor3DConvolutions) {
  ir::Graph g = conv({1, 2, 4, 4, 4}, {3, 2, 3, 3, 3}, false, {});
  for (const backend::TacticProvider* p : providers("cpu.conv"))
    EXPECT_TRUE(testing::checkProvider(*p, g, backend::cpuDevice(), testing::toleranceFor(DataType::kFLOAT)).empty())
        << p->name();
}

// ---- FusedConv -------------------------------------------------------------------------------

TEST(CpuConvTactics, FusedConvEveryEpilogue) {
  struct Case {
    Ints x, w;
    std::map<std::string, ir::AttributeValue> attrs;
  };
  const Case cases[] = {{{2, 4, 7, 9}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}},
                        {{1, 5, 6, 5}, {3, 5, 1, 1}, {}},  // pointwise: no im2col
                        {{2, 3, 17}, {4, 3, 3}, {{"strides", Ints{2}}}}};
  for (const Case& c : cases)
    for (const char* act : {"none", "relu", "clip", "silu", "hardswish", "sigmoid"})
      for (int extras = 0; extras < 4; ++extras) {
        const bool bias = extras & 1, residual = extras & 2;
        SCOPED_TRACE(toString(c.x) + " " + act + (bias ? " +bias" : "") + (residual ? " +residual" : ""));
        const ir::Graph plain = conv(c.x, c.w, false, c.attrs);
        std::vector<NodeInput> inputs = {in("X", c.x), in("W", c.w, true),
                                         bias ? in("B", {c.w[0]}, true) : NodeInput{}};
        if (residual) inputs.push_back(in("R", plain.tensors[plain.nodes[0].outputs[0]].shape));
        std::map<std::string, ir::AttributeValue> attrs = c.attrs;
        attrs["activation"] = std::string(act);
        if (std::string(act) == "clip") {
          attrs["min"] = -0.25f;
          attrs["max"] = 0.5f;
        }
        expectAllPass("cpu.conv", testing::makeNodeGraph("FusedConv", inputs, attrsOf(attrs)));
      }
}

// ---- FusedMatMul -----------------------------------------------------------------------------

TEST(CpuGemmTactics, OpenBlasFusedMatMulEveryEpilogue) {
  const backend::TacticProvider* blas = backend::findProvider("openblas");
  if (!blas) GTEST_SKIP() << "built without OpenBLAS";
  for (const char* act : {"none", "relu", "gelu_erf", "gelu_tanh"})
    for (int extras = 0; extras < 4; ++extras) {
      const bool bias = extras & 1, residual = extras & 2, trans_b = extras == 1;
      std::vector<NodeInput> inputs = {in("A", {2, 7, 33}), in("B", trans_b ? Ints{13, 33} : Ints{33, 13}, true),
                                       bias ? in("bias", {13}, true) : NodeInput{}};
      if (residual) inputs.push_back(in("R", {2, 7, 13}));
      const ir::Graph g = testing::makeNodeGraph(
          "FusedMatMul", inputs,
          attrsOf({{"trans_b", int64_t{trans_b}}, {"alpha", extras == 3 ? 0.5f : 1.0f}, {"activation", std::string(act)}}));
      const auto results = testing::checkProvider(*blas, g, backend::cpuDevice(), testing::toleranceFor(DataType::kFLOAT));
      EXPECT_EQ(results.size(), 1u) << act << " extras " << extras;
      for (const auto& r : results) EXPECT_TRUE(r.passed) << act << " extras " << extras << " " << r.name << ": " << r.message;
    }
}

TEST(CpuGemmTactics, OpenBlasFusedMatMulWritesFloat32FromFloat16AndBFloat16) {
  // A folded Cast: 16-bit inputs, output_type float32; odd sizes, a 3-D A, every epilogue input.
  const backend::TacticProvider* blas = backend::findProvider("openblas");
  if (!blas) GTEST_SKIP() << "built without OpenBLAS";
  for (DataType t : {DataType::kHALF, DataType::kBF16})
    for (int extras = 0; extras < 4; ++extras) {
      const bool bias = extras & 1, residual = extras & 2, trans_b = extras == 1;
      auto typed = [t](NodeInput n) {
        n.type = t;
        return n;
      };
      std::vector<NodeInput> inputs = {typed(in("A", {2, 7, 33})),
                                       typed(in("B", trans_b ? Ints{13, 33} : Ints{33, 13}, true)),
                                       bias ? typed(in("bias", {13}, true)) : NodeInput{}};
      if (residual) inputs.push_back(typed(in("R", {2, 7, 13})));
      const ir::Graph g = testing::makeNodeGraph("FusedMatMul", inputs,
                                                 attrsOf({{"trans_b", int64_t{trans_b}},
                                                          {"alpha", extras == 3 ? 0.5f : 1.0f},
                                                          {"activation", std::string("gelu_erf")},
                                                          {"output_type", int64_t{1}}}));
      ASSERT_EQ(g.tensors[g.nodes[0].outputs[0]].type, DataType::kFLOAT);
      const auto results =
          testing::checkProvider(*blas, g, backend::cpuDevice(), testing::toleranceFor(DataType::kFLOAT));
      EXPECT_EQ(results.size(), 1u) << toString(t) << " extras " << extras;
      for (const auto& r : results)
        EXPECT_TRUE(r.passed) << toString(t) << " extras " << extras << " " << r.name << ": " << r.message;
    }
  // A 16-bit Y from float32 inputs (no folded Cast makes one): not offered.
  const ir::Graph narrowing = testing::makeNodeGraph("FusedMatMul", {in("A", {7, 33}), in("B", {33, 13}, true)},
                                                     attrsOf({{"output_type", int64_t{10}}}));
  EXPECT_TRUE(
      testing::checkProvider(*blas, narrowing, backend::cpuDevice(), testing::toleranceFor(DataType::kHALF)).empty());
}

// ---- refit and the workspace contract ----------------------------------------------------------

backend::LayerView viewOf(const ir::Graph& g) {
  const ir::Node& node = g.nodes.at(0);
  backend::LayerView layer{.node = &node, .opset = g.opset};
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      layer.inputs.push_back({.present = false});
      layer.constants.push_back(nullptr);
      layer.host_values.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = g.tensors[id];
    layer.inputs.push_back({t.type, t.shape, true});
    layer.constants.push_back(t.value.get());
    layer.host_values.push_back(nullptr);
  }
  for (int id : node.outputs) layer.outputs.push_back({g.tensors[id].type, g.tensors[id].shape, true});
  return layer;
}

//! Runs `kernel` on host memory (the CPU device's memory is host memory).
ir::Tensor runOnce(backend::Kernel& kernel, const backend::LayerView& layer, const ir::Graph& g,
                   const std::map<std::string, ir::Tensor>& feeds) {
  const ir::Node& node = g.nodes.at(0);
  std::vector<const void*> ins;
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      ins.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = g.tensors[id];
    ins.push_back(t.value ? t.value->raw() : feeds.at(t.name).raw());
  }
  ir::Tensor out(layer.outputs[0].type, layer.outputs[0].shape);
  std::vector<void*> outs = {out.raw()};
  kernel.reshape(layer);
  std::vector<std::byte> workspace(kernel.workspaceSize(layer));
  kernel.run(backend::RunArgs{.layer = &layer, .inputs = ins, .outputs = outs,
                              .workspace = workspace.empty() ? nullptr : workspace.data(),
                              .workspace_size = workspace.size()});
  return out;
}

//! Instantiates every candidate of `provider` on `graph`, then swaps in new values for the
//! constant input `weight` and refits: results must follow the new weights.
void expectRefitRepacks(const char* provider_name, ir::Graph graph, const std::string& weight) {
  const backend::TacticProvider* provider = backend::findProvider(provider_name);
  ASSERT_NE(provider, nullptr);
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 7;
  for (int id : graph.inputs)
    feeds[graph.tensors[id].name] = testing::randomTensor(graph.tensors[id].type, graph.tensors[id].shape, seed++);
  const int wid = graph.tensorId(weight);
  const backend::LayerView before = viewOf(graph);
  const std::string out_name = graph.tensors[graph.nodes[0].outputs[0]].name;
  const ir::Tensor expected_before = cpu::runReference(graph, feeds).at(out_name);

  ir::Graph refitted = graph;
  refitted.tensors[wid].value = std::make_shared<const ir::Tensor>(
      testing::randomTensor(graph.tensors[wid].type, graph.tensors[wid].shape, 4242, -2.0, 2.0));
  const backend::LayerView after = viewOf(refitted);
  const ir::Tensor expected_after = cpu::runReference(refitted, feeds).at(out_name);
  ASSERT_FALSE(testing::compareTensors(expected_before, expected_after, {}).empty()) << "new weights changed nothing";

  const auto configs = provider->candidates(before, before, before, {});
  ASSERT_FALSE(configs.empty());
  const testing::Tolerance tol = testing::toleranceFor(DataType::kFLOAT);
  for (const backend::TacticConfig& config : configs) {
    SCOPED_TRACE(config.name);
    std::unique_ptr<backend::Kernel> kernel = provider->instantiate(before, config, backend::cpuDevice());
    EXPECT_EQ(testing::compareTensors(expected_before, runOnce(*kernel, before, graph, feeds), tol), "");
    ASSERT_TRUE(kernel->refit(after));
    EXPECT_EQ(testing::compareTensors(expected_after, runOnce(*kernel, after, refitted, feeds), tol), "");
  }
}

TEST(CpuTacticsRefit, MatMulRepacksConstantB) {
  expectRefitRepacks("cpu.gemm", matmul({5, 17, 33}, {33, 19}, true), "B");
  expectRefitRepacks("cpu.gemm", matmul({2, 5, 9}, {2, 9, 7}, true), "B");
}

TEST(CpuTacticsRefit, GemmRepacksConstantAWithAlpha) {
  expectRefitRepacks("cpu.gemm", gemm({33, 17}, {33, 19}, Ints{19}, 1, 0, 0.5f, 2.0f, false, true), "A");
  expectRefitRepacks("cpu.gemm", gemm({17, 33}, {19, 33}, Ints{17, 19}, 0, 1, 1.5f, 1.0f, true), "B");
}

TEST(CpuTacticsRefit, ConvRepacksWeights) {
  expectRefitRepacks("cpu.conv", conv({1, 4, 7, 9}, {6, 2, 3, 3}, true, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}),
                     "W");
  expectRefitRepacks("cpu.conv", conv({1, 4, 7, 9}, {6, 4, 1, 1}, false, {}), "W");
  if (backend::findProvider("openblas"))
    expectRefitRepacks("openblas", conv({1, 4, 7, 9}, {6, 4, 3, 3}, true, {}), "W");
}

TEST(CpuTacticsWorkspace, ConfigCoversEveryShapeUpToMax) {
  // Same layer at a min and a max shape (dynamic batch and spatial dims).
  ir::Graph small = conv({1, 3, 8, 6}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}});
  ir::Graph large = conv({3, 3, 17, 19}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}});
  ir::Graph small_mm = matmul({1, 5, 33}, {33, 19});
  ir::Graph large_mm = matmul({6, 40, 33}, {33, 19});
  for (auto [own, lo, hi] : {std::tuple{"cpu.conv", &small, &large}, std::tuple{"cpu.gemm", &small_mm, &large_mm}}) {
    for (const backend::TacticProvider* p : providers(own)) {
      const backend::LayerView min = viewOf(*lo), max = viewOf(*hi);
      const auto configs = p->candidates(min, max, max, {});
      ASSERT_FALSE(configs.empty()) << p->name();
      for (const backend::TacticConfig& config : configs) {
        auto kernel = p->instantiate(max, config, backend::cpuDevice());
        EXPECT_LE(kernel->workspaceSize(min), config.workspace) << config.name;
        EXPECT_LE(kernel->workspaceSize(max), config.workspace) << config.name;
      }
      backend::BuildOptions tight;
      tight.workspace_limit = 0;
      for (const backend::TacticConfig& config : p->candidates(min, max, max, tight))
        EXPECT_EQ(config.workspace, 0u) << config.name << " exceeds a zero workspace limit";
    }
  }
}

}  // namespace
}  // namespace kiln
