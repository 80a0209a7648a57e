#include "support.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ir/half.h"
#include "runtime/weights_loader.h"

namespace kiln::tool {

Dims parseDims(const std::string& text) {
  Dims dims;
  if (text.empty() || text == "scalar") return dims;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    try {
      size_t used = 0;
      long long v = std::stoll(part, &used);
      if (used != part.size() || v < 0) throw std::invalid_argument(part);
      dims.push_back(v);
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidArgument, "bad dimensions '" + text + "' (expected e.g. 1x3x224x224)");
    }
  }
  return dims;
}

void parseShapes(const std::string& text, std::map<std::string, Dims>& out) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw Error(ErrorCode::kInvalidArgument, "bad shape '" + item + "' (expected NAME:1x3x224x224)");
    out[item.substr(0, colon)] = parseDims(item.substr(colon + 1));
  }
}

namespace {
//! "1,-2,3" -> {1, -2, 3}; "" -> {}. The first entry that is no integer goes to `wrong`.
std::vector<int64_t> parseIntegers(const std::string& text, std::string& wrong) {
  std::vector<int64_t> values;
  std::stringstream vs(text);
  std::string part;
  while (std::getline(vs, part, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(part, &used);
      if (used != part.size()) throw std::invalid_argument(part);
      values.push_back(v);
    } catch (const std::exception&) {
      wrong = part;
      return {};
    }
  }
  return values;
}
}  // namespace

namespace {
constexpr const char* kShapeValuesForm =
    " (expected 'INPUT:V1,V2,...[;INPUT2:...]', e.g. 'shape:2,-1'; for kiln build also a range "
    "'INPUT:MIN/OPT/MAX', e.g. 'starts:0/1/3')";

//! One "INPUT:V1,V2" or "INPUT:MIN/OPT/MAX" item of --shape-values `text` into `out`.
void parseShapeValuesItem(const std::string& text, const std::string& item, ShapeValueRanges& out) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "bad --shape-values '" + text + "': " + why + kShapeValuesForm);
  };
  const size_t colon = item.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("'" + item + "' has no INPUT: prefix");
  const std::string name = item.substr(0, colon);
  if (out.count(name)) throw bad("input '" + name + "' is given twice");
  std::vector<std::string> parts;
  std::stringstream ps(item.substr(colon + 1));
  std::string part;
  while (std::getline(ps, part, '/')) parts.push_back(part);
  if (parts.empty()) parts.emplace_back();  // "INPUT:": no values
  if (parts.size() != 1 && parts.size() != 3) throw bad("input '" + name + "': give one value list or MIN/OPT/MAX");
  std::vector<std::vector<int64_t>> lists;
  for (const std::string& list : parts) {
    std::string wrong;
    lists.push_back(parseIntegers(list, wrong));
    if (!wrong.empty()) throw bad("input '" + name + "': '" + wrong + "' is not an integer");
  }
  out[name] = lists.size() == 1 ? ProfileShapeValues{lists[0], lists[0], lists[0]}
                                : ProfileShapeValues{lists[0], lists[1], lists[2]};
}
}  // namespace

ShapeValueRanges parseShapeValueRanges(const std::string& text) {
  ShapeValueRanges out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ';'))
    if (!item.empty()) parseShapeValuesItem(text, item, out);
  if (out.empty())
    throw Error(ErrorCode::kInvalidArgument, "bad --shape-values '" + text + "': no input" + kShapeValuesForm);
  return out;
}

ShapeValues parseShapeValues(const std::string& text) {
  ShapeValues out;
  for (const auto& [name, v] : parseShapeValueRanges(text)) {
    if (v.min != v.max)
      throw Error(ErrorCode::kInvalidArgument,
                  "--shape-values '" + text + "': input '" + name +
                      "' takes one value list here (a range MIN/OPT/MAX is for kiln build)");
    out[name] = v.opt;
  }
  return out;
}

// ---- .npy -----------------------------------------------------------------------------------

namespace {
const char* npyDescr(DataType t) {
  switch (t) {
    case DataType::kFLOAT: return "<f4";
    case DataType::kHALF: return "<f2";
    case DataType::kDOUBLE: return "<f8";
    case DataType::kINT8: return "|i1";
    case DataType::kUINT8: return "|u1";
    case DataType::kINT16: return "<i2";
    case DataType::kUINT16: return "<u2";
    case DataType::kINT32: return "<i4";
    case DataType::kUINT32: return "<u4";
    case DataType::kINT64: return "<i8";
    case DataType::kUINT64: return "<u8";
    case DataType::kBOOL: return "|b1";
    case DataType::kBF16: return "<V2";  // numpy has no bfloat16: raw 2-byte values
  }
  return "";
}
}  // namespace

HostTensor readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(ErrorCode::kInvalidArgument, path + ": not a .npy file");
  size_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<size_t>(b[3]) << 24);
  }
  if (!in || header_len > 65536) throw Error(ErrorCode::kInvalidArgument, path + ": damaged .npy header");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) throw Error(ErrorCode::kInvalidArgument, path + ": truncated .npy header");
  auto field = [&](const std::string& key) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) throw Error(ErrorCode::kInvalidArgument, path + ": .npy header has no '" + key + "'");
    return k + key.size() + 2;
  };
  size_t d = header.find('\'', field("descr") + 1);
  std::string descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  if (header.find("True", field("fortran_order")) < header.find(',', field("fortran_order")))
    throw Error(ErrorCode::kUnsupported, path + ": Fortran-ordered arrays are not supported");
  size_t s = header.find('(', field("shape"));
  size_t e = header.find(')', s);
  if (s == std::string::npos || e == std::string::npos)
    throw Error(ErrorCode::kInvalidArgument, path + ": bad .npy shape");
  HostTensor t;
  std::stringstream shape(header.substr(s + 1, e - s - 1));
  std::string part;
  while (std::getline(shape, part, ',')) {
    if (part.find_first_not_of(" ") == std::string::npos) continue;
    try {
      t.dims.push_back(std::stoll(part));
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidArgument, path + ": bad .npy shape");
    }
  }
  bool found = false;
  for (int i = 0; i <= static_cast<int>(DataType::kBOOL); ++i) {
    auto dt = static_cast<DataType>(i);
    std::string want = npyDescr(dt);
    if (want == descr || (want.size() == 3 && descr.size() == 3 && want.substr(1) == descr.substr(1) &&
                          (descr[0] == '=' || descr[0] == '|' || descr[0] == '<'))) {
      t.type = dt;
      found = true;
      break;
    }
  }
  if (!found) throw Error(ErrorCode::kUnsupported, path + ": .npy type '" + descr + "' is not supported");
  // The data size, checked against what the file holds before anything is allocated for it:
  // a negative or huge dimension is a damaged file, not an allocation or an overflow.
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff file_end = in.tellg();
  in.seekg(data_start);
  if (!in || data_start < 0 || file_end < data_start) throw Error(ErrorCode::kIo, path + ": cannot read .npy data");
  const uint64_t available = static_cast<uint64_t>(file_end - data_start);
  if (t.dims.size() > 64)  // NPY_MAXDIMS: numpy makes no array of a higher rank
    throw Error(ErrorCode::kInvalidArgument,
                path + ": .npy shape has " + std::to_string(t.dims.size()) + " dimensions, numpy allows at most 64");
  uint64_t needed = elementSize(t.type);
  for (int64_t d : t.dims) {
    if (d < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": bad .npy shape: dimension " + std::to_string(d) + " is negative");
    if (d == 0) needed = 0;
  }
  for (int64_t d : t.dims) {
    if (needed == 0) break;
    if (needed > available / static_cast<uint64_t>(d)) {
      needed = available + 1;  // more than the file holds (the exact size may not even fit 64 bits)
      break;
    }
    needed *= static_cast<uint64_t>(d);
  }
  if (needed > available)
    throw Error(ErrorCode::kInvalidArgument, path + ": .npy data is truncated: shape " + toString(t.dims) + " of " +
                                                 descr + " needs more than the " + std::to_string(available) +
                                                 " bytes that follow the header");
  size_t bytes = static_cast<size_t>(needed);
  t.bytes.resize(bytes);
  in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(bytes));
  if (!in) throw Error(ErrorCode::kInvalidArgument, path + ": .npy data is truncated");
  return t;
}

void writeNpy(const std::string& path, const HostTensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.dims.size(); ++i)
    shape += std::to_string(t.dims[i]) + (t.dims.size() == 1 || i + 1 < t.dims.size() ? "," : "");
  shape += ")";
  std::string header =
      std::string("{'descr': '") + npyDescr(t.type) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::vector<std::byte> out;
  const char magic[] = "\x93NUMPY\x01\x00";
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(magic[i]));
  out.push_back(static_cast<std::byte>(header.size() & 0xff));
  out.push_back(static_cast<std::byte>(header.size() >> 8));
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  runtime::writeFileAtomically(path, out);
}

HostTensor randomTensor(DataType type, const Dims& dims, uint32_t seed) {
  HostTensor t{.type = type, .dims = dims};
  size_t n = static_cast<size_t>(volume(dims));
  t.bytes.resize(n * elementSize(type));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 3);
  for (size_t i = 0; i < n; ++i) {
    std::byte* p = t.bytes.data() + i * elementSize(type);
    switch (type) {
      case DataType::kFLOAT: {
        float v = real(rng);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kDOUBLE: {
        double v = real(rng);
        std::memcpy(p, &v, 8);
        break;
      }
      case DataType::kHALF: {
        ir::Half v(real(rng));
        std::memcpy(p, &v, 2);
        break;
      }
      case DataType::kBF16: {
        ir::BFloat16 v(real(rng));
        std::memcpy(p, &v, 2);
        break;
      }
      case DataType::kINT64: {
        int64_t v = small(rng);
        std::memcpy(p, &v, 8);
        break;
      }
      case DataType::kINT32: {
        int32_t v = small(rng);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kBOOL: {
        uint8_t v = small(rng) & 1;
        std::memcpy(p, &v, 1);
        break;
      }
      default: {
        uint8_t v = static_cast<uint8_t>(small(rng));
        std::memset(p, 0, elementSize(type));
        std::memcpy(p, &v, 1);
        break;
      }
    }
  }
  return t;
}

bool isOnnxModel(const std::string& path) {
  std::filesystem::path p(path);
  if (p.extension() == ".onnx") return true;
  if (p.extension() == ".plan" || p.extension() == ".engine") return false;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return std::memcmp(magic, "KILNPLAN", 8) != 0;
}

std::vector<InputSpec> inputSpecs(const Engine& engine) {
  std::vector<InputSpec> specs;
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kINPUT) continue;
    InputSpec spec{.name = name, .type = engine.tensorType(name), .dims = engine.tensorShape(name)};
    for (int32_t p = 0; p < engine.numOptimizationProfiles(); ++p) {
      ProfileDims pd = engine.profileDims(name, p);
      spec.profiles.emplace_back(pd.min, pd.max);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<InputSpec> inputSpecs(const Network& network) {
  std::vector<InputSpec> specs;
  for (int32_t i = 0; i < network.numInputs(); ++i) {
    std::string name = network.inputName(i);
    specs.push_back({.name = name, .type = network.tensorType(name), .dims = network.tensorDims(name)});
  }
  return specs;
}

GivenInputs readGivenInputs(const std::vector<std::string>& flags) {
  GivenInputs given;
  for (const std::string& flag : flags) {
    size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size())
      throw Error(ErrorCode::kInvalidArgument, "bad --input '" + flag + "' (NAME=FILE.npy)");
    std::string name = flag.substr(0, eq), file = flag.substr(eq + 1);
    if (given.files.count(name)) throw Error(ErrorCode::kInvalidArgument, "--input '" + name + "' is given twice");
    given.tensors[name] = readNpy(file);
    given.files[name] = file;
  }
  return given;
}

namespace {
//! The entries of an int32/int64 tensor; empty for other types.
std::vector<int64_t> integerValues(const HostTensor& t) {
  std::vector<int64_t> v;
  if (t.type != DataType::kINT64 && t.type != DataType::kINT32) return v;
  const size_t size = elementSize(t.type);
  v.resize(t.bytes.size() / size);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.type == DataType::kINT64) {
      std::memcpy(&v[i], t.bytes.data() + size * i, size);
    } else {
      int32_t x = 0;
      std::memcpy(&x, t.bytes.data() + size * i, size);
      v[i] = x;
    }
  }
  return v;
}

std::string describeInputs(const std::vector<InputSpec>& inputs, const std::string& owner) {
  std::string text = "the " + owner + "'s inputs are: ";
  for (size_t i = 0; i < inputs.size(); ++i)
    text += (i ? ", " : "") + inputs[i].name + " [" + toString(inputs[i].dims) + " " +
            std::string(toString(inputs[i].type)) + "]";
  return inputs.empty() ? "the " + owner + " has no inputs" : text;
}

bool fitsRange(const Dims& dims, const std::pair<Dims, Dims>& range) {
  for (size_t d = 0; d < dims.size(); ++d)
    if (dims[d] < range.first[d] || dims[d] > range.second[d]) return false;
  return true;
}

// A given file against its input; `flag` starts the message ("--input 'x'").
void checkGivenFile(const InputSpec& spec, const std::string& file, const HostTensor& t,
                    const std::map<std::string, Dims>& shapes) {
  const std::string flag = "--input '" + spec.name + "': ";
  if (t.type != spec.type)
    throw Error(ErrorCode::kInvalidArgument, flag + file + " holds " + std::string(toString(t.type)) +
                                                 " data, but the input takes " + std::string(toString(spec.type)));
  bool fits = t.dims.size() == spec.dims.size();
  for (size_t d = 0; fits && d < t.dims.size(); ++d) fits = spec.dims[d] < 0 || spec.dims[d] == t.dims[d];
  if (!fits)
    throw Error(ErrorCode::kInvalidArgument,
                flag + file + " has shape " + toString(t.dims) + ", but the input takes " + toString(spec.dims));
  if (!spec.profiles.empty() &&
      std::none_of(spec.profiles.begin(), spec.profiles.end(), [&](const auto& r) { return fitsRange(t.dims, r); })) {
    std::string ranges;
    for (const auto& [min, max] : spec.profiles)
      ranges += (ranges.empty() ? "" : "; ") + toString(min) + " to " + toString(max);
    throw Error(ErrorCode::kInvalidArgument, flag + file + " has shape " + toString(t.dims) +
                                                 ", outside the engine's optimization profiles for it (" + ranges +
                                                 ")");
  }
  auto it = shapes.find(spec.name);
  if (it != shapes.end() && it->second != t.dims)
    throw Error(ErrorCode::kInvalidArgument, flag + file + " has shape " + toString(t.dims) + ", but --shapes gives " +
                                                 spec.name + ":" + toString(it->second));
}
}  // namespace

void checkInputs(const std::vector<InputSpec>& inputs, const std::string& owner,
                 const std::map<std::string, Dims>& shapes, const GivenInputs& given) {
  auto find = [&](const std::string& name) {
    auto it = std::find_if(inputs.begin(), inputs.end(), [&](const InputSpec& s) { return s.name == name; });
    return it == inputs.end() ? nullptr : &*it;
  };
  // Names first: a misspelt name would otherwise be used nowhere, and random values run instead.
  for (const auto& [name, file] : given.files)
    if (!find(name))
      throw Error(ErrorCode::kInvalidArgument,
                  "--input '" + name + "': no such input; " + describeInputs(inputs, owner));
  for (const auto& [name, dims] : shapes)
    if (!find(name))
      throw Error(ErrorCode::kInvalidArgument,
                  "--shapes '" + name + "': no such input; " + describeInputs(inputs, owner));
  for (const auto& [name, file] : given.files) checkGivenFile(*find(name), file, given.tensors.at(name), shapes);
}

Engine loadOrBuild(const std::string& path, const std::map<std::string, Dims>& shapes, DeviceKind device,
                   const std::string& weights, std::string* build_report, const GivenInputs& given,
                   ProgressMonitor* progress, const ShapeValues& values) {
  if (!isOnnxModel(path)) {
    Engine engine = Engine::load(path, WeightsSource{weights});
    checkInputs(inputSpecs(engine), "engine", shapes, given);
    return engine;
  }
  Network network = OnnxParser::parseFile(path);
  checkInputs(inputSpecs(network), "model", shapes, given);
  BuilderConfig config;
  config.setDevice(device);
  OptimizationProfile profile;
  bool dynamic = false;
  const std::vector<InputSpec> specs = inputSpecs(network);
  for (const auto& [name, v] : values) {
    const std::string& input = name;  // a structured binding is not captured by lambdas before C++20 in clang 14
    if (std::none_of(specs.begin(), specs.end(), [&](const InputSpec& s) { return s.name == input; }))
      throw Error(ErrorCode::kInvalidArgument,
                  "--shape-values '" + name + "': no such input; " + describeInputs(specs, "model"));
    profile.setShapeValues(name, v, v, v);
    dynamic = true;
  }
  // A shape input given by --input (and not --shape-values) is built for the file's values.
  for (const auto& [name, t] : given.tensors) {
    if (values.count(name) || !network.isShapeInput(name)) continue;
    const std::vector<int64_t> v = integerValues(t);
    profile.setShapeValues(name, v, v, v);
    dynamic = true;
  }
  for (int32_t i = 0; i < network.numInputs(); ++i) {
    std::string name = network.inputName(i);
    Dims dims = network.tensorDims(name);
    bool has_dynamic = false;
    for (int64_t d : dims) has_dynamic = has_dynamic || d < 0;
    auto it = shapes.find(name);
    if (it != shapes.end()) {
      profile.setDimensions(name, {it->second, it->second, it->second});
      dynamic = true;
    } else if (has_dynamic) {
      // Dynamic dims default to 1 (a batch of one) when no shape is given.
      for (auto& d : dims)
        if (d < 0) d = 1;
      profile.setDimensions(name, {dims, dims, dims});
      dynamic = true;
    }
  }
  if (dynamic) config.addOptimizationProfile(profile);
  config.setProgressMonitor(progress);
  std::vector<std::byte> plan = Builder::buildSerializedNetwork(network, config, build_report);
  return Engine::deserialize(plan);
}

void setShapeValues(const Engine& engine, ExecutionContext& context, const ShapeValues& values,
                    const GivenInputs& given) {
  for (const auto& [name, v] : values)
    if (engine.tensorIOMode(name) != TensorIOMode::kINPUT || !engine.isShapeInput(name))
      throw Error(ErrorCode::kInvalidArgument,
                  "--shape-values '" + name + "': the engine has no shape input of that name");
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    const std::string name = engine.ioTensorName(i);
    if (engine.tensorIOMode(name) != TensorIOMode::kINPUT || !engine.isShapeInput(name)) continue;
    if (auto it = values.find(name); it != values.end()) {
      context.setInputShapeValues(name, it->second);
    } else if (auto g = given.tensors.find(name); g != given.tensors.end()) {
      context.setInputShapeValues(name, integerValues(g->second));
    } else if (context.inputShapeValues(name).empty()) {
      context.setInputShapeValues(name, engine.profileShapeValues(name, 0).opt);
    }
  }
}

IoBuffers::IoBuffers(Engine& engine, ExecutionContext& context) : engine_(engine), context_(context) {
  DeviceKind device = engine.device();
  for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
    Io io;
    io.name = engine.ioTensorName(i);
    io.input = engine.tensorIOMode(io.name) == TensorIOMode::kINPUT;
    io.type = engine.tensorType(io.name);
    io.dims = context.tensorShape(io.name);
    for (int64_t d : io.dims)
      if (d < 0) throw Error(ErrorCode::kInvalidArgument, "the shape of '" + io.name + "' is not set (use --shapes)");
    io.bytes = elementSize(io.type) * static_cast<size_t>(volume(io.dims));
    io.device = DeviceBuffer(device, io.bytes);
    io.host = PinnedBuffer(device, io.bytes);
    context.setTensorAddress(io.name, io.device.data());
    io_.push_back(std::move(io));
  }
}

void IoBuffers::setInputs(const std::map<std::string, HostTensor>& given, Stream& stream, uint32_t seed) {
  for (Io& io : io_) {
    if (!io.input) continue;
    auto it = given.find(io.name);
    HostTensor t = it != given.end() ? it->second : randomTensor(io.type, io.dims, seed++);
    if (t.type != io.type || t.dims != io.dims)
      throw Error(ErrorCode::kInvalidArgument, "input '" + io.name + "' must be " + std::string(toString(io.type)) +
                                                   " " + toString(io.dims) + ", the file holds " +
                                                   std::string(toString(t.type)) + " " + toString(t.dims));
    std::memcpy(io.host.data(), t.bytes.data(), io.bytes);
  }
  uploadInputs(stream);
}

void IoBuffers::uploadInputs(Stream& stream) {
  for (Io& io : io_)
    if (io.input) stream.copyToDevice(io.device.data(), io.host.data(), io.bytes);
}

void IoBuffers::downloadOutputs(Stream& stream) {
  for (Io& io : io_)
    if (!io.input) stream.copyToHost(io.host.data(), io.device.data(), io.bytes);
}

HostTensor IoBuffers::output(const std::string& name) const {
  for (const Io& io : io_)
    if (io.name == name) {
      HostTensor t{.type = io.type, .dims = io.dims};
      t.bytes.resize(io.bytes);
      std::memcpy(t.bytes.data(), io.host.data(), io.bytes);
      return t;
    }
  throw Error(ErrorCode::kInvalidArgument, "no I/O tensor named '" + name + "'");
}

std::vector<std::string> IoBuffers::inputNames() const {
  std::vector<std::string> n;
  for (const Io& io : io_)
    if (io.input) n.push_back(io.name);
  return n;
}
std::vector<std::string> IoBuffers::outputNames() const {
  std::vector<std::string> n;
  for (const Io& io : io_)
    if (!io.input) n.push_back(io.name);
  return n;
}
size_t IoBuffers::inputBytes() const {
  size_t b = 0;
  for (const Io& io : io_) b += io.input ? io.bytes : 0;
  return b;
}
size_t IoBuffers::outputBytes() const {
  size_t b = 0;
  for (const Io& io : io_) b += io.input ? 0 : io.bytes;
  return b;
}

std::string formatMs(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.3f ms" : "%.2f ms", ms);
  return buf;
}

std::string formatBytes(size_t bytes) {
  char buf[32];
  if (bytes >= (size_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1 << 30));
  else if (bytes >= (size_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(1 << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%zu B", bytes);
  return buf;
}

}  // namespace kiln::tool
