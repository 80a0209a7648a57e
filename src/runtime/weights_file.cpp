// Named weights from .onnx models and .safetensors files (for refit and weight-stripped plans).
//
// safetensors: u64 little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {...}}
// then the data buffer; offsets are relative to its start. Every field is checked before use:
// a damaged file is one kiln::Error naming the file and the tensor.
#include "runtime/weights_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "onnx/importer.h"

namespace kiln {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Same limit as the reference implementation: a larger header is not a real file.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct DtypeName {
  const char* name;
  DataType type;
};
constexpr std::array<DtypeName, 13> kDtypes = {{
    {"F32", DataType::kFLOAT},
    {"F16", DataType::kHALF},
    {"BF16", DataType::kBF16},
    {"F64", DataType::kDOUBLE},
    {"I8", DataType::kINT8},
    {"U8", DataType::kUINT8},
    {"I16", DataType::kINT16},
    {"U16", DataType::kUINT16},
    {"I32", DataType::kINT32},
    {"U32", DataType::kUINT32},
    {"I64", DataType::kINT64},
    {"U64", DataType::kUINT64},
    {"BOOL", DataType::kBOOL},
}};

const char* dtypeName(DataType type) {
  for (const DtypeName& d : kDtypes)
    if (d.type == type) return d.name;
  return nullptr;
}

// Byte size of `dims` of `type`, or nullopt when a dim is negative or the size overflows.
std::optional<uint64_t> byteSize(DataType type, const Dims& dims) {
  uint64_t n = elementSize(type);
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

std::vector<std::byte> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open weights file: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorCode::kIo, path + ": cannot read weights file");
  in.seekg(0);
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(ErrorCode::kIo, path + ": cannot read weights file");
  return bytes;
}

std::map<std::string, NamedWeight> readOnnxWeights(const std::string& path) {
  ir::Graph graph = onnx::importFile(path, onnx::ImportOptions{.fold_constants = false});
  std::map<std::string, NamedWeight> out;
  for (const ir::TensorInfo& t : graph.tensors) {
    if (!t.is_initializer || !t.value) continue;
    NamedWeight w;
    w.type = t.value->type();
    w.dims = t.value->shape();
    w.values.assign(t.value->bytes().begin(), t.value->bytes().end());
    out.emplace(t.name, std::move(w));
  }
  return out;
}

std::map<std::string, NamedWeight> readSafetensors(const std::string& path) {
  auto fail = [&](const std::string& what) -> void { throw Error(ErrorCode::kInvalidArgument, path + ": " + what); };
  std::vector<std::byte> bytes = readWholeFile(path);
  if (bytes.size() < 8)
    fail("truncated safetensors file: " + std::to_string(bytes.size()) + " bytes, the header length alone needs 8");
  uint64_t header_size;
  std::memcpy(&header_size, bytes.data(), sizeof header_size);
  if (header_size > kMaxHeaderBytes)
    fail("safetensors header length " + std::to_string(header_size) + " exceeds the " +
         std::to_string(kMaxHeaderBytes) + "-byte limit");
  if (header_size > bytes.size() - 8)
    fail("truncated safetensors file: header length " + std::to_string(header_size) + " but only " +
         std::to_string(bytes.size() - 8) + " bytes follow");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  json header = json::parse(text, text + header_size, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail("safetensors header is not valid JSON");
  if (!header.is_object()) fail("safetensors header is not a JSON object");
  std::span<const std::byte> data = std::span<const std::byte>(bytes).subspan(8 + header_size);

  std::map<std::string, NamedWeight> out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    std::string where = "tensor '" + name + "'";
    if (!entry.is_object()) fail(where + " is not a JSON object");
    auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) fail(where + " has no dtype string");
    const std::string& dtype_name = dtype->get_ref<const std::string&>();
    auto known = std::find_if(kDtypes.begin(), kDtypes.end(), [&](const DtypeName& d) { return dtype_name == d.name; });
    if (known == kDtypes.end())
      throw Error(ErrorCode::kUnsupported, path + ": " + where + " has dtype '" + dtype_name + "', which kiln does not support");
    NamedWeight w;
    w.type = known->type;
    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) fail(where + " has no shape array");
    for (const json& d : *shape) {
      if (!d.is_number_unsigned()) fail(where + " shape has an entry that is not a non-negative integer");
      uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail(where + " shape entry is too large");
      w.dims.push_back(static_cast<int64_t>(v));
    }
    auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      fail(where + " has no data_offsets [begin, end] of non-negative integers");
    uint64_t begin = (*offsets)[0].get<uint64_t>();
    uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end) fail(where + " data_offsets begin " + std::to_string(begin) + " is after end " + std::to_string(end));
    if (end > data.size())
      fail(where + " data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] extend past the " +
           std::to_string(data.size()) + "-byte data buffer (truncated file?)");
    std::optional<uint64_t> expected = byteSize(w.type, w.dims);
    if (!expected) fail(where + " shape " + toString(w.dims) + " is too large");
    if (*expected != end - begin)
      fail(where + " of dtype " + dtype_name + " and shape " + toString(w.dims) + " needs " +
           std::to_string(*expected) + " bytes, its data_offsets give " + std::to_string(end - begin));
    w.values.assign(data.begin() + static_cast<ptrdiff_t>(begin), data.begin() + static_cast<ptrdiff_t>(end));
    ranges.emplace_back(begin, end);
    out.emplace(name, std::move(w));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second && ranges[i].first != ranges[i].second &&
        ranges[i - 1].first != ranges[i - 1].second)
      fail("tensors overlap in the data buffer at byte " + std::to_string(ranges[i].first));
  return out;
}

std::string lowerExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

std::map<std::string, NamedWeight> readWeightsFile(const std::string& path) {
  std::string ext = lowerExtension(path);
  if (ext != ".onnx" && ext != ".safetensors")
    throw Error(ErrorCode::kInvalidArgument, path + ": unknown weights file type '" + ext +
                                                 "' (expected .onnx or .safetensors)");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(ErrorCode::kIo, path + ": weights file not found");
  return ext == ".onnx" ? readOnnxWeights(path) : readSafetensors(path);
}

void writeSafetensors(const std::string& path, const std::map<std::string, NamedWeight>& weights) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, w] : weights) {
    const char* dtype = dtypeName(w.type);
    if (!dtype) throw Error(ErrorCode::kUnsupported, path + ": weight '" + name + "' has a type safetensors cannot name");
    std::optional<uint64_t> expected = byteSize(w.type, w.dims);
    if (!expected || *expected != w.values.size())
      throw Error(ErrorCode::kInvalidArgument, path + ": weight '" + name + "' has " + std::to_string(w.values.size()) +
                                                   " bytes, its type and dims " + toString(w.dims) + " need " +
                                                   (expected ? std::to_string(*expected) : std::string("too many")));
    header[name] = {{"dtype", dtype}, {"shape", w.dims}, {"data_offsets", {offset, offset + w.values.size()}}};
    offset += w.values.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned
  uint64_t header_size = text.size();

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, path + ": cannot write weights file: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(&header_size), sizeof header_size);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, w] : weights)
    out.write(reinterpret_cast<const char*>(w.values.data()), static_cast<std::streamsize>(w.values.size()));
  out.close();
  if (!out) throw Error(ErrorCode::kIo, path + ": cannot write weights file");
}

}  // namespace kiln
