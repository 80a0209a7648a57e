// The fuse_attention pass on graphs in the forms torch.onnx writes: fires (one FusedAttention
// layer, head transposes folded into layouts), equals the unfused graph on the CPU oracle
// (float32, 1e-5), and must not fire where a step's result is needed elsewhere, kept as a
// debug tensor, scaled by a non-constant, or the softmax runs along another axis.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <set>

#include "backends/cpu/reference.h"
#include "kiln/onnx.h"
#include "passes/fuse_attention.h"
#include "passes/shape_inference.h"
#include "runtime/network_impl.h"
#include "support/models.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using Ints = std::vector<int64_t>;
using Tensors = std::map<std::string, ir::Tensor>;

//! Builds a graph node by node; shapes come from shape inference at the end.
class GraphBuilder {
 public:
  explicit GraphBuilder(int opset = 18) { g_.opset = opset; }

  int input(const std::string& name, ir::Shape shape, DataType type = DataType::kFLOAT) {
    const int id = g_.tensorId(name);
    g_.tensors[id].type = type;
    g_.tensors[id].shape = std::move(shape);
    g_.tensors[id].rank_known = true;
    g_.inputs.push_back(id);
    inputs_[name] = {type, g_.tensors[id].shape};
    return id;
  }
  int constant(const std::string& name, ir::Tensor value) { return g_.addConstant(name, std::move(value)); }
  int scalar(const std::string& name, double v) {
    return constant(name, ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{v}));
  }
  int ints(const std::string& name, Ints v) {
    return constant(name, ir::Tensor::fromInt64({static_cast<int64_t>(v.size())}, v));
  }

  int node(const std::string& op, std::vector<int> inputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.name = op + "_" + std::to_string(g_.nodes.size());
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {g_.addTensor(n.name + "_out")};
    attrs.owner = n.describe();
    n.attrs = std::move(attrs);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back().outputs[0];
  }
  int transpose(int x, Ints perm) {
    ir::Attributes a;
    a.set("perm", perm);
    return node("Transpose", {x}, a);
  }
  int reshape(int x, Ints shape) { return node("Reshape", {x, ints("shape", shape)}); }
  int softmax(int x, int64_t axis = -1) {
    ir::Attributes a;
    a.set("axis", axis);
    return node("Softmax", {x}, a);
  }
  int64_t symbol(const std::string& name) { return g_.symbolDim(name); }
  const std::string& name(int id) const { return g_.tensors[id].name; }

  ir::Graph finish(std::vector<int> outputs) {
    g_.outputs = std::move(outputs);
    passes::inferShapes(g_, passes::InferenceOptions{.fold_constants = false});
    return g_;
  }
  //! Random values for every graph input (masks in [-2, 0], bools random).
  Tensors feeds(uint32_t seed) const {
    Tensors t;
    for (const auto& [name, spec] : inputs_) {
      ir::Shape shape = spec.second;
      for (int64_t& d : shape)
        if (d < 0) d = 2;  // symbolic batch
      t[name] = testing::randomTensor(spec.first, shape, seed++, name.find("mask") != std::string::npos ? -2.0 : -1.0,
                                      name.find("mask") != std::string::npos ? 0.0 : 1.0);
    }
    return t;
  }

 private:
  ir::Graph g_;
  std::map<std::string, std::pair<DataType, ir::Shape>> inputs_;
};

struct Dims {
  int64_t b = 2, s = 7, h = 3, d = 8;
  int64_t kv = -1;  // key length; s when < 0
  int64_t keys() const { return kv < 0 ? s : kv; }
};

//! The dynamo form of one attention block over projections [B,S,H*D] (reshape targets
//! constant); returns the output [B,S,H*D]. `guard` adds Where(IsNaN(P), 0, P).
struct DynamoBlock {
  int q_proj, k_proj, v_proj, mask, scores, probs, out;
};
DynamoBlock dynamoBlock(GraphBuilder& gb, const Dims& d, bool guard, bool with_mask = true) {
  DynamoBlock blk{};
  blk.q_proj = gb.input("q_proj", {d.b, d.s, d.h * d.d});
  blk.k_proj = gb.input("k_proj", {d.b, d.keys(), d.h * d.d});
  blk.v_proj = gb.input("v_proj", {d.b, d.keys(), d.h * d.d});
  auto heads = [&](int x, int64_t len) { return gb.transpose(gb.reshape(x, {d.b, len, d.h, d.d}), {0, 2, 1, 3}); };
  const int q = heads(blk.q_proj, d.s), k = heads(blk.k_proj, d.keys()), v = heads(blk.v_proj, d.keys());
  const int flat = gb.reshape(k, {-1, d.keys(), d.d});
  const int kt = gb.reshape(gb.transpose(flat, {0, 2, 1}), {d.b, d.h, d.d, d.keys()});
  const int c = gb.scalar("c", std::sqrt(1.0 / std::sqrt(static_cast<double>(d.d))));
  blk.scores = gb.node("MatMul", {gb.node("Mul", {q, c}), gb.node("Mul", {kt, c})});
  int x = blk.scores;
  if (with_mask) {
    // The mask as the exporter writes it: Where(bool, 0, -inf) over a bool [B,1,S,Skv].
    blk.mask = gb.input("mask_bool", {d.b, 1, d.s, d.keys()}, DataType::kBOOL);
    const int additive = gb.node(
        "Where", {blk.mask, gb.scalar("zero", 0.0), gb.scalar("ninf", -std::numeric_limits<double>::infinity())});
    x = gb.node("Add", {x, additive});
  }
  blk.probs = gb.softmax(x);
  int p = blk.probs;
  if (guard) p = gb.node("Where", {gb.node("IsNaN", {p}), gb.scalar("zero", 0.0), p});
  const int o = gb.node("MatMul", {p, v});
  blk.out = gb.reshape(gb.transpose(o, {0, 2, 1, 3}), {d.b, d.s, d.h * d.d});
  return blk;
}

int countOp(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}
const ir::Node* fusedNode(const ir::Graph& g) {
  for (const ir::Node& node : g.nodes)
    if (node.op == "FusedAttention") return &node;
  return nullptr;
}

//! Every output of the fused graph equals the original's (float32, 1e-5 relative + absolute).
void expectSameOutputs(const ir::Graph& original, const ir::Graph& fused, const Tensors& feeds) {
  const Tensors want = cpu::runReference(original, feeds), got = cpu::runReference(fused, feeds);
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    ASSERT_EQ(got.at(name).shape(), w.shape()) << name;
    const std::vector<double> a = w.toDouble(), b = got.at(name).toDouble();
    double largest = 0;
    for (double x : a) largest = std::max(largest, std::abs(x));
    EXPECT_GT(largest, 0.0) << name << ": all zero, the comparison proves nothing";
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i]) && std::isnan(b[i])) continue;  // a fully masked row, unguarded
      ASSERT_NEAR(b[i], a[i], 1e-5 * (1 + std::abs(a[i]))) << name << " element " << i;
    }
  }
}

TEST(FuseAttention, DynamoFormBecomesOneLayerWithEveryTransposeFolded) {
  for (const Dims& d : {Dims{}, Dims{.b = 1, .s = 13, .h = 2, .d = 64}}) {
    for (bool guard : {true, false}) {
      GraphBuilder gb;
      const DynamoBlock blk = dynamoBlock(gb, d, guard);
      const ir::Graph original = gb.finish({blk.out});
      ir::Graph g = original;
      ASSERT_EQ(passes::fuseAttention(g, {}), 1);
      ASSERT_EQ(countOp(g, "FusedAttention"), 1);
      EXPECT_EQ(countOp(g, "Transpose"), 0);
      const ir::Node* f = fusedNode(g);
      EXPECT_EQ(f->domain, "kiln");
      EXPECT_EQ(countOp(g, "Softmax"), 0);
      EXPECT_EQ(countOp(g, "MatMul"), 0);
      EXPECT_EQ(f->attrs.s("q_layout"), "bshd");
      EXPECT_EQ(f->attrs.s("v_layout"), "bshd");
      EXPECT_EQ(f->attrs.s("k_layout"), "bshd");  // the K dance's input, its head transpose folded too
      EXPECT_EQ(f->attrs.s("out_layout"), "bshd");
      EXPECT_EQ(f->attrs.i("zero_masked_rows"), guard ? 1 : 0);
      EXPECT_NEAR(f->attrs.f("scale"), 1.0 / std::sqrt(static_cast<double>(d.d)), 1e-6);
      expectSameOutputs(original, g, gb.feeds(11));
    }
  }
}

TEST(FuseAttention, EagerFormWithDivMulAndEveryKeyTranspose) {
  for (int variant = 0; variant < 3; ++variant) {
    const Dims d{.b = 2, .s = 5, .h = 3, .d = 8, .kv = 13};  // cross-attention: Sq != Skv
    GraphBuilder gb(17);
    const int q_in = gb.input("q", {d.b, d.s, d.h, d.d});
    const int k_in = gb.input("k", {d.b, d.keys(), d.h, d.d});
    const int v_in = gb.input("v", {d.b, d.keys(), d.h, d.d});
    const int q = gb.transpose(q_in, {0, 2, 1, 3}), v = gb.transpose(v_in, {0, 2, 1, 3});
    // variant 0: Transpose(Transpose(K, 0213), 0132); 1 and 2: Transpose(K, 0231).
    const int kt =
        variant == 0 ? gb.transpose(gb.transpose(k_in, {0, 2, 1, 3}), {0, 1, 3, 2}) : gb.transpose(k_in, {0, 2, 3, 1});
    int s = gb.node("MatMul", {q, kt});
    s = variant == 1 ? gb.node("Mul", {gb.scalar("inv", 1.0 / std::sqrt(8.0)), s})
                     : gb.node("Div", {s, gb.scalar("sqrt_d", std::sqrt(8.0))});
    if (variant != 2) s = gb.node("Add", {gb.input("mask", {d.b, 1, 1, d.keys()}), s});  // mask first: either side
    const int o = gb.transpose(gb.node("MatMul", {gb.softmax(s), v}), {0, 2, 1, 3});
    const ir::Graph original = gb.finish({o});
    ir::Graph g = original;
    ASSERT_EQ(passes::fuseAttention(g, {}), 1) << "variant " << variant;
    ASSERT_EQ(g.nodes.size(), 1u) << "variant " << variant;
    const ir::Node* f = fusedNode(g);
    EXPECT_EQ(f->attrs.s("q_layout"), "bshd");
    EXPECT_EQ(f->attrs.s("k_layout"), "bshd");
    EXPECT_EQ(f->attrs.s("v_layout"), "bshd");
    EXPECT_EQ(f->attrs.s("out_layout"), "bshd");
    EXPECT_EQ(f->inputs[3] != ir::kAbsent, variant != 2);
    EXPECT_EQ(f->attrs.i("zero_masked_rows"), 0);
    expectSameOutputs(original, g, gb.feeds(3));
  }
}

TEST(FuseAttention, SymbolicBatchIsProvedBySymbolEquality) {
  GraphBuilder gb;
  const int64_t batch = gb.symbol("batch");
  const int q = gb.transpose(gb.input("q", {batch, 7, 2, 8}), {0, 2, 1, 3});
  const int k = gb.transpose(gb.input("k", {batch, 7, 2, 8}), {0, 2, 1, 3});
  const int v = gb.transpose(gb.input("v", {batch, 7, 2, 8}), {0, 2, 1, 3});
  const int s =
      gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), gb.scalar("sqrt_d", std::sqrt(8.0))});
  const int o = gb.node("MatMul", {gb.softmax(s), v});
  const ir::Graph original = gb.finish({o});
  ir::Graph g = original;
  ASSERT_EQ(passes::fuseAttention(g, {}), 1);
  EXPECT_EQ(fusedNode(g)->attrs.s("out_layout"), "bhsd");  // the output is a graph output: no transpose to fold
  expectSameOutputs(original, g, gb.feeds(5));

  // An unknown batch on V proves nothing: no fusion.
  GraphBuilder gu;
  const int qu = gu.input("q", {2, 2, 7, 8}), ku = gu.input("k", {2, 2, 7, 8}), vu = gu.input("v", {-1, 2, 7, 8});
  const int su = gu.node("Div", {gu.node("MatMul", {qu, gu.transpose(ku, {0, 1, 3, 2})}), gu.scalar("sqrt_d", 3.0)});
  ir::Graph gunk = gu.finish({gu.node("MatMul", {gu.softmax(su), vu})});
  EXPECT_EQ(passes::fuseAttention(gunk, {}), 0);
}

TEST(FuseAttention, MaskWithUnknownDimsIsProvedByTheAddOutput) {
  GraphBuilder gb;
  const int q = gb.input("q", {2, 3, 5, 8}), k = gb.input("k", {2, 3, 13, 8}), v = gb.input("v", {2, 3, 13, 8});
  const int mask = gb.input("mask", {2, -1, -1, 13});  // the Add's output [2,3,5,13] proves it broadcasts
  const int s = gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), gb.scalar("c", 2.0)});
  const ir::Graph original = gb.finish({gb.node("MatMul", {gb.softmax(gb.node("Add", {s, mask})), v})});
  ir::Graph g = original;
  ASSERT_EQ(passes::fuseAttention(g, {}), 1);
  for (const ir::Shape& shape : {ir::Shape{2, 1, 5, 13}, ir::Shape{2, 3, 1, 13}}) {
    Tensors feeds = gb.feeds(4);
    feeds["mask"] = testing::randomTensor(DataType::kFLOAT, shape, 9, -2.0, 0.0);
    expectSameOutputs(original, g, feeds);
  }
}

TEST(FuseAttention, TransposeReadElsewhereStaysAndTheLayerReadsItsOutput) {
  GraphBuilder gb;
  const Dims d;
  const int q = gb.transpose(gb.input("q", {d.b, d.s, d.h, d.d}), {0, 2, 1, 3});
  const int k = gb.input("k", {d.b, d.h, d.s, d.d});
  const int v = gb.input("v", {d.b, d.h, d.s, d.d});
  const int s = gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), gb.scalar("sqrt_d", 2.0)});
  const int o = gb.node("MatMul", {gb.softmax(s), v});
  const int q_twice = gb.node("Relu", {q});
  const ir::Graph original = gb.finish({o, q_twice});
  ir::Graph g = original;
  ASSERT_EQ(passes::fuseAttention(g, {}), 1);
  EXPECT_EQ(fusedNode(g)->attrs.s("q_layout"), "bhsd");
  EXPECT_EQ(countOp(g, "Transpose"), 1);
  expectSameOutputs(original, g, gb.feeds(8));
}

//! The dynamo block with one change that must stop the fusion.
void expectNoFusion(GraphBuilder& gb, const ir::Graph& original, const std::set<std::string>& keep, const char* why) {
  ir::Graph g = original;
  EXPECT_EQ(passes::fuseAttention(g, keep), 0) << why;
  EXPECT_EQ(g.nodes.size(), original.nodes.size()) << why;
  EXPECT_EQ(countOp(g, "FusedAttention"), 0) << why;
}

TEST(FuseAttention, MustNotFireWhereAStepIsNeededElsewhere) {
  const Dims d;
  {  // the scores are also a graph output
    GraphBuilder gb;
    const DynamoBlock blk = dynamoBlock(gb, d, true);
    expectNoFusion(gb, gb.finish({blk.out, blk.scores}), {}, "scores are a graph output");
  }
  {  // the scores are a debug tensor
    GraphBuilder gb;
    const DynamoBlock blk = dynamoBlock(gb, d, true);
    const ir::Graph g = gb.finish({blk.out});
    expectNoFusion(gb, g, {gb.name(blk.scores)}, "scores are kept");
  }
  {  // the probabilities are read twice
    GraphBuilder gb;
    const DynamoBlock blk = dynamoBlock(gb, d, false);
    const int twice = gb.node("Relu", {blk.probs});
    expectNoFusion(gb, gb.finish({blk.out, twice}), {}, "probabilities read twice");
  }
  {  // a non-constant scale
    GraphBuilder gb;
    const int q = gb.input("q", {d.b, d.h, d.s, d.d}), k = gb.input("k", {d.b, d.h, d.s, d.d}),
              v = gb.input("v", {d.b, d.h, d.s, d.d});
    const int scale = gb.input("scale", {});
    const int s = gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), scale});
    expectNoFusion(gb, gb.finish({gb.node("MatMul", {gb.softmax(s), v})}), {}, "non-constant scale");
  }
  {  // softmax along the query axis
    GraphBuilder gb;
    const int q = gb.input("q", {d.b, d.h, d.s, d.d}), k = gb.input("k", {d.b, d.h, d.s, d.d}),
              v = gb.input("v", {d.b, d.h, d.s, d.d});
    const int s = gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), gb.scalar("c", 2.0)});
    expectNoFusion(gb, gb.finish({gb.node("MatMul", {gb.softmax(s, 2), v})}), {}, "softmax on axis 2");
  }
  {  // K's batch broadcasts against Q's (1 vs 2): not the fused layer's semantics
    GraphBuilder gb;
    const int q = gb.input("q", {d.b, d.h, d.s, d.d}), k = gb.input("k", {1, d.h, d.s, d.d}),
              v = gb.input("v", {d.b, d.h, d.s, d.d});
    const int s = gb.node("Div", {gb.node("MatMul", {q, gb.transpose(k, {0, 1, 3, 2})}), gb.scalar("c", 2.0)});
    expectNoFusion(gb, gb.finish({gb.node("MatMul", {gb.softmax(s), v})}), {}, "K broadcast over the batch");
  }
}

// Through the public API: a CPU engine built at the default level runs one FusedAttention
// layer (the build report counts it) and agrees with the reference on the unfused network;
// level 0 fuses nothing.
TEST(FuseAttention, CpuEngineRunsTheFusedLayerAndMatchesTheOracle) {
  const Network network = testing::parseModel(testing::attentionModel(13, 3, 8));
  for (int level : {0, 3}) {
    BuilderConfig config = testing::cpuConfig();
    config.setOptimizationLevel(level);
    OptimizationProfile profile;
    for (const char* x : {"q", "k", "v"})
      profile.setDimensions(x, ProfileDims{{1, 13, 3, 8}, {2, 13, 3, 8}, {4, 13, 3, 8}});
    profile.setDimensions("mask", ProfileDims{{1, 1, 1, 13}, {2, 1, 1, 13}, {4, 1, 1, 13}});
    config.addOptimizationProfile(profile);
    std::string report;
    Engine engine = testing::buildEngine(network, config, &report);
    int changes = -1;
    const nlohmann::json parsed = nlohmann::json::parse(report);
    for (const auto& pass : parsed.at("passes"))
      if (pass.at("name") == "fuse_attention") changes = pass.at("changes").get<int>();
    EXPECT_EQ(changes, level ? 1 : 0) << "level " << level;
    const std::unique_ptr<ExecutionContext> ctx = engine.createExecutionContext();
    for (int64_t batch : {1, 3}) {
      Tensors in;
      uint32_t seed = 40;
      for (const char* x : {"q", "k", "v"}) in[x] = testing::randomInput({batch, 13, 3, 8}, seed++);
      in["mask"] = testing::randomInput({batch, 1, 1, 13}, seed++, -3.0f, 0.0f);
      const std::string diff =
          testing::compareOutputs(testing::reference(network, in), testing::runContext(engine, *ctx, in), 1e-5, 1e-6);
      EXPECT_EQ(diff, "") << "level " << level << ", batch " << batch;
    }
  }
}

// The exported models: whatever the pass fuses (until Reshape targets computed from Shape get
// symbolic dims, the attention blocks of these exports may keep unknown dims and not fuse),
// the outputs stay those of the unfused graph.
TEST(FuseAttention, ExportedModelsKeepTheirOutputs) {
  for (const char* model : {"bert_tiny_dynamo.onnx", "gpt2_tiny_dynamo.onnx"}) {
    const Network network = OnnxParser::parseFile(std::string(KILN_TEST_DATA_DIR) + "/models/" + model);
    const ir::Graph original = network.impl().graph;
    ir::Graph g = original;
    const int fused = passes::fuseAttention(g, {});
    EXPECT_EQ(countOp(g, "FusedAttention"), fused) << model;
    Tensors feeds;
    uint32_t seed = 21;
    for (int id : original.inputs) {
      const ir::TensorInfo& t = original.tensors[id];
      ir::Shape shape = t.shape;
      for (int64_t& d : shape)
        if (d < 0) d = 5;  // batch and sequence
      const bool mask = t.name.find("mask") != std::string::npos;
      ir::Tensor v = testing::randomTensor(t.type, shape, seed++, 0.0, mask ? 0.2 : 1.0);
      if (mask) {  // ones, with the last position of the first sequence padded
        std::vector<double> ones(static_cast<size_t>(v.numel()), 1.0);
        ones[4] = 0.0;
        v = ir::Tensor::fromDouble(t.type, shape, ones);
      }
      feeds[t.name] = v;
    }
    std::cout << model << ": " << fused << " attention blocks fused\n";
    expectSameOutputs(original, g, feeds);
  }
}

}  // namespace
}  // namespace kiln
