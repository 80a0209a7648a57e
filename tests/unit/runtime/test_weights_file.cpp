#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "kiln/errors.h"
#include "kiln/refitter.h"
#include "onnx.pb.h"
#include "runtime/weights_file.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class WeightsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiln_weights_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A raw safetensors file: header length, header text, data.
  std::string writeRaw(const std::string& name, const std::string& header, size_t data_bytes,
                       std::optional<uint64_t> header_length = std::nullopt) {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    uint64_t n = header_length.value_or(header.size());
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data_bytes, '\x01');
    return p;
  }

  void expectError(const std::string& file, ErrorCode code, const std::string& fragment) {
    try {
      (void)readWeightsFile(file);
      ADD_FAILURE() << file << " loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    }
  }

  fs::path dir_;
};

NamedWeight weight(DataType type, Dims dims, uint32_t seed) {
  NamedWeight w;
  w.type = type;
  w.dims = std::move(dims);
  size_t n = elementSize(type);
  for (int64_t d : w.dims) n *= static_cast<size_t>(d);
  std::mt19937 rng(seed);
  w.values.resize(n);
  for (std::byte& b : w.values) b = static_cast<std::byte>(rng() & (type == DataType::kBOOL ? 1 : 0xFF));
  return w;
}

TEST_F(WeightsFile, SafetensorsRoundTripEveryType) {
  std::map<std::string, NamedWeight> weights;
  uint32_t seed = 1;
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT8,
                     DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32, DataType::kUINT32,
                     DataType::kINT64, DataType::kUINT64, DataType::kBOOL}) {
    weights["w." + std::string(toString(t))] = weight(t, {3, static_cast<int64_t>(seed)}, seed);
    ++seed;
  }
  weights["scalar"] = weight(DataType::kFLOAT, {}, 99);
  weights["empty"] = weight(DataType::kFLOAT, {0, 5}, 100);
  std::string file = path("model.safetensors");
  writeSafetensors(file, weights);
  std::map<std::string, NamedWeight> back = readWeightsFile(file);
  ASSERT_EQ(back.size(), weights.size());
  for (const auto& [name, w] : weights) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_EQ(back[name].type, w.type) << name;
    EXPECT_EQ(back[name].dims, w.dims) << name;
    EXPECT_EQ(back[name].values, w.values) << name;
  }
}

TEST_F(WeightsFile, SafetensorsIgnoresMetadataAndPadding) {
  float v[2] = {1.5f, -2.0f};
  std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   )";
  std::string file = path("m.safetensors");
  {
    std::ofstream out(file, std::ios::binary);
    uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header;
    out.write(reinterpret_cast<const char*>(v), sizeof v);
  }
  auto w = readWeightsFile(file);
  ASSERT_EQ(w.size(), 1u);
  float back[2];
  std::memcpy(back, w["a"].values.data(), 8);
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -2.0f);
}

TEST_F(WeightsFile, DamagedSafetensorsAreRefused) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expectError(writeRaw("short.safetensors", "", 0, 0), ErrorCode::kInvalidArgument, "not valid JSON");
  {
    std::string p = path("tiny.safetensors");
    std::ofstream(p, std::ios::binary) << "abc";
    expectError(p, ErrorCode::kInvalidArgument, "truncated");
  }
  expectError(writeRaw("huge.safetensors", ok, 8, uint64_t{1} << 60), ErrorCode::kInvalidArgument, "exceeds");
  expectError(writeRaw("past.safetensors", ok, 8, ok.size() + 100), ErrorCode::kInvalidArgument, "truncated");
  expectError(writeRaw("json.safetensors", R"({"a":{"dtype":"F32",)", 8), ErrorCode::kInvalidArgument, "JSON");
  expectError(writeRaw("array.safetensors", "[1,2]", 8), ErrorCode::kInvalidArgument, "not a JSON object");
  expectError(writeRaw("range.safetensors", ok, 4), ErrorCode::kInvalidArgument, "tensor 'a'");
  expectError(writeRaw("size.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
              ErrorCode::kInvalidArgument, "needs 12 bytes");
  expectError(writeRaw("order.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
              ErrorCode::kInvalidArgument, "tensor 'a'");
  expectError(writeRaw("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
              ErrorCode::kInvalidArgument, "tensor 'a' shape");
  expectError(writeRaw("big.safetensors",
                       R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
              ErrorCode::kInvalidArgument, "tensor 'a'");
  expectError(writeRaw("nodtype.safetensors", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8),
              ErrorCode::kInvalidArgument, "dtype");
  expectError(writeRaw("nooffsets.safetensors", R"({"a":{"dtype":"F32","shape":[2]}})", 8),
              ErrorCode::kInvalidArgument, "data_offsets");
  expectError(writeRaw("f8.safetensors", R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", 8),
              ErrorCode::kUnsupported, "F8_E4M3");
  expectError(writeRaw("overlap.safetensors",
                       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       8),
              ErrorCode::kInvalidArgument, "overlap");
  expectError(path("absent.safetensors"), ErrorCode::kIo, "not found");
  expectError(path("weights.bin"), ErrorCode::kInvalidArgument, "expected .onnx or .safetensors");
}

TEST_F(WeightsFile, TruncatedSafetensorsAreRefusedAtEveryLength) {
  std::map<std::string, NamedWeight> weights{{"a", weight(DataType::kFLOAT, {4}, 1)}, {"b", weight(DataType::kINT64, {2}, 2)}};
  std::string file = path("full.safetensors");
  writeSafetensors(file, weights);
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string p = path("cut.safetensors");
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes.substr(0, n);
    EXPECT_THROW((void)readWeightsFile(p), Error) << n;
  }
}

TEST_F(WeightsFile, WriterRefusesInconsistentWeight) {
  NamedWeight w = weight(DataType::kFLOAT, {2, 2}, 1);
  w.values.pop_back();
  EXPECT_THROW(writeSafetensors(path("bad.safetensors"), {{"w", w}}), Error);
}

TEST_F(WeightsFile, OnnxInitializersAreRead) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  auto* g = model.mutable_graph();
  g->set_name("g");
  auto addValueInfo = [](onnx::ValueInfoProto* vi, const std::string& name, std::vector<int64_t> dims) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(1);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  };
  addValueInfo(g->add_input(), "x", {2, 3});
  addValueInfo(g->add_output(), "z", {3, 2});
  float wv[6] = {1, 2, 3, 4, 5, 6.5f};
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  w->add_dims(2);
  w->add_dims(3);
  w->set_raw_data(reinterpret_cast<const char*>(wv), sizeof wv);
  auto* s = g->add_initializer();
  s->set_name("shape");
  s->set_data_type(7);
  s->add_dims(2);
  s->add_int64_data(3);
  s->add_int64_data(2);
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("add");
  add->add_input("x");
  add->add_input("w");
  add->add_output("y");
  auto* reshape = g->add_node();
  reshape->set_op_type("Reshape");
  reshape->set_name("reshape");
  reshape->add_input("y");
  reshape->add_input("shape");
  reshape->add_output("z");
  std::string file = path("model.onnx");
  {
    std::ofstream out(file, std::ios::binary);
    ASSERT_TRUE(model.SerializeToOstream(&out));
  }
  auto weights = readWeightsFile(file);
  ASSERT_EQ(weights.count("x"), 0u) << "graph inputs are not weights";
  ASSERT_EQ(weights.count("w"), 1u);
  EXPECT_EQ(weights["w"].type, DataType::kFLOAT);
  EXPECT_EQ(weights["w"].dims, (Dims{2, 3}));
  ASSERT_EQ(weights["w"].values.size(), sizeof wv);
  EXPECT_EQ(std::memcmp(weights["w"].values.data(), wv, sizeof wv), 0);
  ASSERT_EQ(weights.count("shape"), 1u);
  EXPECT_EQ(weights["shape"].type, DataType::kINT64);
  int64_t sv[2];
  std::memcpy(sv, weights["shape"].values.data(), sizeof sv);
  EXPECT_EQ(sv[0], 3);
  EXPECT_EQ(sv[1], 2);

  std::string broken = path("broken.onnx");
  std::ofstream(broken, std::ios::binary) << "not a model";
  EXPECT_THROW((void)readWeightsFile(broken), Error);
}

}  // namespace
}  // namespace kiln
