// The normalize steps of older opsets: each older form (opsets 7 to 10) computes on the CPU
// reference what the canonical form written by hand computes, on random non-zero data; the
// forms kiln refuses say which op and version. Models are written with the generated protobuf
// classes, as in test_bad_models.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "kiln/errors.h"
#include "onnx.pb.h"
#include "onnx/importer.h"
#include "support/models.h"

namespace kiln {
namespace {

namespace pb = ::kiln::onnx;

constexpr int kOnnxFloat = 1;
constexpr int kOnnxInt64 = 7;

//! A one-node-and-more model under construction: float inputs, constant initializers, nodes.
class ModelWriter {
 public:
  explicit ModelWriter(int64_t opset) {
    m_.set_ir_version(8);
    auto* id = m_.add_opset_import();
    id->set_domain("");
    id->set_version(opset);
    m_.mutable_graph()->set_name("old_forms");
  }
  ModelWriter& input(const std::string& name, const std::vector<int64_t>& dims, int type = kOnnxFloat) {
    valueInfo(m_.mutable_graph()->add_input(), name, dims, type);
    return *this;
  }
  ModelWriter& output(const std::string& name, int type = kOnnxFloat) {
    valueInfo(m_.mutable_graph()->add_output(), name, std::nullopt, type);
    return *this;
  }
  ModelWriter& floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
    return initializer(name, dims, kOnnxFloat, v.data(), v.size() * sizeof(float));
  }
  ModelWriter& ints(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& v) {
    return initializer(name, dims, kOnnxInt64, v.data(), v.size() * sizeof(int64_t));
  }
  pb::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs) {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(m_.graph().node_size()));
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return *n;
  }
  ir::Graph import() const {
    std::string s = m_.SerializeAsString();
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return onnx::importBytes(b, {}, "old_forms.onnx");
  }

 private:
  static void valueInfo(pb::ValueInfoProto* vi, const std::string& name, std::optional<std::vector<int64_t>> dims,
                        int type) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    if (dims) {
      auto* shape = tt->mutable_shape();
      for (int64_t d : *dims) shape->add_dim()->set_dim_value(d);
    }
  }
  ModelWriter& initializer(const std::string& name, const std::vector<int64_t>& dims, int type, const void* data,
                           size_t bytes) {
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(static_cast<const char*>(data), bytes));
    return *this;
  }
  pb::ModelProto m_;
};

void setFloat(pb::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(1);
  a->set_f(v);
}
void setInt(pb::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(2);
  a->set_i(v);
}
void setString(pb::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(3);
  a->set_s(v);
}
void setFloats(pb::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(6);
  for (float f : v) a->add_floats(f);
}
void setInts(pb::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(7);
  for (int64_t i : v) a->add_ints(i);
}

//! Runs both models on the CPU reference with `inputs` and expects output "y" to be equal.
void expectSameOutput(const ModelWriter& old_form, const ModelWriter& canonical,
                      const std::map<std::string, ir::Tensor>& inputs) {
  auto a = cpu::runReference(old_form.import(), inputs);
  auto b = cpu::runReference(canonical.import(), inputs);
  ASSERT_EQ(a.count("y"), 1u);
  ASSERT_EQ(b.count("y"), 1u);
  const ir::Tensor& ya = a.at("y");
  const ir::Tensor& yb = b.at("y");
  ASSERT_EQ(ya.type(), yb.type());
  ASSERT_EQ(ya.shape(), yb.shape());
  ASSERT_GT(ya.numel(), 0);
  for (int64_t i = 0; i < ya.numel(); ++i) EXPECT_DOUBLE_EQ(ya.at(i), yb.at(i)) << "element " << i;
}

std::string importError(const ModelWriter& m) {
  try {
    (void)m.import();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "the model loaded";
  return {};
}

TEST(OldOpsetForms, Upsample7And9AreResizeWithAsymmetricFloorCoordinates) {
  const ir::Tensor x = testing::randomInput({1, 2, 3, 4}, 1);
  for (const std::string mode : {"nearest", "linear"}) {
    ModelWriter up7(7);
    up7.input("x", {1, 2, 3, 4}).output("y");
    auto& n7 = up7.node("Upsample", {"x"}, {"y"});
    setFloats(n7, "scales", {1, 1, 2, 3});
    setString(n7, "mode", mode);
    ModelWriter up9(9);
    up9.input("x", {1, 2, 3, 4}).floats("s", {4}, {1, 1, 2, 3}).output("y");
    setString(up9.node("Upsample", {"x", "s"}, {"y"}), "mode", mode);
    ModelWriter resize(13);
    resize.input("x", {1, 2, 3, 4}).floats("s", {4}, {1, 1, 2, 3}).output("y");
    auto& r = resize.node("Resize", {"x", "", "s"}, {"y"});
    setString(r, "mode", mode);
    setString(r, "coordinate_transformation_mode", "asymmetric");
    if (mode == "nearest") setString(r, "nearest_mode", "floor");
    expectSameOutput(up7, resize, {{"x", x}});
    expectSameOutput(up9, resize, {{"x", x}});
  }
  // Integer nearest upsampling repeats each element (the example of the ONNX spec).
  ModelWriter up9(9);
  up9.input("x", {1, 2, 3, 4}).floats("s", {4}, {1, 1, 2, 3}).output("y");
  up9.node("Upsample", {"x", "s"}, {"y"});
  auto y = cpu::runReference(up9.import(), {{"x", x}}).at("y");
  ASSERT_EQ(y.shape(), (ir::Shape{1, 2, 6, 12}));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t w = 0; w < 12; ++w) EXPECT_EQ(y.at((c * 6 + h) * 12 + w), x.at((c * 3 + h / 2) * 4 + w / 3));
}

TEST(OldOpsetForms, Resize10IsResize11WithScalesThird) {
  const ir::Tensor x = testing::randomInput({1, 1, 4, 6}, 2);
  for (const std::string mode : {"nearest", "linear"}) {
    for (const std::vector<float>& scales : {std::vector<float>{1, 1, 2, 1.5f}, std::vector<float>{1, 1, 0.5f, 0.5f}}) {
      ModelWriter r10(10);
      r10.input("x", {1, 1, 4, 6}).floats("s", {4}, scales).output("y");
      setString(r10.node("Resize", {"x", "s"}, {"y"}), "mode", mode);
      ModelWriter r13(13);
      r13.input("x", {1, 1, 4, 6}).floats("s", {4}, scales).output("y");
      auto& r = r13.node("Resize", {"x", "", "s"}, {"y"});
      setString(r, "mode", mode);
      setString(r, "coordinate_transformation_mode", "asymmetric");
      if (mode == "nearest") setString(r, "nearest_mode", "floor");
      expectSameOutput(r10, r13, {{"x", x}});
    }
  }
}

TEST(OldOpsetForms, BatchNormalization7SpatialIsDroppedOrRefused) {
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 3);
  auto write = [](int64_t opset, std::optional<int64_t> spatial) {
    ModelWriter m(opset);
    m.input("x", {2, 3, 4})
        .floats("scale", {3}, {0.5f, -1.5f, 2.f})
        .floats("b", {3}, {0.1f, 0.2f, -0.3f})
        .floats("mean", {3}, {0.3f, -0.2f, 0.1f})
        .floats("var", {3}, {1.5f, 0.7f, 0.2f})
        .output("y");
    auto& n = m.node("BatchNormalization", {"x", "scale", "b", "mean", "var"}, {"y"});
    setFloat(n, "epsilon", 1e-3f);
    if (spatial) setInt(n, "spatial", *spatial);
    return m;
  };
  expectSameOutput(write(7, 1), write(15, std::nullopt), {{"x", x}});
  expectSameOutput(write(7, std::nullopt), write(15, std::nullopt), {{"x", x}});
  std::string msg = importError(write(7, 0));
  EXPECT_NE(msg.find("BatchNormalization-7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("spatial=0"), std::string::npos) << msg;
}

TEST(OldOpsetForms, Slice1AttributesBecomeInputs) {
  const ir::Tensor x = testing::randomInput({4, 5, 6}, 4);
  ModelWriter s1(9);
  s1.input("x", {4, 5, 6}).output("y");
  auto& n = s1.node("Slice", {"x"}, {"y"});
  setInts(n, "starts", {1, -4});
  setInts(n, "ends", {100, -1});
  setInts(n, "axes", {0, 2});
  ModelWriter s13(13);
  s13.input("x", {4, 5, 6}).ints("st", {2}, {1, -4}).ints("en", {2}, {100, -1}).ints("ax", {2}, {0, 2}).output("y");
  s13.node("Slice", {"x", "st", "en", "ax"}, {"y"});
  expectSameOutput(s1, s13, {{"x", x}});
  // Without axes: the first len(starts) axes.
  ModelWriter s1b(7);
  s1b.input("x", {4, 5, 6}).output("y");
  auto& nb = s1b.node("Slice", {"x"}, {"y"});
  setInts(nb, "starts", {0, 1});
  setInts(nb, "ends", {3, 4});
  ModelWriter s13b(13);
  s13b.input("x", {4, 5, 6}).ints("st", {2}, {0, 1}).ints("en", {2}, {3, 4}).output("y");
  s13b.node("Slice", {"x", "st", "en"}, {"y"});
  expectSameOutput(s1b, s13b, {{"x", x}});
}

TEST(OldOpsetForms, Pad2AttributesBecomeInputsOfTheInputType) {
  const ir::Tensor x = testing::randomInput({2, 3, 4}, 5);
  for (const std::string mode : {"constant", "reflect", "edge"}) {
    // Pad applies to a computed tensor (Relu's output), whose type the normalize step reads.
    ModelWriter p2(10);
    p2.input("x", {2, 3, 4}).output("y");
    p2.node("Relu", {"x"}, {"r"});
    auto& n = p2.node("Pad", {"r"}, {"y"});
    setInts(n, "pads", {0, 1, 2, 0, 2, 1});
    setFloat(n, "value", 1.5f);
    setString(n, "mode", mode);
    ModelWriter p13(13);
    p13.input("x", {2, 3, 4}).ints("pads", {6}, {0, 1, 2, 0, 2, 1}).floats("v", {}, {1.5f}).output("y");
    p13.node("Relu", {"x"}, {"r"});
    setString(p13.node("Pad", {"r", "pads", mode == "constant" ? "v" : ""}, {"y"}), "mode", mode);
    expectSameOutput(p2, p13, {{"x", x}});
  }
}

TEST(OldOpsetForms, Clip6AttributesBecomeInputsOfTheInputType) {
  const ir::Tensor x = testing::randomInput({3, 7}, 6);
  struct Bounds {
    std::optional<float> min, max;
  };
  for (const Bounds& b : {Bounds{-0.3f, 0.4f}, Bounds{std::nullopt, 0.2f}, Bounds{-0.1f, std::nullopt}}) {
    ModelWriter c6(9);
    c6.input("x", {3, 7}).output("y");
    c6.node("Neg", {"x"}, {"n"});
    auto& n = c6.node("Clip", {"n"}, {"y"});
    if (b.min) setFloat(n, "min", *b.min);
    if (b.max) setFloat(n, "max", *b.max);
    ModelWriter c13(13);
    c13.input("x", {3, 7}).output("y");
    if (b.min) c13.floats("lo", {}, {*b.min});
    if (b.max) c13.floats("hi", {}, {*b.max});
    c13.node("Neg", {"x"}, {"n"});
    c13.node("Clip", {"n", b.min ? "lo" : "", b.max ? "hi" : ""}, {"y"});
    expectSameOutput(c6, c13, {{"x", x}});
  }
}

TEST(OldOpsetForms, TopK1AttributeBecomesInput) {
  const ir::Tensor x = testing::randomInput({3, 8}, 7);
  ModelWriter t1(9);
  t1.input("x", {3, 8}).output("y").output("i", kOnnxInt64);
  auto& n = t1.node("TopK", {"x"}, {"y", "i"});
  setInt(n, "k", 3);
  setInt(n, "axis", 1);
  ModelWriter t11(11);
  t11.input("x", {3, 8}).ints("k", {1}, {3}).output("y").output("i", kOnnxInt64);
  setInt(t11.node("TopK", {"x", "k"}, {"y", "i"}), "axis", 1);
  expectSameOutput(t1, t11, {{"x", x}});
  auto a = cpu::runReference(t1.import(), {{"x", x}}).at("i");
  auto b = cpu::runReference(t11.import(), {{"x", x}}).at("i");
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t j = 0; j < a.numel(); ++j) EXPECT_EQ(a.intAt(j), b.intAt(j));
}

TEST(OldOpsetForms, Scatter9IsScatterElements) {
  const ir::Tensor x = testing::randomInput({3, 4}, 8);
  const ir::Tensor u = testing::randomInput({2, 4}, 9);
  auto write = [](int64_t opset, const char* op) {
    ModelWriter m(opset);
    m.input("x", {3, 4}).input("u", {2, 4}).ints("idx", {2, 4}, {2, 0, 1, 2, 0, 1, 2, 1}).output("y");
    setInt(m.node(op, {"x", "idx", "u"}, {"y"}), "axis", 0);
    return m;
  };
  expectSameOutput(write(9, "Scatter"), write(11, "ScatterElements"), {{"x", x}, {"u", u}});
}

TEST(OldOpsetForms, Dropout7IsIdentityAndItsMaskIsRefused) {
  const ir::Tensor x = testing::randomInput({2, 5}, 10);
  ModelWriter d7(7);
  d7.input("x", {2, 5}).output("y");
  setFloat(d7.node("Dropout", {"x"}, {"y"}), "ratio", 0.25f);
  ModelWriter id(13);
  id.input("x", {2, 5}).output("y");
  id.node("Identity", {"x"}, {"y"});
  expectSameOutput(d7, id, {{"x", x}});
  ModelWriter masked(7);
  masked.input("x", {2, 5}).output("y").output("mask");
  masked.node("Dropout", {"x"}, {"y", "mask"});
  std::string msg = importError(masked);
  EXPECT_NE(msg.find("Dropout-7"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln
