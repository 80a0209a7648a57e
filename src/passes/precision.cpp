#include "passes/precision.h"

#include <algorithm>
#include <map>

#include "backends/cpu/reference.h"
#include "ir/onnx_types.h"

namespace kiln::passes {

namespace {


ir::Node castNode(const std::string& name, int in, int out, DataType to) {
  ir::Node n;
  n.name = name;
  n.op = "Cast";
  n.inputs = {in};
  n.outputs = {out};
  n.attrs.set("to", ir::toOnnxType(to));
  n.attrs.owner = n.describe();
  return n;
}

}  // namespace

bool keepsFloat32(const ir::Node& node, size_t input) {
  if (node.op == "Resize") return input == 1 || input == 2;
  // An additive attention mask holds "minus infinity" as float32's lowest (-3.4e38, what
  // exporters write): it stays float32, which the attention kernels read as it is.
  if (node.op == "FusedAttention") return input == 3;
  return false;
}

void convertFloatPrecision(ir::Graph& graph, const std::vector<DataType>& precision, std::vector<bool>& host,
                           std::vector<int>* origin) {
  const size_t original_tensors = graph.tensors.size();
  const size_t original_nodes = graph.nodes.size();
  std::vector<bool> is_io(original_tensors, false);
  for (int id : graph.inputs) is_io[id] = true;
  for (int id : graph.outputs) is_io[id] = true;
  std::vector<bool> host_tensor(original_tensors, false);
  for (size_t n = 0; n < original_nodes; ++n)
    if (host[n])
      for (int id : graph.nodes[n].outputs)
        if (id != ir::kAbsent) host_tensor[id] = true;
  // The precision a node computes its float tensors in (host nodes stay float32).
  auto precisionOf = [&](size_t n) { return host[n] || n >= precision.size() ? DataType::kFLOAT : precision[n]; };
  // Float32 tensors a device node writes in place of float32, by the node's precision.
  std::vector<DataType> computed(original_tensors, DataType::kFLOAT);
  std::vector<bool> device_float(original_tensors, false);  // written by a device node in float32 before

  // 1. Device-computed float32 tensors that are not graph I/O change type in place.
  for (size_t n = 0; n < original_nodes; ++n) {
    if (host[n]) continue;
    ir::Node& node = graph.nodes[n];
    const DataType target = precisionOf(n);
    for (int id : node.outputs)
      if (id != ir::kAbsent && graph.tensors[id].type == DataType::kFLOAT) {
        device_float[id] = true;
        if (is_io[id] || target == DataType::kFLOAT) continue;
        graph.tensors[id].type = target;
        computed[id] = target;
      }
    if (target == DataType::kFLOAT) continue;
    // Ops whose attributes name a float type produce the reduced type instead.
    if (node.op == "Cast" && node.attrs.i("to", 0) == 1 && !is_io[node.outputs[0]]) node.attrs.set("to", ir::toOnnxType(target));
    if (node.op == "ConstantOfShape" && node.attrs.has("value") && node.attrs.t("value").type() == DataType::kFLOAT &&
        !is_io[node.outputs[0]])
      node.attrs.set("value", node.attrs.t("value").cast(target));
  }

  // 2. A device node that reads a float tensor of another precision reads a converted copy
  //    (one per tensor and precision): constants via the weight program (or directly, for
  //    non-weights), the rest via Cast layers placed right after their producer.
  std::map<std::pair<int, DataType>, int> converted;  // (tensor, precision) -> copy
  std::vector<std::pair<size_t, ir::Node>> inserts;  // (insert before node index, cast)
  std::vector<bool> derived_from_weight(graph.tensors.size(), false);
  for (size_t id = 0; id < graph.tensors.size(); ++id) derived_from_weight[id] = graph.tensors[id].is_initializer;
  for (const auto& p : graph.weight_program)
    for (int o : p.outputs)
      if (o != ir::kAbsent) derived_from_weight[o] = true;

  auto convertedCopy = [&](int id, DataType to) -> int {
    if (auto it = converted.find({id, to}); it != converted.end()) return it->second;
    const std::string name = graph.tensors[id].name + "/" + std::string(toString(to));
    int copy;
    if (graph.tensors[id].value) {
      if (derived_from_weight[id]) {
        copy = graph.addTensor(name);
        ir::Node cast = castNode(name + "/cast", id, copy, to);
        cast.attrs.owner = cast.describe();
        cpu::evaluateNode(cast, graph.tensors, graph.opset);
        graph.weight_program.push_back(std::move(cast));
      } else {
        copy = graph.addConstant(name, graph.tensors[id].value->cast(to));
      }
    } else {
      copy = graph.addTensor(name);
      graph.tensors[copy].type = to;
      graph.tensors[copy].shape = graph.tensors[id].shape;
      graph.tensors[copy].rank_known = graph.tensors[id].rank_known;
      // Right after the producer (or first, for graph inputs).
      size_t at = 0;
      for (size_t n = 0; n < original_nodes; ++n)
        for (int o : graph.nodes[n].outputs)
          if (o == id) at = n + 1;
      inserts.push_back({at, castNode(name + "/cast", id, copy, to)});
    }
    converted[{id, to}] = copy;
    return copy;
  };

  for (size_t n = 0; n < original_nodes; ++n) {
    if (host[n]) continue;
    ir::Node& node = graph.nodes[n];
    const DataType target = precisionOf(n);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int id = node.inputs[i];
      if (id == ir::kAbsent || static_cast<size_t>(id) >= original_tensors) continue;
      const ir::TensorInfo& t = graph.tensors[id];
      // Only tensors that were float32 in the model: a float16 model tensor stays as it is.
      const bool was_float = t.type == DataType::kFLOAT || (device_float[id] && computed[id] != DataType::kFLOAT);
      if (!was_float || keepsFloat32(node, i)) continue;
      if (t.type == target) continue;  // computed in this precision already
      node.inputs[i] = convertedCopy(id, target);
    }
  }

  // 3. Graph outputs computed in reduced precision: the producer writes a reduced tensor and a
  //    Cast layer writes the float32 output.
  for (int out : graph.outputs) {
    for (size_t n = 0; n < original_nodes; ++n) {
      if (host[n]) continue;
      const DataType target = precisionOf(n);
      if (target == DataType::kFLOAT) continue;
      ir::Node& node = graph.nodes[n];
      for (int& o : node.outputs) {
        if (o != out || graph.tensors[out].type != DataType::kFLOAT) continue;
        // Only ops that compute floats change their output; Cast-to-float outputs stay.
        bool computes_float = !(node.op == "Cast" || node.op == "CastLike");
        if (!computes_float) continue;
        bool float_inputs = false;
        for (int i : node.inputs)
          if (i != ir::kAbsent && (graph.tensors[i].type == target || graph.tensors[i].type == DataType::kFLOAT))
            float_inputs = true;
        if (!float_inputs) continue;
        const std::string name = graph.tensors[out].name + "/" + std::string(toString(target));
        int reduced = graph.addTensor(name);
        graph.tensors[reduced].type = target;
        graph.tensors[reduced].shape = graph.tensors[out].shape;
        graph.tensors[reduced].rank_known = graph.tensors[out].rank_known;
        o = reduced;
        ir::Node cast = castNode(name + "/cast", reduced, out, DataType::kFLOAT);
        inserts.push_back({n + 1, std::move(cast)});
      }
    }
  }

  // Insert the Cast layers (stable: later positions first keeps earlier indices valid).
  std::stable_sort(inserts.begin(), inserts.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (origin) {
    origin->resize(original_nodes);
    for (size_t n = 0; n < original_nodes; ++n) (*origin)[n] = static_cast<int>(n);
  }
  for (auto& [at, cast] : inserts) {
    if (origin) origin->insert(origin->begin() + static_cast<std::ptrdiff_t>(at), -1);
    bool host_cast = false;
    int src = cast.inputs[0];
    if (static_cast<size_t>(src) < host_tensor.size()) host_cast = host_tensor[src];
    graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(at), std::move(cast));
    host.insert(host.begin() + static_cast<std::ptrdiff_t>(at), host_cast);
  }
}

}  // namespace kiln::passes
