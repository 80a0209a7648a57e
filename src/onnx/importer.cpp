#include "onnx/importer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ir/dispatch.h"
#include "ir/onnx_types.h"
#include "ir/op_schema.h"
#include "onnx.pb.h"
#include "passes/shape_inference.h"

namespace kiln::onnx {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void invalid(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, where + ": " + what);
}

DataType convertType(int32_t onnx_type, const std::string& where) {
  if (const std::optional<DataType> t = ir::fromOnnxType(onnx_type)) return *t;
  if (onnx_type == 8) throw Error(ErrorCode::kUnsupported, where + ": string tensors are not supported");
  throw Error(ErrorCode::kUnsupported, where + ": ONNX element type " + std::to_string(onnx_type) + " is not supported");
}

// Copies `count` elements of a typed repeated field into t (which has the final type).
template <typename Field>
void copyField(ir::Tensor& t, const Field& field, const std::string& where) {
  if (field.size() != t.numel())
    invalid(where, "holds " + std::to_string(field.size()) + " values but its shape " + toString(t.shape()) + " needs " +
                       std::to_string(t.numel()));
  ir::dispatchType(t.type(), [&]<typename T>() {
    auto out = t.values<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, ir::Half> || std::is_same_v<T, ir::BFloat16>) {
        out[i].bits = static_cast<uint16_t>(field.Get(static_cast<int>(i)));  // int32_data holds the bits
      } else {
        out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
      }
    }
  });
}

struct ExternalDataContext {
  fs::path base_dir;  // empty: external data not allowed
};

void readExternal(ir::Tensor& t, const TensorProto& proto, const ExternalDataContext& ext, const std::string& where) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : proto.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      else if (entry.key() == "offset") offset = std::stoll(entry.value());
      else if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      invalid(where, "external data entry '" + entry.key() + "' is not a number: '" + entry.value() + "'");
    }
  }
  if (location.empty()) invalid(where, "external data has no location");
  if (ext.base_dir.empty()) invalid(where, "external data '" + location + "' but the model was not loaded from a file");
  fs::path rel(location);
  if (rel.is_absolute()) invalid(where, "external data path '" + location + "' is absolute; it must lie in the model's folder");
  fs::path base = fs::weakly_canonical(ext.base_dir);
  fs::path full = fs::weakly_canonical(base / rel);
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) invalid(where, "external data path '" + location + "' escapes the model's folder");
  std::ifstream in(full, std::ios::binary);
  if (!in) invalid(where, "cannot open external data file '" + location + "'");
  in.seekg(0, std::ios::end);
  int64_t file_size = in.tellg();
  int64_t need = static_cast<int64_t>(t.byteSize());
  if (length >= 0 && length != need)
    invalid(where, "external data length " + std::to_string(length) + " does not match the tensor's " + std::to_string(need) + " bytes");
  if (offset < 0 || offset > file_size || file_size - offset < need)
    invalid(where, "external data '" + location + "' is too short (" + std::to_string(file_size) + " bytes, need " +
                       std::to_string(need) + " at offset " + std::to_string(offset) + ")");
  in.seekg(offset);
  in.read(reinterpret_cast<char*>(t.raw()), need);
  if (!in) invalid(where, "cannot read external data '" + location + "'");
}

ir::Tensor convertTensor(const TensorProto& proto, const std::string& where, const ExternalDataContext& ext) {
  DataType type = convertType(proto.data_type(), where);
  ir::Shape shape(proto.dims().begin(), proto.dims().end());
  // The declared size is checked against the data actually present before anything is
  // allocated: a tiny hostile file must not make kiln allocate what its dims claim.
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) invalid(where, "has a negative dimension in " + toString(shape));
    if (d != 0 && numel > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) invalid(where, "shape " + toString(shape) + " is too large");
    numel *= static_cast<uint64_t>(d);
  }
  const uint64_t bytes = numel * elementSize(type);
  uint64_t available = 0;
  if (proto.data_location() == 1) {
    available = UINT64_MAX;  // checked against the file by readExternal before reading
    for (const auto& entry : proto.external_data())
      if (entry.key() == "length") {
        try {
          available = std::stoull(entry.value());
        } catch (const std::exception&) {
          invalid(where, "external data length is not a number");
        }
      }
    if (available == UINT64_MAX) {
      std::string location;
      for (const auto& entry : proto.external_data())
        if (entry.key() == "location") location = entry.value();
      std::error_code ec;
      auto size = ext.base_dir.empty() || location.empty() ? 0 : fs::file_size(ext.base_dir / location, ec);
      available = ec ? 0 : size;
    }
  } else if (proto.has_raw_data()) {
    available = proto.raw_data().size();
  } else {
    available = numel * 8;  // typed fields are counted below; their count bounds the size
    uint64_t fields = static_cast<uint64_t>(proto.float_data_size()) + proto.double_data_size() + proto.int64_data_size() +
                      proto.uint64_data_size() + proto.int32_data_size();
    if (numel != 0 && fields < numel)
      invalid(where, "holds " + std::to_string(fields) + " values but its shape " + toString(shape) + " needs " +
                         std::to_string(numel));
  }
  if (bytes > available)
    invalid(where, "shape " + toString(shape) + " of " + std::string(toString(type)) + " needs " + std::to_string(bytes) +
                       " bytes but the data holds " + std::to_string(available));
  ir::Tensor t;
  try {
    t = ir::Tensor(type, shape);
  } catch (const Error& e) {
    invalid(where, e.what());
  }
  if (proto.data_location() == 1) {
    readExternal(t, proto, ext, where);
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != t.byteSize())
      invalid(where, "raw data has " + std::to_string(proto.raw_data().size()) + " bytes, shape " + toString(shape) +
                         " of " + std::string(toString(type)) + " needs " + std::to_string(t.byteSize()));
    if (t.byteSize()) std::memcpy(t.raw(), proto.raw_data().data(), t.byteSize());
  } else if (t.numel() == 0) {
    // nothing to read
  } else if (type == DataType::kFLOAT) {
    copyField(t, proto.float_data(), where);
  } else if (type == DataType::kDOUBLE) {
    copyField(t, proto.double_data(), where);
  } else if (type == DataType::kINT64) {
    copyField(t, proto.int64_data(), where);
  } else if (type == DataType::kUINT32 || type == DataType::kUINT64) {
    copyField(t, proto.uint64_data(), where);
  } else {
    copyField(t, proto.int32_data(), where);  // int8..int32, uint8, uint16, bool, float16, bfloat16
  }
  return t;
}

ir::AttributeValue convertAttribute(const AttributeProto& a, const std::string& where, const ExternalDataContext& ext) {
  std::string at = where + ": attribute '" + a.name() + "'";
  if (!a.ref_attr_name().empty()) throw Error(ErrorCode::kUnsupported, at + " refers to a function attribute");
  switch (a.type()) {
    case 1: return a.f();
    case 2: return a.i();
    case 3: return a.s();
    case 4: return convertTensor(a.t(), at, ext);
    case 6: return std::vector<float>(a.floats().begin(), a.floats().end());
    case 7: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case 8: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case 5:
    case 10: throw Error(ErrorCode::kUnsupported, at + " is a subgraph (control flow is not supported)");
    case 0: invalid(at, "has no type");
    default: throw Error(ErrorCode::kUnsupported, at + " has unsupported attribute type " + std::to_string(a.type()));
  }
}

struct ValueInfo {
  bool has_type = false;
  DataType type = DataType::kFLOAT;
  bool has_shape = false;
  ir::Shape shape;
};

ValueInfo convertValueInfo(const ValueInfoProto& vi, ir::Graph& graph, const std::string& where) {
  ValueInfo info;
  if (!vi.has_type()) return info;
  if (!vi.type().has_tensor_type())
    throw Error(ErrorCode::kUnsupported, where + " '" + vi.name() + "' is not a tensor (sequences, maps and optionals are not supported)");
  const auto& tt = vi.type().tensor_type();
  if (tt.has_elem_type() && tt.elem_type() != 0) {
    info.type = convertType(tt.elem_type(), where + " '" + vi.name() + "'");
    info.has_type = true;
  }
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& dim : tt.shape().dim()) {
      if (dim.has_dim_value()) {
        if (dim.dim_value() < 0) invalid(where + " '" + vi.name() + "'", "has a negative dimension");
        info.shape.push_back(dim.dim_value());
      } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
        info.shape.push_back(graph.symbolDim(dim.dim_param()));
      } else {
        info.shape.push_back(ir::kUnknownDim);
      }
    }
  }
  return info;
}

struct UnsupportedOp {
  int count = 0;
  std::string first_node;
  std::string reason;
};

// Orders nodes so that every input is produced before use (ONNX requires it, but exporters
// occasionally get it wrong); a cycle is an error.
void sortTopologically(ir::Graph& graph, const std::string& model) {
  std::vector<int> producer(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int o : graph.nodes[n].outputs)
      if (o != ir::kAbsent) producer[o] = static_cast<int>(n);
  std::vector<int> state(graph.nodes.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<ir::Node> order;
  order.reserve(graph.nodes.size());
  std::vector<std::pair<int, size_t>> stack;
  for (size_t start = 0; start < graph.nodes.size(); ++start) {
    if (state[start]) continue;
    stack.push_back({static_cast<int>(start), 0});
    state[start] = 1;
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      const auto& inputs = graph.nodes[n].inputs;
      if (next < inputs.size()) {
        int id = inputs[next++];
        int p = id == ir::kAbsent ? -1 : producer[id];
        if (p < 0 || state[p] == 2) continue;
        if (state[p] == 1) invalid(model, "the graph has a cycle through " + graph.nodes[p].describe());
        state[p] = 1;
        stack.push_back({p, 0});
        continue;
      }
      state[n] = 2;
      order.push_back(std::move(graph.nodes[n]));
      stack.pop_back();
    }
  }
  graph.nodes = std::move(order);
}

ir::Graph convertModel(const ModelProto& model, const std::string& name, const ExternalDataContext& ext,
                       const ImportOptions& options) {
  if (!model.has_graph()) invalid(name, "the model has no graph");
  int64_t opset = -1;
  for (const auto& id : model.opset_import())
    if (id.domain().empty() || id.domain() == "ai.onnx") opset = id.version();
  if (opset < 0) {
    if (model.opset_import_size() == 0) invalid(name, "the model declares no opset (opset_import is empty)");
    opset = 0;
  }
  if (opset < kMinOpset || opset > kMaxOpset)
    throw Error(ErrorCode::kUnsupported, name + ": ai.onnx opset " + std::to_string(opset) + " is not supported (kiln reads opsets " +
                                             std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  const GraphProto& g = model.graph();
  ir::Graph graph;
  graph.opset = static_cast<int>(opset);
  graph.name = g.name();

  std::set<std::string> defined;
  for (const auto& init : g.initializer()) {
    std::string where = name + ": initializer '" + init.name() + "'";
    if (init.name().empty()) invalid(name, "an initializer has no name");
    if (!defined.insert(init.name()).second) invalid(where, "is defined twice");
    int id = graph.tensorId(init.name());
    ir::Tensor value = convertTensor(init, where, ext);
    ir::TensorInfo& t = graph.tensors[id];
    t.type = value.type();
    t.shape = value.shape();
    t.rank_known = true;
    t.is_initializer = true;
    t.value = std::make_shared<const ir::Tensor>(std::move(value));
  }
  for (const auto& in : g.input()) {
    if (defined.count(in.name())) continue;  // IR < 4 lists initializers among the inputs
    std::string where = name + ": input";
    if (in.name().empty()) invalid(name, "a graph input has no name");
    defined.insert(in.name());
    ValueInfo info = convertValueInfo(in, graph, where);
    if (!info.has_type) invalid(where + " '" + in.name() + "'", "has no element type");
    int id = graph.tensorId(in.name());
    ir::TensorInfo& t = graph.tensors[id];
    t.type = info.type;
    t.shape = info.shape;
    t.rank_known = info.has_shape;
    graph.inputs.push_back(id);
  }

  // Nodes: collect every unsupported operator before failing, so that one error lists all.
  std::map<std::string, UnsupportedOp> unsupported;
  int auto_name = 0;
  for (const auto& np : g.node()) {
    ir::Node node;
    node.op = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    node.name = np.name().empty() ? node.op + "_" + std::to_string(auto_name) : np.name();
    ++auto_name;
    node.attrs.owner = node.describe();
    const ir::OpSchema* schema = node.domain.empty() ? ir::findSchema(node.op) : nullptr;
    std::string key = (node.domain.empty() ? "" : node.domain + "::") + node.op;
    auto note = [&](const std::string& reason) {
      auto& u = unsupported[key];
      if (u.count++ == 0) {
        u.first_node = node.name;
        u.reason = reason;
      }
    };
    if (!schema) {
      note(node.domain.empty() ? "not implemented" : "custom domain '" + node.domain + "'");
    } else if (opset < schema->since_opset || opset > schema->until_opset) {
      note("implemented for opsets " + std::to_string(schema->since_opset) + " to " + std::to_string(schema->until_opset));
    }
    for (const auto& in : np.input()) {
      if (in.empty()) {
        node.inputs.push_back(ir::kAbsent);
        continue;
      }
      node.inputs.push_back(graph.tensorId(in));
    }
    for (const auto& out : np.output()) {
      if (out.empty()) {
        node.outputs.push_back(ir::kAbsent);
        continue;
      }
      if (!defined.insert(out).second)
        invalid(name + ": " + node.describe(), "output '" + out + "' is already defined elsewhere in the graph");
      node.outputs.push_back(graph.tensorId(out));
    }
    for (const auto& a : np.attribute()) {
      try {
        node.attrs.set(a.name(), convertAttribute(a, name + ": " + node.describe(), ext));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
        note(e.what());
      }
    }
    graph.nodes.push_back(std::move(node));
  }
  if (!unsupported.empty()) {
    std::ostringstream os;
    size_t total = 0;
    for (const auto& [op, u] : unsupported) total += static_cast<size_t>(u.count);
    os << name << ": " << unsupported.size() << " unsupported operator type" << (unsupported.size() > 1 ? "s" : "")
       << " (" << total << " node" << (total > 1 ? "s" : "") << ", opset " << opset << "):";
    for (const auto& [op, u] : unsupported)
      os << "\n  " << op << " x" << u.count << " (first: '" << u.first_node << "'): " << u.reason;
    throw Error(ErrorCode::kUnsupported, os.str());
  }
  // Every input must be defined somewhere.
  for (const auto& node : graph.nodes)
    for (int id : node.inputs)
      if (id != ir::kAbsent && !defined.count(graph.tensors[id].name))
        invalid(name + ": " + node.describe(),
                "input '" + graph.tensors[id].name + "' is not a graph input, an initializer or the output of any node");
  sortTopologically(graph, name);

  // Outputs, with their declared types/shapes checked after inference.
  std::vector<std::pair<std::string, ValueInfo>> declared;  // by name: folding renumbers tensors
  for (const auto& out : g.output()) {
    int id = graph.find(out.name());
    if (id < 0 || !defined.count(out.name()))
      invalid(name, "graph output '" + out.name() + "' is not produced by any node, input or initializer");
    graph.outputs.push_back(id);
    declared.push_back({out.name(), convertValueInfo(out, graph, name + ": output")});
  }
  if (graph.outputs.empty()) invalid(name, "the graph has no outputs");

  // Canonical form, arity and shapes, node by node: a normalize step sees the types (and known
  // values) of its inputs. Normalize may rename the op (Upsample -> Resize); arity is checked
  // against the schema of the result.
  const passes::InferenceOptions inference{.fold_constants = options.fold_constants};
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::OpSchema* schema = ir::findSchema(graph.nodes[n].op);
    try {
      if (schema->normalize) {
        ir::Node node = std::move(graph.nodes[n]);  // normalize may add tensors, never nodes
        schema->normalize(graph, node, graph.opset);
        graph.nodes[n] = std::move(node);
        schema = ir::findSchema(graph.nodes[n].op);
        if (!schema) throw Error(ErrorCode::kUnsupported, graph.nodes[n].describe() + ": operator is not supported");
      }
    } catch (const Error& e) {
      throw Error(e.code(), name + ": " + e.what());
    }
    const ir::Node& node = graph.nodes[n];
    int ins = static_cast<int>(node.inputs.size());
    int outs = static_cast<int>(node.outputs.size());
    if (ins < schema->min_inputs || ins > schema->max_inputs)
      invalid(name + ": " + node.describe(), "has " + std::to_string(ins) + " inputs, expected " +
                                                 std::to_string(schema->min_inputs) + " to " + std::to_string(schema->max_inputs));
    if (outs < schema->min_outputs || outs > schema->max_outputs)
      invalid(name + ": " + node.describe(), "has " + std::to_string(outs) + " outputs, expected " +
                                                 std::to_string(schema->min_outputs) + " to " + std::to_string(schema->max_outputs));
    try {
      passes::inferNode(graph, node, inference);
    } catch (const Error& e) {
      throw Error(e.code(), name + ": " + e.what());
    }
  }
  try {
    if (options.fold_constants) passes::removeFoldedNodes(graph);
  } catch (const Error& e) {
    throw Error(e.code(), name + ": " + e.what());
  }
  for (const auto& [output_name, info] : declared) {
    int id = graph.find(output_name);
    const ir::TensorInfo& t = graph.tensors[id];
    std::string where = name + ": output '" + t.name + "'";
    if (info.has_type && t.rank_known && info.type != t.type)
      invalid(where, "is declared " + std::string(toString(info.type)) + " but computes " + std::string(toString(t.type)));
    if (info.has_shape && t.rank_known) {
      bool ok = info.shape.size() == t.shape.size();
      for (size_t d = 0; ok && d < t.shape.size(); ++d)
        ok = !ir::isKnown(info.shape[d]) || !ir::isKnown(t.shape[d]) || info.shape[d] == t.shape[d];
      if (!ok) {
        ir::TensorInfo decl = t;
        decl.shape = info.shape;
        invalid(where, "is declared with shape " + graph.shapeToString(decl) + " but its shape is " + graph.shapeToString(t));
      }
      // A declared symbolic or known dim names an otherwise unknown one.
      ir::TensorInfo& mut = graph.tensors[id];
      for (size_t d = 0; d < t.shape.size() && d < info.shape.size(); ++d)
        if (mut.shape[d] == ir::kUnknownDim) mut.shape[d] = info.shape[d];
    }
  }
  return graph;
}

}  // namespace

std::vector<std::byte> readFileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path.string() + ": cannot open file");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorCode::kIo, path.string() + ": cannot read file");
  in.seekg(0);
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) throw Error(ErrorCode::kIo, path.string() + ": cannot read file");
  return bytes;
}

ir::Graph importBytes(std::span<const std::byte> bytes, const fs::path& base_dir, const std::string& display_name,
                      const ImportOptions& options) {
  ModelProto model;
  if (bytes.size() > static_cast<size_t>(INT32_MAX))
    throw Error(ErrorCode::kUnsupported, display_name + ": models over 2 GiB must keep their weights in external data");
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    invalid(display_name, "not a valid ONNX model (the protobuf data is truncated or corrupt)");
  return convertModel(model, display_name, ExternalDataContext{base_dir}, options);
}

ir::Graph importFile(const fs::path& path, const ImportOptions& options) {
  std::vector<std::byte> bytes = readFileBytes(path);
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  return importBytes(bytes, dir, path.string(), options);
}

ir::Tensor readTensorFile(const fs::path& path) {
  std::vector<std::byte> bytes = readFileBytes(path);
  TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    invalid(path.string(), "not a valid serialized TensorProto");
  return convertTensor(proto, path.string(), ExternalDataContext{path.parent_path()});
}

}  // namespace kiln::onnx
