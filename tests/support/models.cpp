#include "support/models.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "backends/cpu/reference.h"
#include "runtime/network_impl.h"

namespace kiln::testing {

namespace fs = std::filesystem;

fs::path freshTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() /
                 ("kiln_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
                  std::to_string(std::random_device{}()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string writeModel(const onnx::ModelProto& model, const fs::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !model.SerializeToOstream(&out)) throw Error(ErrorCode::kIo, "cannot write " + path.string());
  return path.string();
}

Network parseModel(const onnx::ModelProto& model) {
  std::string bytes = model.SerializeAsString();
  return OnnxParser::parse(std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                           "test model");
}

ir::Tensor randomInput(const ir::Shape& shape, uint32_t seed, float lo, float hi) {
  ir::Tensor t(DataType::kFLOAT, shape);
  std::mt19937 rng(seed * 2654435761u + 17);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.values<float>()) v = dist(rng);
  if (t.numel() > 0) t.values<float>()[0] = lo + 0.37f * (hi - lo) + 1e-3f;  // never all zeros
  return t;
}

namespace {

// A tiny writer over ModelProto: inputs, outputs, initializers and nodes.
class Model {
 public:
  explicit Model(const Weights& given) : given_(given) {
    model_.set_ir_version(8);
    model_.set_producer_name("kiln tests");
    auto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(17);
    graph()->set_name("test");
  }
  onnx::GraphProto* graph() { return model_.mutable_graph(); }

  void input(const std::string& name, const Dims& dims, int elem_type = 1) {
    valueInfo(graph()->add_input(), name, dims, elem_type);
  }
  void output(const std::string& name, const Dims& dims) { valueInfo(graph()->add_output(), name, dims); }
  //! An output whose shape the model leaves to inference (its rank too).
  void outputOfAnyShape(const std::string& name) {
    auto* vi = graph()->add_output();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  }

  //! A float initializer: the given value when `given` has it, else random.
  void weight(const std::string& name, const ir::Shape& shape, uint32_t seed, float lo = -0.5f, float hi = 0.5f) {
    auto it = given_.find(name);
    ir::Tensor value = it != given_.end() ? it->second : randomInput(shape, seed, lo, hi);
    auto* t = graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    for (int64_t d : value.shape()) t->add_dims(d);
    t->set_raw_data(reinterpret_cast<const char*>(value.raw()), value.byteSize());
    weights_[name] = std::move(value);
  }
  void int64Constant(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }

  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                        std::vector<std::string> outputs) {
    auto* n = graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return n;
  }
  static void ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> values) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(7);
    for (int64_t v : values) a->add_ints(v);
  }
  static void integer(onnx::NodeProto* n, const std::string& name, int64_t value) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(2);
    a->set_i(value);
  }

  onnx::ModelProto take() { return std::move(model_); }
  const Weights& weights() const { return weights_; }

 private:
  static void valueInfo(onnx::ValueInfoProto* vi, const std::string& name, const Dims& dims, int elem_type = 1) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      if (d < 0) shape->add_dim()->set_dim_param("batch");
      else shape->add_dim()->set_dim_value(d);
    }
  }

  const Weights& given_;
  onnx::ModelProto model_;
  Weights weights_;
};

Model makeCnn(uint32_t seed, int64_t batch, const Weights& weights, int64_t classes) {
  Model m(weights);
  const int64_t n = batch > 0 ? batch : -1;
  m.input("x", {n, 3, 8, 8});
  m.output("y", {n, classes});
  uint32_t s = seed * 100;
  m.weight("conv1.W", {8, 3, 3, 3}, s + 1);
  m.weight("conv1.B", {8}, s + 2);
  m.weight("bn1.scale", {8}, s + 3, 0.5f, 1.5f);
  m.weight("bn1.B", {8}, s + 4);
  m.weight("bn1.mean", {8}, s + 5, -0.2f, 0.2f);
  m.weight("bn1.var", {8}, s + 6, 0.5f, 1.5f);
  m.weight("conv2.W", {8, 8, 3, 3}, s + 7, -0.3f, 0.3f);
  m.weight("bn2.scale", {8}, s + 8, 0.5f, 1.5f);
  m.weight("bn2.B", {8}, s + 9);
  m.weight("bn2.mean", {8}, s + 10, -0.2f, 0.2f);
  m.weight("bn2.var", {8}, s + 11, 0.5f, 1.5f);
  m.weight("fc.W", {classes, 8}, s + 12);
  m.weight("fc.B", {classes}, s + 13);
  auto* c1 = m.node("Conv", "conv1", {"x", "conv1.W", "conv1.B"}, {"conv1_out"});
  Model::ints(c1, "kernel_shape", {3, 3});
  Model::ints(c1, "pads", {1, 1, 1, 1});
  m.node("BatchNormalization", "bn1", {"conv1_out", "bn1.scale", "bn1.B", "bn1.mean", "bn1.var"}, {"bn1_out"});
  m.node("Relu", "relu1", {"bn1_out"}, {"relu1_out"});
  auto* c2 = m.node("Conv", "conv2", {"relu1_out", "conv2.W"}, {"conv2_out"});
  Model::ints(c2, "kernel_shape", {3, 3});
  Model::ints(c2, "pads", {1, 1, 1, 1});
  m.node("BatchNormalization", "bn2", {"conv2_out", "bn2.scale", "bn2.B", "bn2.mean", "bn2.var"}, {"bn2_out"});
  m.node("Relu", "relu2", {"bn2_out"}, {"relu2_out"});
  m.node("GlobalAveragePool", "gap", {"relu2_out"}, {"gap_out"});
  auto* flat = m.node("Flatten", "flatten", {"gap_out"}, {"flat_out"});
  Model::integer(flat, "axis", 1);
  auto* gemm = m.node("Gemm", "fc", {"flat_out", "fc.W", "fc.B"}, {"y"});
  Model::integer(gemm, "transB", 1);
  return m;
}

//! A k x k Conv (no bias, "same" pads, `group` groups) and its BatchNormalization, named
//! from `p`, reading `x`; random weights in +-w_range (W) and a BN near identity, seeds taken
//! from `seed`. Returns the BN's output name.
struct ConvBnShape {
  int64_t in, out, k, stride, group;
  float w_range;
};

std::string convBnBlock(Model& m, uint32_t& seed, const std::string& p, const std::string& x, const ConvBnShape& c) {
  m.weight(p + ".W", {c.out, c.in / c.group, c.k, c.k}, ++seed, -c.w_range, c.w_range);
  m.weight(p + ".scale", {c.out}, ++seed, 0.5f, 1.5f);
  m.weight(p + ".B", {c.out}, ++seed, -0.2f, 0.2f);
  m.weight(p + ".mean", {c.out}, ++seed, -0.2f, 0.2f);
  m.weight(p + ".var", {c.out}, ++seed, 0.5f, 1.5f);
  auto* conv = m.node("Conv", p, {x, p + ".W"}, {p + "_conv"});
  Model::ints(conv, "kernel_shape", {c.k, c.k});
  Model::ints(conv, "strides", {c.stride, c.stride});
  Model::ints(conv, "pads", {c.k / 2, c.k / 2, c.k / 2, c.k / 2});
  if (c.group > 1) Model::integer(conv, "group", c.group);
  m.node("BatchNormalization", p + "_bn", {p + "_conv", p + ".scale", p + ".B", p + ".mean", p + ".var"},
         {p + "_out"});
  return p + "_out";
}

}  // namespace

onnx::ModelProto cnnModel(uint32_t seed, int64_t batch, const Weights& weights, int64_t classes) {
  return makeCnn(seed, batch, weights, classes).take();
}

Weights cnnWeights(uint32_t seed, int64_t classes) { return makeCnn(seed, -1, {}, classes).weights(); }

onnx::ModelProto mlpModel(uint32_t seed, int depth) {
  Weights none;
  Model m(none);
  m.input("x", {-1, 16});
  m.output("y", {-1, 8});
  std::string prev = "x";
  int64_t width = 16;
  for (int k = 0; k < depth; ++k) {
    const int64_t next = k % 2 == 0 ? 32 : 24;
    const std::string p = "fc" + std::to_string(k);
    m.weight(p + ".W", {width, next}, seed * 100 + 2 * k + 1, -0.4f, 0.4f);
    m.weight(p + ".B", {next}, seed * 100 + 2 * k + 2);
    m.node("MatMul", p + "/matmul", {prev, p + ".W"}, {p + "_mm"});
    m.node("Add", p + "/add", {p + "_mm", p + ".B"}, {p + "_add"});
    m.node("Relu", p + "/relu", {p + "_add"}, {p + "_out"});
    prev = p + "_out";
    width = next;
  }
  m.weight("out.W", {width, 8}, seed * 100 + 98);
  m.weight("out.B", {8}, seed * 100 + 99);
  m.node("MatMul", "out/matmul", {prev, "out.W"}, {"out_mm"});
  m.node("Add", "out/add", {"out_mm", "out.B"}, {"y"});
  return m.take();
}

onnx::ModelProto residualCnnModel(uint32_t seed) {
  Weights given;
  given.emplace("relu6.min", ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{0.0}));
  given.emplace("relu6.max", ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{6.0}));
  Model m(given);
  m.input("x", {-1, 8, 9, 9});
  m.output("y", {-1, 16});
  m.weight("relu6.min", {}, 0);
  m.weight("relu6.max", {}, 0);
  uint32_t s = seed * 100;
  // Conv (no bias) -> BatchNormalization; returns the BN's output.
  auto convBn = [&](const std::string& p, const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride,
                    int64_t group = 1) { return convBnBlock(m, s, p, x, {in, out, k, stride, group, 0.4f}); };
  auto relu6 = [&](const std::string& x) {
    m.node("Clip", x + "_relu6", {x, "relu6.min", "relu6.max"}, {x + "_clip"});
    return x + "_clip";
  };
  // ResNet bottleneck, downsampling.
  const std::string a1 = convBn("res.conv1", "x", 8, 4, 1, 1);
  m.node("Relu", "res.relu1", {a1}, {"res.relu1_out"});
  const std::string a2 = convBn("res.conv2", "res.relu1_out", 4, 4, 3, 2);
  m.node("Relu", "res.relu2", {a2}, {"res.relu2_out"});
  const std::string a3 = convBn("res.conv3", "res.relu2_out", 4, 16, 1, 1);
  const std::string down = convBn("res.down", "x", 8, 16, 1, 2);
  m.node("Add", "res.add", {a3, down}, {"res.sum"});
  m.node("Relu", "res.relu3", {"res.sum"}, {"res_out"});
  // MobileNetV2 inverted residual.
  const std::string b1 = relu6(convBn("mb.expand", "res_out", 16, 32, 1, 1));
  const std::string b2 = relu6(convBn("mb.dw", b1, 32, 32, 3, 1, 32));
  const std::string b3 = convBn("mb.project", b2, 32, 16, 1, 1);
  m.node("Add", "mb.add", {"res_out", b3}, {"mb_out"});
  // SiLU.
  const std::string c1 = convBn("silu.conv", "mb_out", 16, 16, 3, 1);
  m.node("Sigmoid", "silu.sigmoid", {c1}, {"silu.gate"});
  m.node("Mul", "silu.mul", {c1, "silu.gate"}, {"silu_out"});
  m.node("GlobalAveragePool", "gap", {"silu_out"}, {"gap_out"});
  auto* flat = m.node("Flatten", "flatten", {"gap_out"}, {"y"});
  Model::integer(flat, "axis", 1);
  return m.take();
}

onnx::ModelProto basicBlocksModel(uint32_t seed) {
  const Weights none;
  Model m(none);
  m.input("x", {-1, 16, 11, 9});
  m.output("y", {-1, 32});
  uint32_t s = seed * 100;
  auto convBn = [&](const std::string& p, const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride) {
    return convBnBlock(m, s, p, x, {in, out, k, stride, 1, 0.3f});
  };
  m.node("Relu", "stem.relu", {convBn("stem", "x", 16, 16, 3, 1)}, {"stem_act"});
  m.node("Relu", "b1.relu1", {convBn("b1.conv1", "stem_act", 16, 16, 3, 1)}, {"b1.relu1_out"});
  m.node("Add", "b1.add", {convBn("b1.conv2", "b1.relu1_out", 16, 16, 3, 1), "stem_act"}, {"b1.sum"});
  m.node("Relu", "b1.relu2", {"b1.sum"}, {"b1_out"});
  m.node("Relu", "b2.relu1", {convBn("b2.conv1", "b1_out", 16, 32, 3, 2)}, {"b2.relu1_out"});
  const std::string shortcut = convBn("b2.down", "b1_out", 16, 32, 1, 2);
  m.node("Add", "b2.add", {convBn("b2.conv2", "b2.relu1_out", 32, 32, 3, 1), shortcut}, {"b2.sum"});
  m.node("Relu", "b2.relu2", {"b2.sum"}, {"b2_out"});
  m.node("GlobalAveragePool", "gap", {"b2_out"}, {"gap_out"});
  Model::integer(m.node("Flatten", "flatten", {"gap_out"}, {"y"}), "axis", 1);
  return m.take();
}

onnx::ModelProto mobileNetBlocksModel(uint32_t seed) {
  Weights given;
  given.emplace("relu6.min", ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{0.0}));
  given.emplace("relu6.max", ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{6.0}));
  Model m(given);
  m.input("x", {-1, 3, 17, 15});
  m.output("y", {-1, 32});
  m.weight("relu6.min", {}, 0);
  m.weight("relu6.max", {}, 0);
  uint32_t s = seed * 100;
  auto convBn = [&](const std::string& p, const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride,
                    int64_t group = 1) {
    return convBnBlock(m, s, p, x, {in, out, k, stride, group, 0.4f});
  };
  auto relu6 = [&](const std::string& x) {
    m.node("Clip", x + "_relu6", {x, "relu6.min", "relu6.max"}, {x + "_clip"});
    return x + "_clip";
  };
  // One inverted residual block named p: expand (unless expand == in), depthwise, project.
  auto block = [&](const std::string& p, const std::string& x, int64_t in, int64_t expand, int64_t out,
                   int64_t stride) {
    const std::string e = expand == in ? x : relu6(convBn(p + ".expand", x, in, expand, 1, 1));
    const std::string d = relu6(convBn(p + ".dw", e, expand, expand, 3, stride, expand));
    const std::string y = convBn(p + ".project", d, expand, out, 1, 1);
    if (stride != 1 || in != out) return y;
    m.node("Add", p + ".add", {x, y}, {p + "_out"});
    return p + "_out";
  };
  const std::string stem = relu6(convBn("stem", "x", 3, 16, 3, 2));
  const std::string b1 = block("b1", stem, 16, 16, 8, 1);
  const std::string b2 = block("b2", b1, 8, 48, 8, 1);
  const std::string b3 = block("b3", b2, 8, 48, 16, 2);
  const std::string b4 = block("b4", b3, 16, 96, 16, 1);
  const std::string head = relu6(convBn("head", b4, 16, 32, 1, 1));
  m.node("GlobalAveragePool", "gap", {head}, {"gap_out"});
  Model::integer(m.node("Flatten", "flatten", {"gap_out"}, {"y"}), "axis", 1);
  return m.take();
}

onnx::ModelProto attentionModel(int64_t seq, int64_t heads, int64_t dim) {
  Weights given;
  given.emplace("sqrt_d",
                ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{std::sqrt(static_cast<double>(dim))}));
  Model m(given);
  for (const char* x : {"q", "k", "v"}) m.input(x, {-1, seq, heads, dim});
  m.input("mask", {-1, 1, 1, seq});
  m.output("y", {-1, seq, heads, dim});
  m.weight("sqrt_d", {}, 0);
  Model::ints(m.node("Transpose", "q/heads", {"q"}, {"qt"}), "perm", {0, 2, 1, 3});
  Model::ints(m.node("Transpose", "k/heads_t", {"k"}, {"kt"}), "perm", {0, 2, 3, 1});
  Model::ints(m.node("Transpose", "v/heads", {"v"}, {"vt"}), "perm", {0, 2, 1, 3});
  m.node("MatMul", "scores", {"qt", "kt"}, {"s"});
  m.node("Div", "scale", {"s", "sqrt_d"}, {"s_scaled"});
  m.node("Add", "mask_add", {"s_scaled", "mask"}, {"s_masked"});
  Model::integer(m.node("Softmax", "softmax", {"s_masked"}, {"p"}), "axis", -1);
  m.node("MatMul", "context", {"p", "vt"}, {"o"});
  Model::ints(m.node("Transpose", "out/heads", {"o"}, {"y"}), "perm", {0, 2, 1, 3});
  return m.take();
}

onnx::ModelProto scaledModel(uint32_t seed, float scale) {
  Weights given;
  given.emplace("up", ir::Tensor::fromDouble(DataType::kFLOAT, {1}, std::vector<double>{scale}));
  given.emplace("down", ir::Tensor::fromDouble(DataType::kFLOAT, {1}, std::vector<double>{1.0 / scale}));
  Model m(given);
  m.input("x", {-1, 16});
  m.output("y", {-1, 8});
  m.weight("fc1.W", {16, 32}, seed * 100 + 1, -0.5f, 0.5f);
  m.weight("fc2.W", {32, 8}, seed * 100 + 2, -0.5f, 0.5f);
  m.weight("up", {1}, 0);
  m.weight("down", {1}, 0);
  m.node("MatMul", "fc1", {"x", "fc1.W"}, {"fc1_out"});
  m.node("Mul", "scale_up", {"fc1_out", "up"}, {"big"});
  m.node("Relu", "relu", {"big"}, {"relu_out"});
  m.node("Mul", "scale_down", {"relu_out", "down"}, {"small"});
  m.node("MatMul", "fc2", {"small", "fc2.W"}, {"y"});
  return m.take();
}

onnx::ModelProto reshapeChainModel(uint32_t seed) {
  Weights none;
  Model m(none);
  m.input("x", {-1, 4, 6});
  m.output("y", {-1, 5});
  m.int64Constant("zero", {0});
  m.int64Constant("minus_one", {-1});
  m.weight("proj.W", {24, 5}, seed * 100 + 1);
  m.weight("proj.B", {5}, seed * 100 + 2);
  m.node("Relu", "relu", {"x"}, {"relu_out"});
  m.node("Shape", "shape", {"x"}, {"x_shape"});
  auto* g = m.node("Gather", "gather", {"x_shape", "zero"}, {"batch_dim"});
  Model::integer(g, "axis", 0);
  auto* c = m.node("Concat", "concat", {"batch_dim", "minus_one"}, {"new_shape"});
  Model::integer(c, "axis", 0);
  m.node("Reshape", "reshape", {"relu_out", "new_shape"}, {"flat"});
  m.node("MatMul", "proj/matmul", {"flat", "proj.W"}, {"proj_mm"});
  m.node("Add", "proj/add", {"proj_mm", "proj.B"}, {"y"});
  return m.take();
}

onnx::ModelProto shapeInputModel() {
  Weights none;
  Model m(none);
  m.input("x", {2, 3, 4});
  m.input("shape", {2}, 7);
  m.input("starts", {1}, 7);
  m.outputOfAnyShape("y");
  m.outputOfAnyShape("z");
  m.int64Constant("ends", {4});
  m.int64Constant("axes", {2});
  m.node("Reshape", "reshape", {"x", "shape"}, {"reshaped"});
  m.node("Relu", "relu", {"reshaped"}, {"y"});
  m.node("Slice", "slice", {"x", "starts", "ends", "axes"}, {"sliced"});
  m.node("Neg", "neg", {"sliced"}, {"z"});
  return m.take();
}

onnx::ModelProto gatherIdsModel() {
  Weights none;
  Model m(none);
  m.input("ids", {2}, 7);
  m.output("y", {2, 3});
  m.weight("table", {4, 3}, 5);
  m.node("Gather", "gather", {"table", "ids"}, {"y"});
  return m.take();
}

onnx::ModelProto wideSliceModel() {
  Weights none;
  Model m(none);
  m.input("x", {64, 64});
  m.input("starts", {1}, 7);
  m.outputOfAnyShape("z");
  m.int64Constant("ends", {64});
  m.int64Constant("axes", {1});
  m.node("Slice", "slice", {"x", "starts", "ends", "axes"}, {"sliced"});
  m.node("Neg", "neg", {"sliced"}, {"z"});
  return m.take();
}

onnx::ModelProto resizeScalesInputModel() {
  Weights none;
  Model m(none);
  m.input("x", {1, 1, 2, 2});
  m.input("scales", {4});
  m.outputOfAnyShape("y");
  m.node("Resize", "resize", {"x", "", "scales"}, {"y"});
  return m.take();
}

onnx::ModelProto inPlaceChainModel(uint32_t seed) {
  Weights none;
  Model m(none);
  m.input("x", {-1, 4, 6});
  m.output("y", {-1, 24});
  m.weight("scale", {6}, seed * 100 + 1);
  m.weight("bias", {6}, seed * 100 + 2);
  m.node("Mul", "scale", {"x", "scale"}, {"scaled"});
  m.node("Relu", "relu", {"scaled"}, {"relu_out"});
  m.node("Add", "bias", {"relu_out", "bias"}, {"biased"});
  m.node("Sigmoid", "sigmoid", {"biased"}, {"gate"});
  m.node("Flatten", "flatten_gate", {"gate"}, {"gate_flat"});
  m.node("Tanh", "tanh", {"gate_flat"}, {"squashed"});
  m.node("Flatten", "flatten_relu", {"relu_out"}, {"relu_flat"});
  m.node("Mul", "product", {"squashed", "relu_flat"}, {"product_out"});
  m.node("Neg", "neg", {"product_out"}, {"y"});
  return m.take();
}

std::map<std::string, ir::Tensor> runContext(const Engine& engine, ExecutionContext& ctx,
                                             const std::map<std::string, ir::Tensor>& inputs) {
  std::map<std::string, ir::Tensor> in = inputs;  // bound below: must stay alive during the run
  for (auto& [name, t] : in) ctx.setInputShape(name, t.shape());
  for (auto& [name, t] : in) ctx.setTensorAddress(name, t.raw());
  std::map<std::string, ir::Tensor> out;
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    out.emplace(name, ir::Tensor(engine.tensorType(name), ctx.tensorShape(name)));
  }
  for (auto& [name, t] : out) ctx.setTensorAddress(name, t.raw());
  ctx.enqueue(nullptr);
  return out;
}

Engine buildEngine(const Network& network, const BuilderConfig& config, std::string* report) {
  std::vector<std::byte> plan = Builder::buildSerializedNetwork(network, config, report);
  return Engine::deserialize(plan);
}

std::map<std::string, ir::Tensor> reference(const Network& network, const std::map<std::string, ir::Tensor>& inputs) {
  return cpu::runReference(network.impl().graph, inputs);
}

double maxAbsDiff(const ir::Tensor& a, const ir::Tensor& b) {
  if (a.shape() != b.shape() || a.type() != b.type()) return std::numeric_limits<double>::infinity();
  std::vector<double> x = a.toDouble(), y = b.toDouble();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::fabs(x[i] - y[i]);
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    m = std::max(m, d);
  }
  return m;
}

std::string compareOutputs(const std::map<std::string, ir::Tensor>& expected,
                           const std::map<std::string, ir::Tensor>& actual, double rtol, double atol) {
  for (const auto& [name, e] : expected) {
    auto it = actual.find(name);
    if (it == actual.end()) return "output '" + name + "' is missing";
    const ir::Tensor& a = it->second;
    if (a.shape() != e.shape())
      return "output '" + name + "': shape " + toString(a.shape()) + ", expected " + toString(e.shape());
    std::vector<double> x = e.toDouble(), y = a.toDouble();
    for (size_t i = 0; i < x.size(); ++i) {
      if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(x[i]))) {
        std::ostringstream os;
        os << "output '" << name << "' [" << i << "]: " << y[i] << ", expected " << x[i];
        return os.str();
      }
    }
  }
  return "";
}

OptimizationProfile batchProfile(const std::string& input, const Dims& rest, int64_t min, int64_t opt, int64_t max) {
  auto with = [&](int64_t b) {
    Dims d{b};
    d.insert(d.end(), rest.begin(), rest.end());
    return d;
  };
  OptimizationProfile p;
  p.setDimensions(input, ProfileDims{with(min), with(opt), with(max)});
  return p;
}

BuilderConfig cpuConfig() {
  BuilderConfig config;
  config.setDevice(DeviceKind::kCPU);
  return config;
}

CapturingLogger::CapturingLogger() { setLogger(this); }
CapturingLogger::~CapturingLogger() { setLogger(nullptr); }

void CapturingLogger::log(Severity severity, std::string_view message) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.emplace_back(severity, std::string(message));
  } catch (...) {
  }
}

std::vector<std::string> CapturingLogger::warnings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [s, m] : messages_)
    if (s == Severity::kWARNING) out.push_back(m);
  return out;
}

}  // namespace kiln::testing
