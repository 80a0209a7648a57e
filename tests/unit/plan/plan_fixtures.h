// Plans for the plan-format tests: a rich plan that uses every field, the fixed small plan
// behind tests/data/plans/golden_v1.plan, and a deep comparison of two plans.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "plan/plan.h"

namespace kiln::plan::testing {

inline std::shared_ptr<const ir::Tensor> randomValue(DataType type, ir::Shape shape, uint32_t seed) {
  auto t = std::make_shared<ir::Tensor>(type, std::move(shape));
  std::mt19937 rng(seed);
  for (std::byte& b : t->bytes()) b = static_cast<std::byte>(rng() & 0xFF);
  if (type == DataType::kBOOL)
    for (std::byte& b : t->bytes()) b &= std::byte{1};
  return t;
}

inline int addTensor(ir::Graph& g, const std::string& name, DataType type, ir::Shape shape, bool rank_known = true) {
  int id = g.tensorId(name);
  g.tensors[id].type = type;
  g.tensors[id].shape = std::move(shape);
  g.tensors[id].rank_known = rank_known;
  return id;
}

inline TacticChoice choice(const std::string& provider, const std::string& name, TacticSource source, double time_ms,
                           std::vector<std::byte> params = {}) {
  TacticChoice c;
  c.provider = provider;
  c.config.name = name;
  c.config.params = std::move(params);
  c.config.workspace = 1 << 20;
  c.config.formats = "fp16 nhwc";
  c.config.portable = false;
  c.id = 0x0123456789ABCDEFULL ^ std::hash<std::string>{}(name);
  c.source = source;
  c.time_ms = time_ms;
  return c;
}

//! Every field of a Plan set, every attribute kind used, two profiles.
inline Plan makeRichPlan(bool weights_stripped = false) {
  Plan p;
  p.header.format_version = 1;
  p.header.kiln_version = "0.1.0-test";
  p.header.device = DeviceKind::kGPU;
  p.header.device_identity = "cuda sm_90 132 SMs cublas 13.0 cudnn 9.1";
  p.header.architecture = "sm_90";
  p.header.hardware = HardwareCompatibility::kAMPERE_PLUS;
  p.header.refittable = true;
  p.header.weights_stripped = weights_stripped;
  p.header.version_compatible = true;

  ir::Graph& g = p.graph;
  int64_t batch = g.symbolDim("batch");
  g.symbolDim("seq");
  int x = addTensor(g, "x", DataType::kFLOAT, {batch, 3, 5, 5});
  int w = addTensor(g, "conv.weight", DataType::kFLOAT, {8, 3, 3, 3});
  g.tensors[w].is_initializer = true;
  g.tensors[w].value = randomValue(DataType::kFLOAT, {8, 3, 3, 3}, 1);
  int b = addTensor(g, "conv.bias", DataType::kHALF, {8});
  g.tensors[b].is_initializer = true;
  g.tensors[b].value = randomValue(DataType::kHALF, {8}, 2);
  int c = addTensor(g, "folded.shape", DataType::kINT64, {2});
  g.tensors[c].value = randomValue(DataType::kINT64, {2}, 3);
  int m = addTensor(g, "mask", DataType::kBOOL, {3});
  g.tensors[m].value = randomValue(DataType::kBOOL, {3}, 4);
  int e = addTensor(g, "empty", DataType::kBF16, {0, 4});
  g.tensors[e].value = randomValue(DataType::kBF16, {0, 4}, 5);
  int s = addTensor(g, "scalar", DataType::kDOUBLE, {});
  g.tensors[s].value = randomValue(DataType::kDOUBLE, {}, 6);
  int y = addTensor(g, "y", DataType::kFLOAT, {batch, 8, ir::kUnknownDim, 5});
  int h = addTensor(g, "shape_of_y", DataType::kINT64, {}, /*rank_known=*/false);
  int fw = addTensor(g, "conv.weight.fused", DataType::kHALF, {8, 3, 3, 3});
  g.tensors[fw].value = randomValue(DataType::kHALF, {8, 3, 3, 3}, 7);
  g.inputs = {x};
  g.outputs = {y, h};
  g.opset = 17;
  g.name = "rich model";

  Layer conv;
  conv.node.name = "conv1";
  conv.node.op = "Conv";
  conv.node.domain = "";
  conv.node.inputs = {x, fw, b, ir::kAbsent};
  conv.node.outputs = {y};
  conv.node.attrs.owner = "node 'conv1' (Conv)";
  conv.node.attrs.set("group", int64_t{1});
  conv.node.attrs.set("alpha", 0.25f);
  conv.node.attrs.set("auto_pad", std::string("NOTSET"));
  conv.node.attrs.set("pads", std::vector<int64_t>{1, 1, -1, 1});
  conv.node.attrs.set("scales", std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::infinity()});
  conv.node.attrs.set("names", std::vector<std::string>{"a", "", "ccc"});
  conv.node.attrs.set("value", *randomValue(DataType::kINT32, {2, 3}, 8));
  conv.node.attrs.set("empty_ints", std::vector<int64_t>{});
  std::vector<std::byte> params(13);
  for (size_t i = 0; i < params.size(); ++i) params[i] = static_cast<std::byte>(i * 17);
  conv.tactics = {choice("cublaslt", "gemm_128x64_splitk2", TacticSource::kCUBLAS_LT, 0.0123, params),
                  choice("cuda.conv", "implicit_gemm_64x64", TacticSource::kKILN_CUDA, -1)};
  conv.tactics[0].inplace_input = 0;  // format 2: runs in place over its input 0 in profile 0
  p.layers.push_back(conv);

  Layer shape;
  shape.node.name = "shape";
  shape.node.op = "Shape";
  shape.node.domain = "ai.onnx";
  shape.node.inputs = {y};
  shape.node.outputs = {h};
  shape.host = true;
  p.layers.push_back(shape);

  Layer custom;
  custom.node.name = "custom";
  custom.node.op = "Gelu";
  custom.node.domain = "com.microsoft";
  custom.node.inputs = {y};
  custom.node.outputs = {ir::kAbsent};
  custom.tactics = {choice("reference", "reference", TacticSource::kREFERENCE, 1.5),
                    choice("reference", "reference", TacticSource::kREFERENCE, 2.5)};
  p.layers.push_back(custom);

  for (int i = 0; i < 2; ++i) {
    Profile prof;
    prof.inputs["x"] = ProfileDims{{1, 3, 5, 5}, {4 + i, 3, 5, 5}, {8 + 8 * i, 3, 5, 5}};
    prof.inputs["static"] = ProfileDims{{2}, {2}, {2}};
    prof.offsets.assign(g.tensors.size(), -1);
    prof.offsets[y] = 128 * (i + 1);
    prof.activation_bytes = 4096u * (i + 1);
    prof.no_reuse_bytes = 8192u * (i + 1);
    prof.workspace_bytes = 1u << 20;
    prof.activation_lower_bound = 2048u * (i + 1);
    p.profiles.push_back(prof);
  }

  ir::Node fold;
  fold.name = "fold_bn";
  fold.op = "Cast";
  fold.inputs = {w};
  fold.outputs = {fw};
  fold.attrs.set("to", int64_t{10});
  p.weight_program.nodes.push_back(fold);

  p.debug_tensors = {y, h};
  return p;
}

//! The plan behind tests/data/plans/golden_v1.plan. NEVER change it: the golden file proves
//! that every later kiln still loads format version 1 as it was written.
inline Plan makeGoldenPlanV1() {
  Plan p;
  p.header.format_version = 1;
  p.header.kiln_version = "0.1.0";
  p.header.device = DeviceKind::kCPU;
  p.header.device_identity = "cpu x86_64 golden";
  p.header.architecture = "x86_64";
  p.header.hardware = HardwareCompatibility::kSAME_ARCHITECTURE;
  p.header.refittable = true;

  ir::Graph& g = p.graph;
  int64_t batch = g.symbolDim("batch");
  int x = addTensor(g, "x", DataType::kFLOAT, {batch, 4});
  int w = addTensor(g, "w", DataType::kFLOAT, {4, 3});
  g.tensors[w].is_initializer = true;
  auto wv = std::make_shared<ir::Tensor>(DataType::kFLOAT, ir::Shape{4, 3});
  for (int i = 0; i < 12; ++i) wv->values<float>()[i] = 0.5f * static_cast<float>(i) - 2.0f;
  g.tensors[w].value = wv;
  int bias = addTensor(g, "bias", DataType::kFLOAT, {3});
  g.tensors[bias].value = std::make_shared<ir::Tensor>(ir::Tensor::fromDouble(DataType::kFLOAT, {3}, std::vector<double>{0.25, -1, 3}));
  int mm = addTensor(g, "mm", DataType::kFLOAT, {batch, 3});
  int y = addTensor(g, "y", DataType::kFLOAT, {batch, 3});
  g.inputs = {x};
  g.outputs = {y};
  g.opset = 17;
  g.name = "golden";

  Layer matmul;
  matmul.node.name = "matmul";
  matmul.node.op = "MatMul";
  matmul.node.inputs = {x, w};
  matmul.node.outputs = {mm};
  matmul.node.attrs.owner = "node 'matmul' (MatMul)";
  matmul.tactics = {TacticChoice{.provider = "reference",
                                 .config = {.name = "reference", .params = {std::byte{7}}, .workspace = 64},
                                 .id = 0xFEEDFACECAFEBEEFULL,
                                 .source = TacticSource::kREFERENCE,
                                 .time_ms = 0.5}};
  p.layers.push_back(matmul);
  Layer add;
  add.node.name = "add";
  add.node.op = "Add";
  add.node.inputs = {mm, bias};
  add.node.outputs = {y};
  add.node.attrs.set("i", int64_t{-3});
  add.node.attrs.set("f", 2.5f);
  add.node.attrs.set("s", std::string("str"));
  add.node.attrs.set("ints", std::vector<int64_t>{1, 2});
  add.node.attrs.set("floats", std::vector<float>{0.5f});
  add.node.attrs.set("strings", std::vector<std::string>{"u", "v"});
  add.node.attrs.set("t", ir::Tensor::fromInt64({2}, std::vector<int64_t>{5, 6}));
  add.tactics = {TacticChoice{.provider = "cpu.elementwise", .config = {.name = "vectorized"}, .id = 42,
                              .source = TacticSource::kCPU, .time_ms = -1}};
  p.layers.push_back(add);

  Profile prof;
  prof.inputs["x"] = ProfileDims{{1, 4}, {2, 4}, {4, 4}};
  prof.offsets = {-1, -1, -1, 0, -1};
  prof.activation_bytes = 48;
  prof.no_reuse_bytes = 96;
  prof.workspace_bytes = 64;
  p.profiles.push_back(prof);

  ir::Node scale;
  scale.name = "scale_w";
  scale.op = "Identity";
  scale.inputs = {w};
  scale.outputs = {w};
  p.weight_program.nodes.push_back(scale);
  p.debug_tensors = {mm};
  return p;
}

//! The golden plan of format 3: golden v1's content plus what formats 2 and 3 added: an
//! activation lower bound, and a shape input 'k' (int64 [2]) whose values range from [1, -1]
//! to [3, -1] (opt [2, -1]).
inline Plan makeGoldenPlanV3() {
  Plan p = makeGoldenPlanV1();
  p.header.format_version = 3;
  p.header.kiln_version = "0.1.0+shapes";
  ir::Graph& g = p.graph;
  const int k = addTensor(g, "k", DataType::kINT64, {2});
  g.inputs.push_back(k);
  Profile& prof = p.profiles.at(0);
  prof.inputs["k"] = ProfileDims{{2}, {2}, {2}};
  prof.shape_values["k"] = ProfileShapeValues{{1, -1}, {2, -1}, {3, -1}};
  prof.offsets.push_back(-1);
  prof.activation_lower_bound = 48;
  return p;
}

inline void expectTensorsEqual(const ir::Tensor& a, const ir::Tensor& b, const std::string& what) {
  EXPECT_EQ(a.type(), b.type()) << what;
  EXPECT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(a.byteSize(), b.byteSize()) << what;
  EXPECT_TRUE(a.byteSize() == 0 || std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0) << what << " values differ";
}

inline void expectNodesEqual(const ir::Node& a, const ir::Node& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.op, b.op) << a.name;
  EXPECT_EQ(a.domain, b.domain) << a.name;
  EXPECT_EQ(a.inputs, b.inputs) << a.name;
  EXPECT_EQ(a.outputs, b.outputs) << a.name;
  EXPECT_EQ(a.attrs.owner, b.attrs.owner) << a.name;
  ASSERT_EQ(a.attrs.all().size(), b.attrs.all().size()) << a.name;
  for (const auto& [name, va] : a.attrs.all()) {
    ASSERT_TRUE(b.attrs.has(name)) << a.name << "." << name;
    const ir::AttributeValue& vb = b.attrs.all().at(name);
    ASSERT_EQ(va.index(), vb.index()) << a.name << "." << name;
    std::string what = a.name + "." + name;
    std::visit(
        [&]<typename T>(const T& x) {
          const T& y = std::get<T>(vb);
          if constexpr (std::is_same_v<T, ir::Tensor>) {
            expectTensorsEqual(x, y, what);
          } else if constexpr (std::is_same_v<T, float>) {
            EXPECT_EQ(std::memcmp(&x, &y, sizeof(float)), 0) << what;  // bit-exact, -0 included
          } else if constexpr (std::is_same_v<T, std::vector<float>>) {
            ASSERT_EQ(x.size(), y.size()) << what;
            EXPECT_TRUE(x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0) << what;
          } else {
            EXPECT_EQ(x, y) << what;
          }
        },
        va);
  }
}

//! Deep equality. With `stripped`, `b`'s initializers must have no value (a's may).
inline void expectPlansEqual(const Plan& a, const Plan& b, bool stripped = false) {
  EXPECT_EQ(a.header.kiln_version, b.header.kiln_version);
  EXPECT_EQ(a.header.device, b.header.device);
  EXPECT_EQ(a.header.device_identity, b.header.device_identity);
  EXPECT_EQ(a.header.architecture, b.header.architecture);
  EXPECT_EQ(a.header.hardware, b.header.hardware);
  EXPECT_EQ(a.header.refittable, b.header.refittable);
  EXPECT_EQ(a.header.weights_stripped, b.header.weights_stripped);
  EXPECT_EQ(a.header.version_compatible, b.header.version_compatible);

  ASSERT_EQ(a.graph.tensors.size(), b.graph.tensors.size());
  for (size_t i = 0; i < a.graph.tensors.size(); ++i) {
    const ir::TensorInfo& ta = a.graph.tensors[i];
    const ir::TensorInfo& tb = b.graph.tensors[i];
    EXPECT_EQ(ta.name, tb.name);
    EXPECT_EQ(b.graph.find(ta.name), static_cast<int>(i)) << ta.name;
    EXPECT_EQ(ta.type, tb.type) << ta.name;
    EXPECT_EQ(ta.shape, tb.shape) << ta.name;
    EXPECT_EQ(ta.rank_known, tb.rank_known) << ta.name;
    EXPECT_EQ(ta.is_initializer, tb.is_initializer) << ta.name;
    if (stripped && ta.is_initializer) {
      EXPECT_FALSE(tb.value) << ta.name << " should have been stripped";
    } else {
      ASSERT_EQ(bool(ta.value), bool(tb.value)) << ta.name;
      if (ta.value) expectTensorsEqual(*ta.value, *tb.value, ta.name);
    }
  }
  EXPECT_TRUE(b.graph.nodes.empty());
  EXPECT_EQ(a.graph.inputs, b.graph.inputs);
  EXPECT_EQ(a.graph.outputs, b.graph.outputs);
  EXPECT_EQ(a.graph.symbols, b.graph.symbols);
  EXPECT_EQ(a.graph.opset, b.graph.opset);
  EXPECT_EQ(a.graph.name, b.graph.name);

  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    expectNodesEqual(a.layers[i].node, b.layers[i].node);
    EXPECT_EQ(a.layers[i].host, b.layers[i].host);
    ASSERT_EQ(a.layers[i].tactics.size(), b.layers[i].tactics.size());
    for (size_t k = 0; k < a.layers[i].tactics.size(); ++k) {
      const TacticChoice& ca = a.layers[i].tactics[k];
      const TacticChoice& cb = b.layers[i].tactics[k];
      EXPECT_EQ(ca.provider, cb.provider);
      EXPECT_EQ(ca.config.name, cb.config.name);
      EXPECT_EQ(ca.config.params, cb.config.params);
      EXPECT_EQ(ca.config.workspace, cb.config.workspace);
      EXPECT_EQ(ca.config.formats, cb.config.formats);
      EXPECT_EQ(ca.config.portable, cb.config.portable);
      EXPECT_EQ(ca.id, cb.id);
      EXPECT_EQ(ca.source, cb.source);
      EXPECT_EQ(ca.time_ms, cb.time_ms);
      EXPECT_EQ(ca.inplace_input, cb.inplace_input);
    }
  }

  ASSERT_EQ(a.profiles.size(), b.profiles.size());
  for (size_t i = 0; i < a.profiles.size(); ++i) {
    const Profile& pa = a.profiles[i];
    const Profile& pb = b.profiles[i];
    ASSERT_EQ(pa.inputs.size(), pb.inputs.size());
    for (const auto& [name, dims] : pa.inputs) {
      ASSERT_TRUE(pb.inputs.count(name)) << name;
      EXPECT_EQ(dims.min, pb.inputs.at(name).min);
      EXPECT_EQ(dims.opt, pb.inputs.at(name).opt);
      EXPECT_EQ(dims.max, pb.inputs.at(name).max);
    }
    EXPECT_EQ(pa.offsets, pb.offsets);
    EXPECT_EQ(pa.activation_bytes, pb.activation_bytes);
    EXPECT_EQ(pa.no_reuse_bytes, pb.no_reuse_bytes);
    EXPECT_EQ(pa.workspace_bytes, pb.workspace_bytes);
    EXPECT_EQ(pa.activation_lower_bound, pb.activation_lower_bound);
    ASSERT_EQ(pa.shape_values.size(), pb.shape_values.size());
    for (const auto& [name, values] : pa.shape_values) {
      ASSERT_TRUE(pb.shape_values.count(name)) << name;
      EXPECT_EQ(values.min, pb.shape_values.at(name).min);
      EXPECT_EQ(values.opt, pb.shape_values.at(name).opt);
      EXPECT_EQ(values.max, pb.shape_values.at(name).max);
    }
  }

  ASSERT_EQ(a.weight_program.nodes.size(), b.weight_program.nodes.size());
  for (size_t i = 0; i < a.weight_program.nodes.size(); ++i)
    expectNodesEqual(a.weight_program.nodes[i], b.weight_program.nodes[i]);
  EXPECT_EQ(a.debug_tensors, b.debug_tensors);
}

}  // namespace kiln::plan::testing
