// Bad ONNX input through the importer: every broken model ends in a kiln::Error that names
// the thing at fault, never in a crash or another exception type. The models are written
// here with the generated protobuf classes, so no binary test files are needed.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "kiln/errors.h"
#include "onnx.pb.h"
#include "onnx/importer.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
namespace pb = ::kiln::onnx;  // the generated ModelProto & co. share the importer's namespace

constexpr int kOnnxFloat = 1;

// --- a tiny model writer ----------------------------------------------------------------------

void setTensorType(pb::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(kOnnxFloat);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

pb::ModelProto emptyModel(int64_t opset = 17) {
  pb::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("kiln tests");
  auto* id = m.add_opset_import();
  id->set_domain("");
  id->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

void addInput(pb::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims) {
  setTensorType(m.mutable_graph()->add_input(), name, dims);
}
void addOutput(pb::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims) {
  setTensorType(m.mutable_graph()->add_output(), name, dims);
}
pb::NodeProto* addNode(pb::ModelProto& m, const std::string& op, const std::string& name,
                       const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}
pb::TensorProto* addInitializer(pb::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(kOnnxFloat);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

const std::vector<float> kWeight = {1.f, -2.f, 3.f, -4.f, 5.f, -6.f};

// y = Relu(x + w), x and w of shape [2,3]: small, valid, and exercises initializers.
pb::ModelProto addReluModel() {
  pb::ModelProto m = emptyModel();
  addInput(m, "x", {2, 3});
  addInitializer(m, "w", {2, 3}, kWeight);
  addNode(m, "Add", "add", {"x", "w"}, {"sum"});
  addNode(m, "Relu", "relu", {"sum"}, {"y"});
  addOutput(m, "y", {2, 3});
  return m;
}

std::vector<std::byte> bytesOf(const pb::ModelProto& m) {
  std::string s = m.SerializeAsString();
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

ir::Graph importModel(const pb::ModelProto& m) { return onnx::importBytes(bytesOf(m), {}, "test.onnx"); }

// The importer's message for `m`, failing the test if it loads or throws anything else.
std::string importError(const pb::ModelProto& m, ErrorCode* code = nullptr) {
  try {
    (void)importModel(m);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  ADD_FAILURE() << "the model loaded";
  return {};
}

// Imports arbitrary bytes: a graph or a kiln::Error are both fine; anything else is a bug.
void expectGraphOrError(std::span<const std::byte> bytes, const std::string& what) {
  try {
    (void)onnx::importBytes(bytes, {}, "damaged.onnx");
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-kiln exception: " << e.what();
  }
}

#define EXPECT_CONTAINS(text, fragment) \
  EXPECT_NE(std::string(text).find(fragment), std::string::npos) << "'" << (fragment) << "' not in: " << (text)

// --- damaged bytes ----------------------------------------------------------------------------

TEST(BadModels, ValidModelLoads) {
  ir::Graph g = importModel(addReluModel());
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "y");
}

TEST(BadModels, EveryTruncationIsAnErrorOrAGraph) {
  std::vector<std::byte> bytes = bytesOf(addReluModel());
  for (size_t len = 0; len < bytes.size(); ++len)
    expectGraphOrError(std::span(bytes.data(), len), "prefix of " + std::to_string(len) + " bytes");
}

TEST(BadModels, RandomCorruptionIsAnErrorOrAGraph) {
  const std::vector<std::byte> clean = bytesOf(addReluModel());
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::byte> bytes = clean;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<std::byte>(rng() & 0xFF);
    expectGraphOrError(bytes, "trial " + std::to_string(trial));
  }
}

TEST(BadModels, GarbageIsAParseError) {
  std::string text = "this is not a protobuf, just text \xff\xff\xff\xff";
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  try {
    (void)onnx::importBytes(bytes, {}, "garbage.onnx");
    ADD_FAILURE() << "garbage loaded";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "garbage.onnx");
  }
}

// --- unsupported operators and opsets ---------------------------------------------------------

TEST(BadModels, UnknownOpNamesOpOpsetCountAndFirstNode) {
  pb::ModelProto m = emptyModel();
  addInput(m, "x", {2, 3});
  addNode(m, "FancyOp", "fancy_first", {"x"}, {"a"});
  addNode(m, "FancyOp", "fancy_second", {"a"}, {"y"});
  addOutput(m, "y", {2, 3});
  ErrorCode code{};
  std::string msg = importError(m, &code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_CONTAINS(msg, "test.onnx");
  EXPECT_CONTAINS(msg, "FancyOp");
  EXPECT_CONTAINS(msg, "opset 17");
  EXPECT_CONTAINS(msg, "x2");
  EXPECT_CONTAINS(msg, "fancy_first");
}

TEST(BadModels, TwoUnsupportedOpsAreListedInOneError) {
  pb::ModelProto m = emptyModel();
  addInput(m, "x", {2, 3});
  addNode(m, "FancyOp", "fancy", {"x"}, {"a"});
  addNode(m, "Relu", "relu", {"a"}, {"b"});
  addNode(m, "OtherOp", "other", {"b"}, {"y"});
  addOutput(m, "y", {2, 3});
  std::string msg = importError(m);
  EXPECT_CONTAINS(msg, "2 unsupported operator types");
  EXPECT_CONTAINS(msg, "FancyOp");
  EXPECT_CONTAINS(msg, "'fancy'");
  EXPECT_CONTAINS(msg, "OtherOp");
  EXPECT_CONTAINS(msg, "'other'");
}

TEST(BadModels, CustomDomainOpIsUnsupported) {
  pb::ModelProto m = emptyModel();
  addInput(m, "x", {2, 3});
  addNode(m, "Relu", "custom_relu", {"x"}, {"y"})->set_domain("com.example");
  addOutput(m, "y", {2, 3});
  std::string msg = importError(m);
  EXPECT_CONTAINS(msg, "com.example");
  EXPECT_CONTAINS(msg, "custom_relu");
}

TEST(BadModels, OpsetsOutsideTheSupportedRange) {
  for (int64_t opset : {int64_t{6}, int64_t{29}}) {
    pb::ModelProto m = addReluModel();
    m.mutable_opset_import(0)->set_version(opset);
    ErrorCode code{};
    std::string msg = importError(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_CONTAINS(msg, "opset " + std::to_string(opset));
    EXPECT_CONTAINS(msg, "test.onnx");
  }
}

TEST(BadModels, NoOpsetImport) {
  pb::ModelProto m = addReluModel();
  m.clear_opset_import();
  EXPECT_CONTAINS(importError(m), "opset");
}

// --- inconsistent graphs ----------------------------------------------------------------------

TEST(BadModels, InconsistentShapesNameTheNode) {
  pb::ModelProto m = emptyModel();
  addInput(m, "a", {2, 3});
  addInput(m, "b", {4, 5});
  addNode(m, "Add", "add_bad", {"a", "b"}, {"y"});
  addOutput(m, "y", {});
  std::string msg = importError(m);
  EXPECT_CONTAINS(msg, "add_bad");
  EXPECT_CONTAINS(msg, "test.onnx");
}

TEST(BadModels, MissingInitializerNamesTheTensor) {
  pb::ModelProto m = emptyModel();
  addInput(m, "x", {2, 3});
  addNode(m, "Add", "add", {"x", "ghost_weight"}, {"y"});
  addOutput(m, "y", {2, 3});
  ErrorCode code{};
  std::string msg = importError(m, &code);
  EXPECT_EQ(code, ErrorCode::kInvalidModel);
  EXPECT_CONTAINS(msg, "ghost_weight");
  EXPECT_CONTAINS(msg, "'add'");
}

TEST(BadModels, InitializerWithWrongByteCount) {
  pb::ModelProto m = addReluModel();
  m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(5);
  std::string msg = importError(m);
  EXPECT_CONTAINS(msg, "'w'");
}

TEST(BadModels, UndefinedGraphOutput) {
  pb::ModelProto m = addReluModel();
  addOutput(m, "nowhere", {2, 3});
  EXPECT_CONTAINS(importError(m), "nowhere");
}

// --- external data ----------------------------------------------------------------------------

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kiln_bad_models_" + std::to_string(std::random_device{}()));
    model_dir_ = root_ / "model";
    fs::create_directories(model_dir_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void writeFile(const fs::path& path, const std::vector<float>& values, size_t pad_front = 0) {
    std::ofstream out(path, std::ios::binary);
    out << std::string(pad_front, '\0');
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
  }

  // addReluModel with `w` moved to external data at `location`.
  fs::path writeModel(const std::string& location, size_t offset = 0) {
    pb::ModelProto m = addReluModel();
    pb::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(1);
    auto add = [&](const std::string& k, const std::string& v) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(kWeight.size() * sizeof(float)));
    fs::path path = model_dir_ / "model.onnx";
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }

  std::string importFileError(const fs::path& path) {
    try {
      (void)onnx::importFile(path);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << path << " loaded";
    return {};
  }

  fs::path root_;
  fs::path model_dir_;
};

TEST_F(ExternalData, RelativePathEscapingTheFolderIsRefused) {
  writeFile(root_ / "x.bin", kWeight);  // exists, so only the escape check can refuse it
  std::string msg = importFileError(writeModel("../x.bin"));
  EXPECT_CONTAINS(msg, "../x.bin");
  EXPECT_CONTAINS(msg, "'w'");
}

TEST_F(ExternalData, AbsolutePathIsRefused) {
  fs::path outside = root_ / "x.bin";
  writeFile(outside, kWeight);
  std::string msg = importFileError(writeModel(outside.string()));
  EXPECT_CONTAINS(msg, outside.string());
}

TEST_F(ExternalData, MissingFileNamesIt) { EXPECT_CONTAINS(importFileError(writeModel("absent.bin")), "absent.bin"); }

TEST_F(ExternalData, ShortFileIsRefused) {
  writeFile(model_dir_ / "short.bin", {1.f, 2.f});
  EXPECT_CONTAINS(importFileError(writeModel("short.bin")), "short.bin");
}

TEST_F(ExternalData, RefusedWhenLoadedFromMemory) {
  writeFile(model_dir_ / "weights.bin", kWeight);
  fs::path path = writeModel("weights.bin");
  std::vector<std::byte> bytes = onnx::readFileBytes(path);
  try {
    (void)onnx::importBytes(bytes, {}, "memory.onnx");
    ADD_FAILURE() << "external data was read without a base folder";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "weights.bin");
  }
}

TEST_F(ExternalData, SameFolderLoadsAndRuns) {
  writeFile(model_dir_ / "weights.bin", kWeight, /*pad_front=*/16);
  ir::Graph g = onnx::importFile(writeModel("weights.bin", /*offset=*/16));
  ir::Tensor x(DataType::kFLOAT, {2, 3});
  auto xv = x.values<float>();
  for (int i = 0; i < 6; ++i) xv[i] = 0.5f * static_cast<float>(i);
  auto out = cpu::runReference(g, {{"x", x}});
  ASSERT_EQ(out.count("y"), 1u);
  const ir::Tensor& y = out.at("y");
  ASSERT_EQ(y.shape(), (ir::Shape{2, 3}));
  auto yv = y.values<float>();
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(yv[i], std::max(0.f, xv[i] + kWeight[i])) << i;
}

}  // namespace
}  // namespace kiln
