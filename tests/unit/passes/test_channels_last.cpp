// The channels-last step on graphs, on the CPU oracle. Fires: ResNet basic blocks in float16
// and bfloat16 (after BatchNorm folding and conv epilogue fusion) become NHWC FusedConv layers
// with one Transpose into the region and one out, W goes KRSC through the weight program, and
// the graph computes exactly what it did (the reference rounds each layer once either way) at
// several batches (11 x 9 pixels, 6 x 5 after the stride). A single convolution between its
// two Transposes (7 x 9 pixels) fires only when the region rule is off. A stride-2 stem of at
// most 4 channels becomes a stride-1 convolution on the 16-channel space-to-depth of its padded
// input (7x7, 3x3, asymmetric pads, 1 to 4 channels, ResNet-50's 224 x 224 geometry), equal to
// the original, its weight program replayed on new weights (refit) equal too, and a dynamic
// batch resolves; other stems (stride 1, dilation, 5 channels, a padding that would crop X, the
// option off) are padded to 8 channels, and a MaxPool joins the region as NhwcMaxPool. MobileNetV2-like inverted
// residual blocks (1x1 expand, 3x3 depthwise, 1x1 project, the residual fused as R) become one
// region with two Transposes. Must not fire: a float32 graph, a region too small for its edges
// (one convolution between two Transposes), channel counts that are not multiples of 8 (12),
// grouped convolutions other than depthwise ones, depthwise ones of 12 channels or when the
// option is off (the builder's fallback), host layers.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "backends/cpu/reference.h"
#include "passes/channels_last.h"
#include "passes/fold_batchnorm.h"
#include "passes/fuse_conv_epilogue.h"
#include "passes/pipeline.h"
#include "passes/precision.h"
#include "passes/shape_inference.h"
#include "runtime/network_impl.h"
#include "runtime/shape_resolver.h"
#include "support/graph_writer.h"
#include "support/models.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using Ints = std::vector<int64_t>;
using testing::GraphWriter;

//! `g` after the passes a build runs before this step: folding, fusion, then every node in
//! `type` (float32 leaves it as it is).
ir::Graph prepared(ir::Graph g, DataType type) {
  const std::set<std::string> keep;
  passes::foldBatchNormIntoConv(g, keep);
  passes::fuseConvEpilogue(g, keep);
  std::vector<bool> host(g.nodes.size(), false);
  if (type != DataType::kFLOAT) passes::convertFloatPrecision(g, std::vector<DataType>(g.nodes.size(), type), host);
  return g;
}

int count(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op ? 1 : 0;
  return n;
}

int nhwcLayers(const ir::Graph& g) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == "FusedConv" && node.attrs.s("layout", "NCHW") == "NHWC";
  return n;
}

//! Both graphs on the reference at `shape` (x's), outputs equal to `tolerance`.
void expectSameOutputs(const ir::Graph& before, const ir::Graph& after, const Ints& shape, double tolerance = 0) {
  const std::map<std::string, ir::Tensor> feeds = {{"x", testing::randomInput(shape, 7 + shape[2])}};
  const auto expected = cpu::runReference(before, feeds);
  const auto actual = cpu::runReference(after, feeds);
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, value] : expected)
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = tolerance, .atol = tolerance}), "")
        << name << " at " << toString(shape);
}

TEST(ChannelsLast, ResNetBasicBlocksBecomeOneNhwcRegion) {
  const ir::Graph original = testing::parseModel(testing::basicBlocksModel(4)).impl().graph;
  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    SCOPED_TRACE(toString(type));
    const ir::Graph before = prepared(original, type);
    // Five FusedConv and the Conv whose result is another's residual (it becomes a FusedConv).
    ASSERT_EQ(count(before, "FusedConv"), 5) << passes::graphText(before);
    ASSERT_EQ(count(before, "Conv"), 1);
    ir::Graph after = before;
    std::vector<bool> host(after.nodes.size(), false);
    const size_t program = after.weight_program.size();
    const passes::ChannelsLastResult r = passes::convertToChannelsLast(after, host, {});
    EXPECT_EQ(r.convolutions, 6);
    EXPECT_EQ(r.transposes, 2);  // x into the region, the last block's result out of it
    EXPECT_EQ(nhwcLayers(after), 6);
    EXPECT_EQ(count(after, "Transpose"), 2);
    EXPECT_EQ(host.size(), after.nodes.size());
    // Each W is the model's weight, cast and transposed to KRSC by the weight program.
    EXPECT_EQ(after.weight_program.size(), program + 6);
    for (const ir::Node& n : after.nodes) {
      if (n.op != "FusedConv") continue;
      const ir::TensorInfo& x = after.tensors[n.inputs[0]];
      const ir::TensorInfo& w = after.tensors[n.inputs[1]];
      ASSERT_TRUE(w.value) << n.name;
      EXPECT_EQ(w.shape[3], x.shape[3]) << n.name << ": W is [K, R, S, C]";
    }
    for (const Ints& shape : {Ints{1, 16, 11, 9}, Ints{2, 16, 11, 9}, Ints{5, 16, 11, 9}})
      expectSameOutputs(before, after, shape);
  }
}

TEST(ChannelsLast, DoesNotFireOnFloat32OrASmallRegion) {
  const ir::Graph original = testing::parseModel(testing::basicBlocksModel(5)).impl().graph;
  ir::Graph fp32 = prepared(original, DataType::kFLOAT);
  std::vector<bool> host(fp32.nodes.size(), false);
  const size_t nodes = fp32.nodes.size();
  EXPECT_EQ(passes::convertToChannelsLast(fp32, host, {}).convolutions, 0);
  EXPECT_EQ(fp32.nodes.size(), nodes);

  // One convolution with a Transpose on each side: not worth it at 2 per edge; at 0 it fires.
  GraphWriter w;
  const int x = w.input("x", {2, 16, 7, 9});
  const int y = w.node("Conv", {x, w.weight("W", {16, 16, 3, 3}), w.weight("B", {16})}, [] {
    ir::Attributes a;
    a.set("pads", Ints{1, 1, 1, 1});
    return a;
  }());
  const ir::Graph single = prepared(w.finish({w.node("Relu", {y})}), DataType::kHALF);
  ir::Graph g = single;
  host.assign(g.nodes.size(), false);
  EXPECT_EQ(passes::convertToChannelsLast(g, host, {}).convolutions, 0);
  host.assign(g.nodes.size(), false);
  const passes::ChannelsLastResult forced = passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0});
  EXPECT_EQ(forced.convolutions, 1);
  EXPECT_EQ(forced.transposes, 2);
  expectSameOutputs(single, g, {2, 16, 7, 9});
}

TEST(ChannelsLast, LeavesStemsGroupsAndHostLayersInNchw) {
  auto chain = [](int64_t channels, int64_t group) {
    GraphWriter w;
    int t = w.input("x", {1, channels, 6, 6});
    for (int i = 0; i < 3; ++i) {
      ir::Attributes a;
      a.set("pads", Ints{1, 1, 1, 1});
      a.set("group", group);
      t = w.node("Relu", {w.node("Conv",
                                 {t, w.weight("W" + std::to_string(i), {channels, channels / group, 3, 3}),
                                  w.weight("B" + std::to_string(i), {channels})},
                                 a)});
    }
    return prepared(w.finish({t}), DataType::kHALF);
  };
  // 12 input channels (not a multiple of 8, not a stem), groups, depthwise over 12 channels.
  for (auto [channels, group] : std::vector<std::pair<int64_t, int64_t>>{{12, 1}, {16, 2}, {12, 12}}) {
    ir::Graph g = chain(channels, group);
    std::vector<bool> host(g.nodes.size(), false);
    EXPECT_EQ(passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0}).convolutions, 0)
        << channels << " / " << group;
  }
  // Depthwise over 16 channels converts, unless the option leaves depthwise convolutions out.
  {
    const ir::Graph before = chain(16, 16);
    ir::Graph g = before;
    std::vector<bool> host(g.nodes.size(), false);
    EXPECT_EQ(passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0, .depthwise = false}).convolutions,
              0);
    const passes::ChannelsLastResult r = passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0});
    EXPECT_EQ(r.convolutions, 3);
    EXPECT_EQ(r.depthwise, 3);
    EXPECT_EQ(r.transposes, 2);
    expectSameOutputs(before, g, {1, 16, 6, 6});
  }
  ir::Graph g = chain(16, 1);
  std::vector<bool> host(g.nodes.size(), true);
  EXPECT_EQ(passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0}).convolutions, 0);
  host.assign(g.nodes.size(), false);
  EXPECT_EQ(passes::convertToChannelsLast(g, host, {}, {.min_convs_per_edge = 0}).convolutions, 3);
}

// ResNet's entry: a 3-channel 7x7 stride-2 stem, Relu, a 3x3 stride-2 MaxPool, then a basic
// block whose residual is the pool's output. Without space-to-depth the stem's input and W are
// padded to 8 channels (a Pad after the Transpose in, one in the weight program), the pool
// becomes NhwcMaxPool, and the graph computes exactly what it did.
TEST(ChannelsLast, AStemIsPaddedToEightChannelsAndTheMaxPoolJoinsTheRegion) {
  auto attrs = [](const std::map<std::string, ir::AttributeValue>& values) {
    ir::Attributes a;
    for (const auto& [k, v] : values) a.set(k, v);
    return a;
  };
  GraphWriter w;
  const int x = w.input("x", {2, 3, 13, 11});
  const int stem = w.node("Relu", {w.node("Conv", {x, w.weight("W0", {16, 3, 7, 7}), w.weight("B0", {16})},
                                          attrs({{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}}))});
  const int pool = w.node("MaxPool", {stem},
                          attrs({{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}));
  const ir::Attributes same = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const int c1 = w.node("Relu", {w.node("Conv", {pool, w.weight("W1", {16, 16, 3, 3}), w.weight("B1", {16})}, same)});
  const int c2 = w.node("Conv", {c1, w.weight("W2", {16, 16, 3, 3}), w.weight("B2", {16})}, same);
  const ir::Graph before = prepared(w.finish({w.node("Relu", {w.node("Add", {c2, pool})})}), DataType::kHALF);
  ASSERT_EQ(count(before, "FusedConv"), 3) << passes::graphText(before);
  ir::Graph after = before;
  std::vector<bool> host(after.nodes.size(), false);
  // Three convolutions, two edges: below the default rule of 2 per edge.
  EXPECT_EQ(passes::convertToChannelsLast(after, host, {}).convolutions, 0);
  const passes::ChannelsLastResult r =
      passes::convertToChannelsLast(after, host, {}, {.min_convs_per_edge = 1, .space_to_depth_stems = false});
  EXPECT_EQ(r.convolutions, 3);
  EXPECT_EQ(r.space_to_depth_stems, 0);
  EXPECT_EQ(r.pools, 1);
  EXPECT_EQ(r.transposes, 2);
  EXPECT_EQ(count(after, "Pad"), 1);
  EXPECT_EQ(count(after, "NhwcMaxPool"), 1);
  EXPECT_EQ(count(after, "MaxPool"), 0);
  // Without stems and pools (the builder's choice for now) only the block converts; the
  // region is then the two 3x3 convolutions, its edges the pool's output and the result.
  {
    ir::Graph g = before;
    std::vector<bool> h(g.nodes.size(), false);
    const passes::ChannelsLastResult without =
        passes::convertToChannelsLast(g, h, {}, {.min_convs_per_edge = 1, .stems_and_pools = false});
    EXPECT_EQ(without.convolutions, 2);
    EXPECT_EQ(without.pools, 0);
    EXPECT_EQ(count(g, "Pad"), 0);
    expectSameOutputs(before, g, {2, 3, 13, 11});
  }
  for (const ir::Node& n : after.nodes)
    if (n.op == "FusedConv") {
      EXPECT_EQ(after.tensors[n.inputs[0]].shape[3] % 8, 0) << n.name;
      EXPECT_EQ(after.tensors[n.inputs[1]].shape[3], after.tensors[n.inputs[0]].shape[3]) << n.name;
    }
  expectSameOutputs(before, after, {2, 3, 13, 11});
}

using AttrMap = std::map<std::string, ir::AttributeValue>;

ir::Attributes attributes(const AttrMap& values) {
  ir::Attributes a;
  for (const auto& [k, v] : values) a.set(k, v);
  return a;
}

//! A stem alone: x [N, C, H, W] -> Conv (W [K, C, R, S], B, `a`) -> Relu, in `type` after the
//! build's earlier passes (one FusedConv with bias and relu). `batch`, when set, replaces N in
//! the graph's input (a symbol: a dynamic batch).
ir::Graph stemGraph(const Ints& x, const Ints& w, const AttrMap& a, DataType type = DataType::kHALF,
                    std::optional<int64_t> batch = std::nullopt) {
  GraphWriter gw;
  Ints in = x;
  if (batch) in[0] = *batch;
  const int xi = gw.input("x", in);
  const int y = gw.node("Relu", {gw.node("Conv", {xi, gw.weight("W", w), gw.weight("B", {w[0]})}, attributes(a))});
  ir::Graph g = gw.finish({y});
  return prepared(std::move(g), type);
}

//! The channels-last step on every region (stems alone are regions of one convolution).
passes::ChannelsLastResult convertAll(ir::Graph& g, passes::ChannelsLastOptions options = {.min_convs_per_edge = 0}) {
  std::vector<bool> host(g.nodes.size(), false);
  const passes::ChannelsLastResult r = passes::convertToChannelsLast(g, host, {}, options);
  EXPECT_EQ(host.size(), g.nodes.size());
  return r;
}

std::vector<std::string> ops(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const ir::Node& n : g.nodes) out.push_back(n.op);
  return out;
}

const ir::Node& onlyConvolution(const ir::Graph& g) {
  const ir::Node* found = nullptr;
  for (const ir::Node& n : g.nodes)
    if (n.op == "FusedConv" || n.op == "Conv") {
      EXPECT_EQ(found, nullptr) << passes::graphText(g);
      found = &n;
    }
  if (!found) throw std::runtime_error("no convolution in\n" + passes::graphText(g));
  return *found;
}

struct SpaceToDepthCase {
  const char* name;
  Ints x, w;  //!< X [N, C, H, W], W [K, C, R, S]
  AttrMap attrs;
  Ints blocks;  //!< the space-to-depth input's [Hp / 2, Wp / 2]
  bool pad;     //!< X needs a Pad (channels or spatial)
};

// Hp = 2 (OH + ceil(R / 2) - 1): OH = (23 + 6 - 7) / 2 + 1 = 12, Hp / 2 = 15 for the first.
const SpaceToDepthCase kSpaceToDepthCases[] = {
    {"7x7 s2 p3, 23 x 21",
     {1, 3, 23, 21},
     {16, 3, 7, 7},
     {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}},
     {15, 14},
     true},
    {"ResNet-50's stem, 224 x 224",
     {2, 3, 224, 224},
     {16, 3, 7, 7},
     {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}},
     {115, 115},
     true},
    {"3x3 s2 p1, 17 x 15",
     {2, 3, 17, 15},
     {16, 3, 3, 3},
     {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}},
     {10, 9},
     true},
    {"3x3 s2, end pads only, 16 x 16",
     {2, 3, 16, 16},
     {16, 3, 3, 3},
     {{"strides", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 1}}},
     {9, 9},
     true},
    {"3x3 s2 SAME_UPPER, 16 x 15",
     {1, 3, 16, 15},
     {16, 3, 3, 3},
     {{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}},
     {9, 9},
     true},
    {"5x5 s2 pads 2, 1, 0, 3, one channel, 13 x 12",
     {1, 1, 13, 12},
     {8, 1, 5, 5},
     {{"strides", Ints{2, 2}}, {"pads", Ints{2, 1, 0, 3}}},
     {8, 8},
     true},
    {"4x4 s2 p1, four channels, 10 x 10",
     {1, 4, 10, 10},
     {8, 4, 4, 4},
     {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}},
     {6, 6},
     true},
    {"2x2 s2, four channels, 8 x 8: no Pad", {3, 4, 8, 8}, {8, 4, 2, 2}, {{"strides", Ints{2, 2}}}, {4, 4}, false},
};

// A stride-2 stem of at most 4 channels becomes X -> Transpose (NHWC) -> [Pad] -> Reshape ->
// Transpose -> Reshape [N, Hp/2, Wp/2, 16] -> an NHWC FusedConv of kernel ceil(R/2) x ceil(S/2), stride 1, no pads,
// W [K, kh, kw, 16] from the weight program, bias and relu kept -> Transpose back, and the
// graph computes exactly what it did (the reference accumulates in double and rounds once; the
// added terms are zeros).
TEST(ChannelsLast, StrideTwoStemsBecomeStrideOneConvolutionsBySpaceToDepth) {
  for (const SpaceToDepthCase& c : kSpaceToDepthCases) {
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
      SCOPED_TRACE(std::string(c.name) + ", " + std::string(toString(type)));
      const ir::Graph before = stemGraph(c.x, c.w, c.attrs, type);
      ir::Graph after = before;
      const size_t program = after.weight_program.size();
      const passes::ChannelsLastResult r = convertAll(after);
      EXPECT_EQ(r.convolutions, 1);
      EXPECT_EQ(r.space_to_depth_stems, 1);
      EXPECT_EQ(r.transposes, 2);  // the space-to-depth conversion in, the result's out
      // The Casts are the precision step's (float32 input and output); the conversion in is
      // Transpose to NHWC, [Pad], Reshape, block Transpose, Reshape.
      std::vector<std::string> want = {"Cast",    "Transpose", "Reshape",   "Transpose",
                                       "Reshape", "FusedConv", "Transpose", "Cast"};
      if (c.pad) want.insert(want.begin() + 2, "Pad");
      EXPECT_EQ(ops(after), want) << passes::graphText(after);
      const ir::Node& conv = onlyConvolution(after);
      const int64_t kh = (c.w[2] + 1) / 2, kw = (c.w[3] + 1) / 2;
      EXPECT_EQ(conv.attrs.s("layout", "NCHW"), "NHWC");
      EXPECT_EQ(conv.attrs.s("activation", "none"), "relu");
      EXPECT_EQ(conv.attrs.ints("kernel_shape", {}), (Ints{kh, kw}));
      EXPECT_EQ(conv.attrs.ints("strides", {}), (Ints{1, 1}));
      EXPECT_EQ(conv.attrs.ints("pads", {}), (Ints{0, 0, 0, 0}));
      EXPECT_FALSE(conv.attrs.has("auto_pad"));
      ASSERT_GE(conv.inputs.size(), 3u);
      EXPECT_EQ(after.tensors[conv.inputs[0]].shape, (ir::Shape{c.x[0], c.blocks[0], c.blocks[1], 16}));
      const ir::TensorInfo& w = after.tensors[conv.inputs[1]];
      ASSERT_TRUE(w.value);
      EXPECT_EQ(w.shape, (ir::Shape{c.w[0], kh, kw, 16}));
      EXPECT_EQ(after.weight_program.size(), program + 4);  // Pad, Reshape, Transpose, Reshape
      for (const ir::Node& n : after.nodes) EXPECT_EQ(n.name.find("nhwc_pad"), std::string::npos) << n.name;
      expectSameOutputs(before, after, c.x);
    }
  }
}

// Refit replays the weight program from the model's OIHW weights: new W and B, replayed in
// both graphs, give equal results again (and different ones from the old weights).
TEST(ChannelsLast, ASpaceToDepthStemsWeightProgramReplaysNewWeights) {
  const SpaceToDepthCase& c = kSpaceToDepthCases[0];
  const ir::Graph before = stemGraph(c.x, c.w, c.attrs);
  ir::Graph after = before;
  ASSERT_EQ(convertAll(after).space_to_depth_stems, 1);
  const std::map<std::string, ir::Tensor> feeds = {{"x", testing::randomInput(c.x, 5)}};
  const auto old_result = cpu::runReference(after, feeds);
  auto refit = [&](ir::Graph g) {
    for (const auto& [name, shape] : std::map<std::string, Ints>{{"W", c.w}, {"B", {c.w[0]}}}) {
      const int id = g.find(name);
      EXPECT_TRUE(id >= 0 && g.tensors[id].is_initializer) << name;
      g.tensors[id].value = std::make_shared<const ir::Tensor>(testing::randomTensor(DataType::kFLOAT, shape, 99));
    }
    for (const ir::Node& n : g.weight_program) cpu::evaluateNode(n, g.tensors, g.opset);
    return g;
  };
  const ir::Graph refit_before = refit(before), refit_after = refit(after);
  const auto expected = cpu::runReference(refit_before, feeds);
  const auto actual = cpu::runReference(refit_after, feeds);
  ASSERT_EQ(expected.size(), 1u);
  for (const auto& [name, value] : expected) {
    EXPECT_EQ(testing::compareTensors(value, actual.at(name), {.rtol = 0, .atol = 0}), "") << name;
    EXPECT_NE(testing::compareTensors(old_result.at(name), actual.at(name), {.rtol = 0, .atol = 0}), "") << name;
  }
}

// Stems space-to-depth does not take keep the 8-channel padding: stride 1, dilation 2,
// 5 channels, a 4x4 kernel whose padded input would crop X (OH = 3, Hp = 8 < 9 rows), and any
// stem when the option is off.
TEST(ChannelsLast, OtherStemsArePaddedToEightChannels) {
  struct Case {
    const char* name;
    Ints x, w;
    AttrMap attrs;
    passes::ChannelsLastOptions options = {.min_convs_per_edge = 0};
  };
  const std::vector<Case> cases = {
      {"stride 1", {1, 3, 9, 9}, {16, 3, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
      {"dilation 2",
       {1, 3, 15, 15},
       {16, 3, 3, 3},
       {{"strides", Ints{2, 2}}, {"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}},
      {"5 channels", {1, 5, 15, 15}, {16, 5, 7, 7}, {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}}},
      {"would crop X", {1, 3, 9, 9}, {16, 3, 4, 4}, {{"strides", Ints{2, 2}}}},
      {"option off",
       {1, 3, 23, 21},
       {16, 3, 7, 7},
       {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}},
       {.min_convs_per_edge = 0, .space_to_depth_stems = false}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ir::Graph before = stemGraph(c.x, c.w, c.attrs);
    ir::Graph after = before;
    const passes::ChannelsLastResult r = convertAll(after, c.options);
    EXPECT_EQ(r.convolutions, 1);
    EXPECT_EQ(r.space_to_depth_stems, 0);
    EXPECT_EQ(ops(after), (std::vector<std::string>{"Cast", "Transpose", "Pad", "FusedConv", "Transpose", "Cast"}))
        << passes::graphText(after);
    EXPECT_NE(after.nodes[2].name.find("/nhwc_pad8"), std::string::npos) << after.nodes[2].name;
    const ir::Node& conv = onlyConvolution(after);
    EXPECT_EQ(after.tensors[conv.inputs[0]].shape[3], 8);
    EXPECT_EQ(after.tensors[conv.inputs[1]].shape, (ir::Shape{c.w[0], c.w[2], c.w[3], 8}));
    expectSameOutputs(before, after, c.x);
  }
}

// A dynamic batch: the Reshapes copy N (0), so the space-to-depth input keeps the batch symbol,
// shape inference and the runtime's shape resolver give the concrete shapes at any batch, and
// the graph computes what it did at batches 1 and 3.
TEST(ChannelsLast, ASpaceToDepthStemKeepsADynamicBatch) {
  const SpaceToDepthCase& c = kSpaceToDepthCases[0];
  const int64_t batch = ir::kFirstSymbol;
  const ir::Graph before = stemGraph(c.x, c.w, c.attrs, DataType::kHALF, batch);
  ir::Graph after = before;
  ASSERT_EQ(convertAll(after).space_to_depth_stems, 1);
  const ir::Node& conv = onlyConvolution(after);
  const ir::Shape blocks = {batch, c.blocks[0], c.blocks[1], 16};
  EXPECT_EQ(after.tensors[conv.inputs[0]].shape, blocks);
  ir::Graph inferred = after;
  passes::inferShapes(inferred, passes::InferenceOptions{.fold_constants = false});
  EXPECT_EQ(inferred.tensors[conv.inputs[0]].shape, blocks);
  EXPECT_EQ(inferred.tensors[conv.outputs[0]].shape, (ir::Shape{batch, 12, 11, 16}));
  std::vector<plan::Layer> layers;
  for (const ir::Node& n : after.nodes) layers.push_back(plan::Layer{.node = n});
  for (int64_t n : {1, 8}) {
    std::vector<ir::TensorInfo> tensors;
    runtime::resolveShapes(after, layers, {{"x", Dims{n, c.x[1], c.x[2], c.x[3]}}}, tensors);
    EXPECT_EQ(tensors[conv.inputs[0]].shape, (ir::Shape{n, c.blocks[0], c.blocks[1], 16}));
    EXPECT_EQ(tensors[conv.outputs[0]].shape, (ir::Shape{n, 12, 11, 16}));
  }
  for (int64_t n : {1, 3}) expectSameOutputs(before, after, {n, c.x[1], c.x[2], c.x[3]});
}

TEST(ChannelsLast, AKeptTensorInsideTheRegionStaysReadableInNchw) {
  const ir::Graph original = testing::parseModel(testing::basicBlocksModel(6)).impl().graph;
  const ir::Graph before = prepared(original, DataType::kHALF);
  // The first block's result, written by a FusedConv inside the region.
  std::string kept;
  for (const ir::Node& n : before.nodes)
    if (n.op == "FusedConv" && n.name.find("b1.conv2") != std::string::npos) kept = before.tensors[n.outputs[0]].name;
  ASSERT_FALSE(kept.empty());
  ir::Graph after = before;
  std::vector<bool> host(after.nodes.size(), false);
  const passes::ChannelsLastResult r = passes::convertToChannelsLast(after, host, {kept});
  EXPECT_EQ(r.convolutions, 6);
  EXPECT_EQ(r.transposes, 3);
  const std::map<std::string, ir::Tensor> feeds = {{"x", testing::randomInput({2, 16, 11, 9}, 3)}};
  const auto a = cpu::runReference(before, feeds, true);
  const auto b = cpu::runReference(after, feeds, true);
  ASSERT_TRUE(a.count(kept) && b.count(kept));
  EXPECT_EQ(testing::compareTensors(a.at(kept), b.at(kept), {.rtol = 0, .atol = 0}), "");
}

// MobileNetV2 in small: a 3-channel stride-2 stem with ReLU6 (left NCHW, as builds leave stems),
// then inverted residual blocks: 16 -> depthwise -> 8 (no expansion), 8 -> 48 -> depthwise ->
// 8 with the block input as residual, 8 -> 48 -> depthwise stride 2 with TensorFlow's
// asymmetric pads (9 x 8 -> 4 x 4) -> 16, 16 -> 96 -> depthwise -> 16 with residual, and a 1x1 16 -> 32 head
// before GlobalAveragePool. The twelve convolutions (four depthwise) form one region with one
// Transpose in (the stem's output) and one out (the head's output); depthwise W is [C, 3, 3, 1];
// the graph computes exactly what it did (the reference rounds each layer once either way).
// Without depthwise convolutions (the builder's fallback when no tactic runs them in NHWC) the
// pointwise layers are islands that would need a Transpose each, and nothing converts.
TEST(ChannelsLast, MobileNetInvertedResidualsBecomeOneRegion) {
  auto attrs = [](const std::map<std::string, ir::AttributeValue>& values) {
    ir::Attributes a;
    for (const auto& [k, v] : values) a.set(k, v);
    return a;
  };
  GraphWriter w;
  int weights = 0;
  auto conv = [&](int x, int64_t in, int64_t out, int64_t k, const std::map<std::string, ir::AttributeValue>& a) {
    const int64_t group = a.count("group") ? std::get<int64_t>(a.at("group")) : 1;
    const std::string id = std::to_string(weights++);
    return w.node("Conv", {x, w.weight("W" + id, {out, in / group, k, k}), w.weight("B" + id, {out})}, attrs(a));
  };
  const int lo = w.scalar(0.0), hi = w.scalar(6.0);
  auto relu6 = [&](int x) { return w.node("Clip", {x, lo, hi}); };
  auto depthwise = [&](int x, int64_t c, int64_t stride, Ints pads) {
    return relu6(conv(x, c, c, 3, {{"group", c}, {"strides", Ints{stride, stride}}, {"pads", pads}}));
  };
  const Ints same = {1, 1, 1, 1};
  const int x = w.input("x", {2, 3, 17, 15});
  const int stem = relu6(conv(x, 3, 16, 3, {{"strides", Ints{2, 2}}, {"pads", same}}));  // 9 x 8
  const int b1 = conv(depthwise(stem, 16, 1, same), 16, 8, 1, {});
  const int b2 = w.node("Add", {b1, conv(depthwise(relu6(conv(b1, 8, 48, 1, {})), 48, 1, same), 48, 8, 1, {})});
  const int b3 = conv(depthwise(relu6(conv(b2, 8, 48, 1, {})), 48, 2, {0, 0, 1, 1}), 48, 16, 1, {});  // 4 x 4
  const int b4 = w.node("Add", {conv(depthwise(relu6(conv(b3, 16, 96, 1, {})), 96, 1, same), 96, 16, 1, {}), b3});
  const int head = relu6(conv(b4, 16, 32, 1, {}));
  const int y = w.node("Flatten", {w.node("GlobalAveragePool", {head})});
  const ir::Graph original = w.finish({y});

  for (DataType type : {DataType::kHALF, DataType::kBF16}) {
    SCOPED_TRACE(toString(type));
    const ir::Graph before = prepared(original, type);
    // The projections without a residual stay Conv (nothing to fuse); the pass makes them FusedConv.
    ASSERT_EQ(count(before, "FusedConv") + count(before, "Conv"), 13) << passes::graphText(before);
    ASSERT_EQ(count(before, "Add"), 0) << "the residuals are fused as R";
    {
      ir::Graph g = before;
      std::vector<bool> host(g.nodes.size(), false);
      const passes::ChannelsLastResult without =
          passes::convertToChannelsLast(g, host, {}, {.stems_and_pools = false, .depthwise = false});
      EXPECT_EQ(without.convolutions, 0);
      EXPECT_EQ(g.nodes.size(), before.nodes.size());
    }
    ir::Graph after = before;
    std::vector<bool> host(after.nodes.size(), false);
    const size_t program = after.weight_program.size();
    const passes::ChannelsLastResult r = passes::convertToChannelsLast(after, host, {}, {.stems_and_pools = false});
    EXPECT_EQ(r.convolutions, 12);
    EXPECT_EQ(r.depthwise, 4);
    EXPECT_EQ(r.transposes, 2);
    EXPECT_EQ(count(after, "Transpose"), 2);
    EXPECT_EQ(nhwcLayers(after), 12);
    EXPECT_EQ(host.size(), after.nodes.size());
    EXPECT_EQ(after.weight_program.size(), program + 12);
    int depthwise_layers = 0;
    for (const ir::Node& n : after.nodes) {
      if (n.op != "FusedConv" || n.attrs.s("layout", "NCHW") != "NHWC" || n.attrs.i("group", 1) == 1) continue;
      ++depthwise_layers;
      const ir::TensorInfo& xi = after.tensors[n.inputs[0]];
      const ir::TensorInfo& wi = after.tensors[n.inputs[1]];
      ASSERT_TRUE(wi.value) << n.name;
      EXPECT_EQ(wi.shape, (ir::Shape{xi.shape[3], 3, 3, 1})) << n.name << ": depthwise W is [C, R, S, 1]";
      EXPECT_EQ(n.attrs.i("group", 1), xi.shape[3]) << n.name;
    }
    EXPECT_EQ(depthwise_layers, 4);
    expectSameOutputs(before, after, {2, 3, 17, 15});
  }
}

}  // namespace
}  // namespace kiln
