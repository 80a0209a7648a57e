// The plan file format (see plan_format.h for the layout). Version 2 adds two fields to
// version 1: per tactic choice, after its time, an i32 in-place input (-1: none); per profile,
// after its workspace bytes, a u64 activation lower bound. A version 1 plan reads with -1 and
// 0 there. Version 3 adds, per profile after the activation lower bound, the shape inputs'
// values: u32 count, then per input its name and three i64 lists (min, opt, max); plans of
// versions 1 and 2 have none. Otherwise, in detail:
//
//   0   "KILNPLAN"
//   8   u32 format version
//   12  u32 header size H, then H bytes of header fields:
//         string kiln version, i32 device, string device identity, string architecture,
//         i32 hardware compatibility, u8 refittable, u8 weights stripped, u8 version compatible
//       u32 section count, then per section: u32 kind, u64 offset, u64 size, u64 checksum
//       u64 checksum of every byte before it (magic .. section table)
//   sections, in file order graph, layers, profiles, weight program, debug tensors, weights;
//       each starts at the next multiple of 64 after the previous one, the padding is zero and
//       the file ends where the last section ends. So every byte of a plan is covered by a
//       checksum or by the zero-padding rule: any damage is detected.
//
// Strings are u32 length + bytes; lists are u32 count + elements; shapes are u32 rank + i64
// dims. Tensor values live in the weights section, each 64-byte aligned within it (and the
// section itself is 64-byte aligned in the file), so a loader may map them in place.
#include "plan/plan_format.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <set>

#include "plan/byte_io.h"

namespace kiln::plan {

namespace {

constexpr std::array<char, 8> kMagic = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
constexpr size_t kPreambleBytes = 16;  // magic, version, header size
constexpr size_t kAlignment = 64;
constexpr size_t kSectionEntryBytes = 4 + 8 + 8 + 8;
constexpr uint32_t kMaxSections = 64;

enum class SectionKind : uint32_t {
  kGraph = 1,
  kLayers = 2,
  kProfiles = 3,
  kWeightProgram = 4,
  kDebugTensors = 5,
  kWeights = 6,
};
constexpr uint32_t kNumSectionKinds = 6;
// Order of the sections in a file written by this version.
constexpr std::array<SectionKind, kNumSectionKinds> kSectionOrder = {
    SectionKind::kGraph,         SectionKind::kLayers,       SectionKind::kProfiles,
    SectionKind::kWeightProgram, SectionKind::kDebugTensors, SectionKind::kWeights};

const char* sectionName(SectionKind kind) {
  switch (kind) {
    case SectionKind::kGraph: return "graph";
    case SectionKind::kLayers: return "layers";
    case SectionKind::kProfiles: return "profiles";
    case SectionKind::kWeightProgram: return "weight program";
    case SectionKind::kDebugTensors: return "debug tensors";
    case SectionKind::kWeights: return "weights";
  }
  return "?";
}

constexpr int32_t kNumDataTypes = static_cast<int32_t>(DataType::kBOOL) + 1;
constexpr int32_t kNumDeviceKinds = static_cast<int32_t>(DeviceKind::kGPU) + 1;
constexpr int32_t kNumHardwareLevels = static_cast<int32_t>(HardwareCompatibility::kAMPERE_PLUS) + 1;
constexpr uint8_t kNumAttributeKinds = std::variant_size_v<ir::AttributeValue>;

size_t alignUp(size_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

// ----------------------------------------------------------------------------------------
// Writer

void writeShape(ByteWriter& w, const std::vector<int64_t>& shape) {
  w.u32(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) w.i64(d);
}

void writeIds(ByteWriter& w, const std::vector<int>& ids) {
  w.u32(static_cast<uint32_t>(ids.size()));
  for (int id : ids) w.i32(id);
}

// An attribute tensor: type, shape, byte size, bytes (inline: attribute tensors are small).
void writeInlineTensor(ByteWriter& w, const ir::Tensor& t) {
  w.i32(static_cast<int32_t>(t.type()));
  writeShape(w, t.shape());
  w.u64(t.byteSize());
  w.bytes(t.bytes());
}

void writeNode(ByteWriter& w, const ir::Node& node) {
  w.string(node.name);
  w.string(node.op);
  w.string(node.domain);
  writeIds(w, node.inputs);
  writeIds(w, node.outputs);
  w.string(node.attrs.owner);
  w.u32(static_cast<uint32_t>(node.attrs.all().size()));
  for (const auto& [name, value] : node.attrs.all()) {
    w.string(name);
    w.u8(static_cast<uint8_t>(value.index()));
    std::visit(
        [&]<typename T>(const T& v) {
          if constexpr (std::is_same_v<T, int64_t>) {
            w.i64(v);
          } else if constexpr (std::is_same_v<T, float>) {
            w.f32(v);
          } else if constexpr (std::is_same_v<T, std::string>) {
            w.string(v);
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            w.u32(static_cast<uint32_t>(v.size()));
            for (int64_t x : v) w.i64(x);
          } else if constexpr (std::is_same_v<T, std::vector<float>>) {
            w.u32(static_cast<uint32_t>(v.size()));
            for (float x : v) w.f32(x);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            w.u32(static_cast<uint32_t>(v.size()));
            for (const std::string& x : v) w.string(x);
          } else {
            static_assert(std::is_same_v<T, ir::Tensor>);
            writeInlineTensor(w, v);
          }
        },
        value);
  }
}

void writeNodes(ByteWriter& w, const std::vector<ir::Node>& nodes) {
  w.u32(static_cast<uint32_t>(nodes.size()));
  for (const ir::Node& n : nodes) writeNode(w, n);
}

void writeGraph(ByteWriter& w, ByteWriter& weights, const ir::Graph& g, bool weights_stripped) {
  w.u32(static_cast<uint32_t>(g.tensors.size()));
  for (const ir::TensorInfo& t : g.tensors) {
    w.string(t.name);
    w.i32(static_cast<int32_t>(t.type));
    writeShape(w, t.shape);
    w.boolean(t.rank_known);
    w.boolean(t.is_initializer);
    bool stored = t.value && !(t.is_initializer && weights_stripped);
    w.boolean(stored);
    if (!stored) continue;
    weights.align(kAlignment);
    w.i32(static_cast<int32_t>(t.value->type()));
    writeShape(w, t.value->shape());
    w.u64(weights.size());
    w.u64(t.value->byteSize());
    weights.bytes(t.value->bytes());
  }
  writeIds(w, g.inputs);
  writeIds(w, g.outputs);
  w.u32(static_cast<uint32_t>(g.symbols.size()));
  for (const std::string& s : g.symbols) w.string(s);
  w.i32(g.opset);
  w.string(g.name);
}

void writeLayers(ByteWriter& w, const std::vector<Layer>& layers) {
  w.u32(static_cast<uint32_t>(layers.size()));
  for (const Layer& layer : layers) {
    writeNode(w, layer.node);
    w.boolean(layer.host);
    w.u32(static_cast<uint32_t>(layer.tactics.size()));
    for (const TacticChoice& c : layer.tactics) {
      w.string(c.provider);
      w.string(c.config.name);
      w.u32(static_cast<uint32_t>(c.config.params.size()));
      w.bytes(c.config.params);
      w.u64(c.config.workspace);
      w.string(c.config.formats);
      w.boolean(c.config.portable);
      w.u64(c.id);
      w.i32(static_cast<int32_t>(c.source));
      w.f64(c.time_ms);
      w.i32(c.inplace_input);
    }
  }
}

void writeProfiles(ByteWriter& w, const std::vector<Profile>& profiles) {
  w.u32(static_cast<uint32_t>(profiles.size()));
  for (const Profile& p : profiles) {
    w.u32(static_cast<uint32_t>(p.inputs.size()));
    for (const auto& [name, dims] : p.inputs) {
      w.string(name);
      writeShape(w, dims.min);
      writeShape(w, dims.opt);
      writeShape(w, dims.max);
    }
    w.u32(static_cast<uint32_t>(p.offsets.size()));
    for (int64_t o : p.offsets) w.i64(o);
    w.u64(p.activation_bytes);
    w.u64(p.no_reuse_bytes);
    w.u64(p.workspace_bytes);
    w.u64(p.activation_lower_bound);
    w.u32(static_cast<uint32_t>(p.shape_values.size()));
    for (const auto& [name, values] : p.shape_values) {
      w.string(name);
      for (const std::vector<int64_t>* list : {&values.min, &values.opt, &values.max}) {
        w.u32(static_cast<uint32_t>(list->size()));
        for (int64_t v : *list) w.i64(v);
      }
    }
  }
}

void writeHeaderFields(ByteWriter& w, const Header& h) {
  w.string(h.kiln_version);
  w.i32(static_cast<int32_t>(h.device));
  w.string(h.device_identity);
  w.string(h.architecture);
  w.i32(static_cast<int32_t>(h.hardware));
  w.boolean(h.refittable);
  w.boolean(h.weights_stripped);
  w.boolean(h.version_compatible);
}

// ----------------------------------------------------------------------------------------
// Reader

struct SectionEntry {
  SectionKind kind{};
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

struct Preamble {
  Header header;
  std::vector<SectionEntry> sections;
  size_t end = 0;  // first byte after the header checksum
};

std::vector<int64_t> readShape(ByteReader& r, std::string_view what) {
  size_t rank = r.count(std::string(what) + " rank", 8);
  std::vector<int64_t> shape(rank);
  for (int64_t& d : shape) d = r.i64(what);
  return shape;
}

// A tensor value's shape: every dimension known; returns the byte size, refusing overflow.
uint64_t valueByteSize(ByteReader& r, DataType type, const std::vector<int64_t>& shape, const std::string& what) {
  uint64_t n = elementSize(type);
  for (int64_t d : shape) {
    if (d < 0) r.fail(what + " has negative dimension " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(d))
      r.fail(what + " has an impossibly large shape");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

ir::Tensor readInlineTensor(ByteReader& r, const std::string& what) {
  auto type = r.enumeration<DataType>(what + " type", kNumDataTypes);
  std::vector<int64_t> shape = readShape(r, what + " shape");
  uint64_t expected = valueByteSize(r, type, shape, what);
  uint64_t size = r.u64(what + " byte size");
  if (size != expected)
    r.fail(what + " holds " + std::to_string(size) + " bytes, its type and shape need " + std::to_string(expected));
  auto bytes = r.bytes(size, what + " values");
  ir::Tensor t(type, std::move(shape));
  if (size > 0) std::memcpy(t.raw(), bytes.data(), size);
  return t;
}

class PlanReader {
 public:
  PlanReader(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorCode::kInvalidPlan, name_ + ": " + what); }

  Preamble readPreamble() {
    size_t n = std::min(bytes_.size(), kMagic.size());
    if (!std::equal(bytes_.begin(), bytes_.begin() + static_cast<ptrdiff_t>(n), kMagic.begin(),
                    [](std::byte b, char c) { return b == static_cast<std::byte>(c); }))
      fail("not a kiln plan (bad magic)");
    if (bytes_.size() < kPreambleBytes)
      fail("truncated: " + std::to_string(bytes_.size()) + " bytes, a plan starts with at least " +
           std::to_string(kPreambleBytes));
    ByteReader r(bytes_, ErrorCode::kInvalidPlan, name_ + ": header");
    r.bytes(kMagic.size(), "magic");
    Preamble p;
    p.header.format_version = r.u32("format version");
    uint32_t version = p.header.format_version;
    if (version > kFormatVersion)
      fail("plan format version " + std::to_string(version) + " is newer than this kiln supports (" +
           std::to_string(kFormatVersion) + ")");
    if (std::find(kReadableFormatVersions.begin(), kReadableFormatVersions.end(), version) ==
        kReadableFormatVersions.end())
      fail("plan format version " + std::to_string(version) + " is not one this kiln reads");

    uint32_t header_size = r.u32("header size");
    ByteReader h(r.bytes(header_size, "header fields"), ErrorCode::kInvalidPlan, name_ + ": header");
    p.header.kiln_version = h.string("kiln version");
    p.header.device = h.enumeration<DeviceKind>("device kind", kNumDeviceKinds);
    p.header.device_identity = h.string("device identity");
    p.header.architecture = h.string("architecture");
    p.header.hardware = h.enumeration<HardwareCompatibility>("hardware compatibility", kNumHardwareLevels);
    p.header.refittable = h.boolean("refittable flag");
    p.header.weights_stripped = h.boolean("weights-stripped flag");
    p.header.version_compatible = h.boolean("version-compatible flag");
    if (!h.atEnd()) fail("header has " + std::to_string(h.remaining()) + " unexpected trailing bytes");

    size_t count = r.count("section count", kSectionEntryBytes);
    if (count > kMaxSections) fail("section count " + std::to_string(count) + " is implausible");
    for (size_t i = 0; i < count; ++i) {
      SectionEntry e;
      uint32_t kind = r.u32("section kind");
      if (kind < 1 || kind > kNumSectionKinds) fail("section " + std::to_string(i) + " has unknown kind " + std::to_string(kind));
      e.kind = static_cast<SectionKind>(kind);
      e.offset = r.u64("section offset");
      e.size = r.u64("section size");
      e.checksum = r.u64("section checksum");
      p.sections.push_back(e);
    }
    size_t covered = r.position();
    uint64_t stored = r.u64("header checksum");
    if (stored != checksum64(bytes_.first(covered))) fail("header checksum mismatch (the plan is damaged)");
    p.end = r.position();
    return p;
  }

  // Checks the section table against the file and every section's checksum; returns the
  // sections by kind.
  std::array<std::span<const std::byte>, kNumSectionKinds> checkSections(const Preamble& p) {
    std::array<std::span<const std::byte>, kNumSectionKinds> by_kind{};
    if (p.sections.size() != kNumSectionKinds)
      fail("has " + std::to_string(p.sections.size()) + " sections, format version " +
           std::to_string(p.header.format_version) + " has " + std::to_string(kNumSectionKinds));
    size_t expected_offset = alignUp(p.end);
    for (size_t i = 0; i < kNumSectionKinds; ++i) {
      const SectionEntry& e = p.sections[i];
      std::string what = std::string(sectionName(e.kind)) + " section";
      if (e.kind != kSectionOrder[i])
        fail("section " + std::to_string(i) + " is the " + what + ", expected the " + sectionName(kSectionOrder[i]) +
             " section");
      if (e.offset != expected_offset)
        fail(what + " starts at offset " + std::to_string(e.offset) + ", expected " + std::to_string(expected_offset));
      if (e.offset > bytes_.size() || e.size > bytes_.size() - e.offset)
        fail("truncated: " + what + " (offset " + std::to_string(e.offset) + ", " + std::to_string(e.size) +
             " bytes) extends past the end of the " + std::to_string(bytes_.size()) + "-byte file");
      auto section = bytes_.subspan(e.offset, e.size);
      if (checksum64(section) != e.checksum) fail(what + " checksum mismatch (the plan is damaged)");
      by_kind[static_cast<uint32_t>(e.kind) - 1] = section;
      size_t end = e.offset + e.size;
      expected_offset = i + 1 < kNumSectionKinds ? alignUp(end) : end;
    }
    if (bytes_.size() != expected_offset)
      fail("has " + std::to_string(bytes_.size() - expected_offset) + " unexpected bytes after the last section");
    // Padding between the header and the sections must be zero: then no byte escapes a check.
    size_t pos = p.end;
    for (const SectionEntry& e : p.sections) {
      for (; pos < e.offset; ++pos)
        if (bytes_[pos] != std::byte{0}) fail("nonzero padding byte at offset " + std::to_string(pos));
      pos = e.offset + e.size;
    }
    return by_kind;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& name_;
};

// Reads the parts of a plan that refer to tensors, validating every id.
//! What contexts rely on of one shape input of a profile (`where`): an integer graph input,
//! in profile 0 too, of fixed dims that its values fill.
void checkShapeInput(const Plan& plan, const std::string& where, const std::string& name, const Profile& profile,
                     const PlanReader& reader) {
  if (!plan.profiles[0].shape_values.count(name)) reader.fail(where + " has other shape inputs than profile 0");
  const int id = plan.graph.find(name);
  if (id < 0 || std::find(plan.graph.inputs.begin(), plan.graph.inputs.end(), id) == plan.graph.inputs.end())
    reader.fail(where + " gives values for '" + name + "', which is not an input");
  const DataType type = plan.graph.tensors[id].type;
  if (type != DataType::kINT64 && type != DataType::kINT32)
    reader.fail(where + " gives values for input '" + name + "' of type " + std::string(toString(type)));
  const ProfileShapeValues& values = profile.shape_values.at(name);
  for (size_t i = 0; i < values.min.size(); ++i)
    if (values.min[i] > values.opt[i] || values.opt[i] > values.max[i])
      reader.fail(where + " gives shape input '" + name + "' values with min > opt or opt > max");
  const ProfileDims& dims = profile.inputs.at(name);
  const size_t count = values.min.size();
  if (dims.min != dims.max || static_cast<int64_t>(count) != volume(dims.min))
    reader.fail(where + " gives " + std::to_string(count) + " values for shape input '" + name + "' of shape " +
                toString(dims.min) + " to " + toString(dims.max));
}

void checkShapeValues(const Plan& plan, size_t p, const PlanReader& reader) {
  const std::string where = "optimization profile " + std::to_string(p);
  if (plan.profiles[p].shape_values.size() != plan.profiles[0].shape_values.size())
    reader.fail(where + " has other shape inputs than profile 0");
  for (const auto& [name, values] : plan.profiles[p].shape_values)
    checkShapeInput(plan, where, name, plan.profiles[p], reader);
}

class SectionParser {
 public:
  SectionParser(const std::string& name, uint32_t version) : name_(name), version_(version) {}

  void graph(std::span<const std::byte> bytes, std::span<const std::byte> weights, ir::Graph& g) {
    ByteReader r(bytes, ErrorCode::kInvalidPlan, name_ + ": graph section");
    // Each tensor takes at least 4 (name) + 4 (type) + 4 (rank) + 3 (flags) bytes.
    size_t count = r.count("tensor count", 15);
    if (count > static_cast<size_t>(std::numeric_limits<int>::max())) r.fail("too many tensors");
    g.tensors.reserve(count);
    std::vector<std::pair<size_t, size_t>> values;  // byte ranges in the weights section
    for (size_t i = 0; i < count; ++i) {
      std::string where = "tensor " + std::to_string(i);
      std::string tname = r.string(where + " name");
      if (g.find(tname) >= 0) r.fail(where + " repeats the name '" + tname + "'");
      int id = g.tensorId(tname);
      ir::TensorInfo& t = g.tensors[id];
      where = "tensor '" + tname + "'";
      t.type = r.enumeration<DataType>(where + " type", kNumDataTypes);
      t.shape = readShape(r, where + " shape");
      t.rank_known = r.boolean(where + " rank-known flag");
      t.is_initializer = r.boolean(where + " initializer flag");
      if (!r.boolean(where + " value flag")) continue;
      auto vtype = r.enumeration<DataType>(where + " value type", kNumDataTypes);
      std::vector<int64_t> vshape = readShape(r, where + " value shape");
      // Everything that runs the graph (shape rules, host layers, kernels) takes a constant's
      // type and shape from the tensor, and its bytes from the value: they must agree.
      if (vtype != t.type || vshape != t.shape || !t.rank_known)
        r.fail(where + " value is " + std::string(toString(vtype)) + " " + toString(vshape) + ", the tensor is " +
               std::string(toString(t.type)) + " " + (t.rank_known ? toString(t.shape) : std::string("of unknown rank")));
      uint64_t expected = valueByteSize(r, vtype, vshape, where + " value");
      uint64_t offset = r.u64(where + " value offset");
      uint64_t size = r.u64(where + " value size");
      if (size != expected)
        r.fail(where + " value holds " + std::to_string(size) + " bytes, its type and shape need " +
               std::to_string(expected));
      if (offset % kAlignment != 0) r.fail(where + " value offset " + std::to_string(offset) + " is not 64-byte aligned");
      if (offset > weights.size() || size > weights.size() - offset)
        r.fail(where + " value (offset " + std::to_string(offset) + ", " + std::to_string(size) +
               " bytes) lies outside the " + std::to_string(weights.size()) + "-byte weights section");
      auto value = std::make_shared<ir::Tensor>(vtype, std::move(vshape));
      if (size > 0) std::memcpy(value->raw(), weights.data() + offset, size);
      t.value = std::move(value);
    }
    g.inputs = ids(r, "graph input", false, g);
    g.outputs = ids(r, "graph output", false, g);
    size_t nsym = r.count("symbol count", 4);
    g.symbols.reserve(nsym);
    for (size_t i = 0; i < nsym; ++i) g.symbols.push_back(r.string("symbol name"));
    // Symbolic dims may only name existing symbols.
    for (const ir::TensorInfo& t : g.tensors)
      for (int64_t d : t.shape)
        if (d <= ir::kFirstSymbol && static_cast<uint64_t>(ir::kFirstSymbol - d) >= g.symbols.size())
          r.fail("tensor '" + t.name + "' has symbolic dimension " + std::to_string(d) + " but the graph has " +
                 std::to_string(g.symbols.size()) + " symbols");
    g.opset = r.i32("opset");
    g.name = r.string("graph name");
    finish(r);
    tensor_count_ = static_cast<int>(g.tensors.size());
  }

  void layers(std::span<const std::byte> bytes, size_t profile_count, std::vector<Layer>& layers) {
    ByteReader r(bytes, ErrorCode::kInvalidPlan, name_ + ": layers section");
    size_t count = r.count("layer count", 33);
    layers.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      Layer layer;
      layer.node = node(r, "layer " + std::to_string(i));
      std::string where = "layer '" + layer.node.name + "'";
      layer.host = r.boolean(where + " host flag");
      // Each choice takes at least 4+4+4+8+4+1+8+4+8 bytes.
      size_t ntactics = r.count(where + " tactic count", 45);
      if (!(ntactics == profile_count || (layer.host && ntactics == 0)))
        r.fail(where + " has " + std::to_string(ntactics) + " tactic choices for " + std::to_string(profile_count) +
               " profiles");
      layer.tactics.reserve(ntactics);
      for (size_t p = 0; p < ntactics; ++p) {
        std::string w = where + " profile " + std::to_string(p) + " tactic";
        TacticChoice c;
        c.provider = r.string(w + " provider");
        c.config.name = r.string(w + " name");
        uint32_t nparams = r.u32(w + " params size");
        auto params = r.bytes(nparams, w + " params");
        c.config.params.assign(params.begin(), params.end());
        c.config.workspace = r.u64(w + " workspace");
        c.config.formats = r.string(w + " formats");
        c.config.portable = r.boolean(w + " portable flag");
        c.id = r.u64(w + " id");
        c.source = r.enumeration<TacticSource>(w + " source", kNumTacticSources);
        c.time_ms = r.f64(w + " time");
        if (version_ >= 2) {
          c.inplace_input = r.i32(w + " in-place input");
          const bool valid = c.inplace_input == -1 ||
                             (c.inplace_input >= 0 && static_cast<size_t>(c.inplace_input) < layer.node.inputs.size() &&
                              layer.node.inputs[c.inplace_input] != ir::kAbsent && !layer.node.outputs.empty() &&
                              layer.node.outputs[0] != ir::kAbsent);
          if (!valid)
            r.fail(w + " runs in place over input " + std::to_string(c.inplace_input) + ", which it does not have");
        }
        layer.tactics.push_back(std::move(c));
      }
      layers.push_back(std::move(layer));
    }
    finish(r);
  }

  void profiles(std::span<const std::byte> bytes, std::vector<Profile>& profiles) {
    ByteReader r(bytes, ErrorCode::kInvalidPlan, name_ + ": profiles section");
    size_t count = r.count("profile count", 32);
    profiles.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      std::string where = "profile " + std::to_string(i);
      Profile p;
      size_t ninputs = r.count(where + " input count", 16);
      for (size_t k = 0; k < ninputs; ++k) {
        std::string input = r.string(where + " input name");
        std::string w = where + " input '" + input + "'";
        if (p.inputs.count(input)) r.fail(where + " repeats input '" + input + "'");
        ProfileDims dims;
        dims.min = readShape(r, w + " min dims");
        dims.opt = readShape(r, w + " opt dims");
        dims.max = readShape(r, w + " max dims");
        if (dims.opt.size() != dims.min.size() || dims.max.size() != dims.min.size())
          r.fail(w + " has min/opt/max dims of different ranks");
        p.inputs.emplace(std::move(input), std::move(dims));
      }
      size_t noffsets = r.count(where + " offset count", 8);
      p.offsets.resize(noffsets);
      for (int64_t& o : p.offsets) {
        o = r.i64(where + " activation offset");
        if (o < -1) r.fail(where + " has invalid activation offset " + std::to_string(o));
      }
      p.activation_bytes = r.u64(where + " activation bytes");
      p.no_reuse_bytes = r.u64(where + " no-reuse bytes");
      p.workspace_bytes = r.u64(where + " workspace bytes");
      if (version_ >= 2) p.activation_lower_bound = r.u64(where + " activation lower bound");
      if (version_ >= 3) readShapeValues(r, where, p.shape_values);
      profiles.push_back(std::move(p));
    }
    finish(r);
  }

  //! Format 3: a profile's shape inputs and their min/opt/max values.
  static void readShapeValues(ByteReader& r, const std::string& where, std::map<std::string, ProfileShapeValues>& out) {
    const size_t count = r.count(where + " shape input count", 16);
    for (size_t k = 0; k < count; ++k) readShapeInput(r, where, out);
  }

  static void readShapeInput(ByteReader& r, const std::string& where, std::map<std::string, ProfileShapeValues>& out) {
    std::string input = r.string(where + " shape input name");
    const std::string w = where + " shape input '" + input + "'";
    if (out.count(input)) r.fail(where + " repeats shape input '" + input + "'");
    ProfileShapeValues values;
    for (std::vector<int64_t>* list : {&values.min, &values.opt, &values.max}) {
      list->resize(r.count(w + " value count", 8));
      for (int64_t& v : *list) v = r.i64(w + " value");
    }
    if (values.opt.size() != values.min.size() || values.max.size() != values.min.size())
      r.fail(w + " has min/opt/max values of different lengths");
    out.emplace(std::move(input), std::move(values));
  }

  void weightProgram(std::span<const std::byte> bytes, WeightProgram& program) {
    ByteReader r(bytes, ErrorCode::kInvalidPlan, name_ + ": weight program section");
    size_t count = r.count("node count", 28);
    program.nodes.reserve(count);
    for (size_t i = 0; i < count; ++i) program.nodes.push_back(node(r, "weight program node " + std::to_string(i)));
    finish(r);
  }

  void debugTensors(std::span<const std::byte> bytes, const ir::Graph& g, std::vector<int>& out) {
    ByteReader r(bytes, ErrorCode::kInvalidPlan, name_ + ": debug tensors section");
    out = ids(r, "debug tensor", false, g);
    finish(r);
  }

 private:
  static void finish(ByteReader& r) {
    if (!r.atEnd()) r.fail(std::to_string(r.remaining()) + " unexpected trailing bytes");
  }

  std::vector<int> ids(ByteReader& r, const std::string& what, bool allow_absent, const ir::Graph& g) {
    return ids(r, what, allow_absent, static_cast<int>(g.tensors.size()));
  }
  static std::vector<int> ids(ByteReader& r, const std::string& what, bool allow_absent, int tensor_count) {
    size_t n = r.count(what + " count", 4);
    std::vector<int> out(n);
    for (int& id : out) {
      id = r.i32(what);
      bool ok = (id >= 0 && id < tensor_count) || (allow_absent && id == ir::kAbsent);
      if (!ok)
        r.fail(what + " refers to tensor " + std::to_string(id) + ", the graph has " + std::to_string(tensor_count) +
               " tensors");
    }
    return out;
  }

  ir::Node node(ByteReader& r, const std::string& fallback) {
    ir::Node n;
    n.name = r.string(fallback + " name");
    std::string where = "node '" + n.name + "'";
    n.op = r.string(where + " op");
    n.domain = r.string(where + " domain");
    n.inputs = ids(r, where + " input", true, tensor_count_);
    n.outputs = ids(r, where + " output", true, tensor_count_);
    n.attrs.owner = r.string(where + " attribute owner");
    size_t nattrs = r.count(where + " attribute count", 5);
    for (size_t i = 0; i < nattrs; ++i) {
      std::string aname = r.string(where + " attribute name");
      std::string w = where + " attribute '" + aname + "'";
      if (n.attrs.has(aname)) r.fail(where + " repeats attribute '" + aname + "'");
      uint8_t kind = r.u8(w + " kind");
      switch (kind) {
        case 0: n.attrs.set(aname, r.i64(w)); break;
        case 1: n.attrs.set(aname, r.f32(w)); break;
        case 2: n.attrs.set(aname, r.string(w)); break;
        case 3: {
          std::vector<int64_t> v(r.count(w + " count", 8));
          for (int64_t& x : v) x = r.i64(w);
          n.attrs.set(aname, std::move(v));
          break;
        }
        case 4: {
          std::vector<float> v(r.count(w + " count", 4));
          for (float& x : v) x = r.f32(w);
          n.attrs.set(aname, std::move(v));
          break;
        }
        case 5: {
          std::vector<std::string> v(r.count(w + " count", 4));
          for (std::string& x : v) x = r.string(w);
          n.attrs.set(aname, std::move(v));
          break;
        }
        case 6: n.attrs.set(aname, readInlineTensor(r, w)); break;
        default:
          static_assert(kNumAttributeKinds == 7, "new attribute kinds need a plan format version");
          r.fail(w + " has unknown kind " + std::to_string(kind));
      }
    }
    return n;
  }

  const std::string& name_;
  uint32_t version_;  //!< the plan's format version: which fields the sections hold
  int tensor_count_ = 0;
};

}  // namespace

std::vector<std::byte> serialize(const Plan& plan) {
  std::array<ByteWriter, kNumSectionKinds> sections;
  auto section = [&](SectionKind kind) -> ByteWriter& { return sections[static_cast<uint32_t>(kind) - 1]; };
  writeGraph(section(SectionKind::kGraph), section(SectionKind::kWeights), plan.graph, plan.header.weights_stripped);
  writeLayers(section(SectionKind::kLayers), plan.layers);
  writeProfiles(section(SectionKind::kProfiles), plan.profiles);
  writeNodes(section(SectionKind::kWeightProgram), plan.weight_program.nodes);
  writeIds(section(SectionKind::kDebugTensors), plan.debug_tensors);

  ByteWriter w;
  w.bytes(std::as_bytes(std::span(kMagic)));
  w.u32(kFormatVersion);
  ByteWriter fields;
  writeHeaderFields(fields, plan.header);
  w.u32(static_cast<uint32_t>(fields.size()));
  w.bytes(fields.data());
  w.u32(kNumSectionKinds);
  // Offsets are known once the table's size is: magic..table, checksum, then aligned sections.
  size_t offset = w.size() + kNumSectionKinds * kSectionEntryBytes + 8;
  for (SectionKind kind : kSectionOrder) {
    offset = alignUp(offset);
    const ByteWriter& s = section(kind);
    w.u32(static_cast<uint32_t>(kind));
    w.u64(offset);
    w.u64(s.size());
    w.u64(checksum64(sections[static_cast<uint32_t>(kind) - 1].data()));
    offset += s.size();
  }
  w.u64(checksum64(w.data()));
  for (SectionKind kind : kSectionOrder) {
    w.align(kAlignment);
    w.bytes(section(kind).data());
  }
  return w.take();
}

Header readHeader(std::span<const std::byte> bytes, const std::string& display_name) {
  return PlanReader(bytes, display_name).readPreamble().header;
}

Plan deserialize(std::span<const std::byte> bytes, const std::string& display_name) {
  PlanReader reader(bytes, display_name);
  Preamble preamble = reader.readPreamble();
  auto sections = reader.checkSections(preamble);
  auto section = [&](SectionKind kind) { return sections[static_cast<uint32_t>(kind) - 1]; };

  Plan plan;
  plan.header = preamble.header;
  SectionParser parser(display_name, plan.header.format_version);
  parser.graph(section(SectionKind::kGraph), section(SectionKind::kWeights), plan.graph);
  parser.profiles(section(SectionKind::kProfiles), plan.profiles);
  // What the builder guarantees (validateProfiles) and contexts rely on: at least one profile,
  // each giving every graph input dims of its rank with 0 <= min <= opt <= max.
  if (plan.profiles.empty()) reader.fail("has no optimization profile");
  for (size_t p = 0; p < plan.profiles.size(); ++p) {
    const std::string where = "optimization profile " + std::to_string(p);
    for (const auto& [name, dims] : plan.profiles[p].inputs)
      for (size_t d = 0; d < dims.min.size(); ++d)
        if (dims.min[d] < 0 || dims.min[d] > dims.opt[d] || dims.opt[d] > dims.max[d])
          reader.fail(where + " input '" + name + "' needs 0 <= min <= opt <= max, has min " + toString(dims.min) +
                      ", opt " + toString(dims.opt) + ", max " + toString(dims.max));
    for (int id : plan.graph.inputs) {
      const ir::TensorInfo& t = plan.graph.tensors[id];
      auto it = plan.profiles[p].inputs.find(t.name);
      if (it == plan.profiles[p].inputs.end()) reader.fail(where + " gives no dims for input '" + t.name + "'");
      if (t.rank_known && it->second.min.size() != t.shape.size())
        reader.fail(where + " gives input '" + t.name + "' rank " + std::to_string(it->second.min.size()) +
                    ", the input has rank " + std::to_string(t.shape.size()));
      uint64_t bytes = elementSize(t.type);
      bool too_large = false;
      for (int64_t d : it->second.max) too_large = too_large || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes);
      if (too_large || bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        reader.fail(where + " gives input '" + t.name + "' max shape " + toString(it->second.max) +
                    ", too large for any memory");
    }
  }
  // Shape inputs: graph inputs of an integer type, the same in every profile, with as many
  // values as the profile's dims hold.
  for (size_t p = 0; p < plan.profiles.size(); ++p) checkShapeValues(plan, p, reader);
  parser.layers(section(SectionKind::kLayers), plan.profiles.size(), plan.layers);
  parser.weightProgram(section(SectionKind::kWeightProgram), plan.weight_program);
  parser.debugTensors(section(SectionKind::kDebugTensors), plan.graph, plan.debug_tensors);
  if (!plan.header.weights_stripped) {
    // Weights only the weight program reads may be absent (refit supplies whole groups);
    // those a layer reads directly must be there.
    for (const Layer& layer : plan.layers)
      for (int id : layer.node.inputs) {
        if (id == ir::kAbsent) continue;
        const ir::TensorInfo& t = plan.graph.tensors[id];
        if (t.is_initializer && !t.value)
          reader.fail("initializer '" + t.name + "' has no value and the plan is not weight-stripped");
      }
  }
  return plan;
}

}  // namespace kiln::plan
