#include "runtime/shape_resolver.h"

#include <algorithm>

#include "backends/cpu/reference.h"
#include "ir/op_schema.h"

namespace kiln::runtime {

namespace {

// Shape and Size of a tensor whose value is not known (a graph input or activation).
void evaluateShapeOf(const ir::Node& node, std::vector<ir::TensorInfo>& tensors) {
  const ir::Shape& in = tensors[node.inputs[0]].shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  ir::Tensor out;
  if (node.op == "Size") {
    int64_t n = 1;
    for (int64_t d : in) n *= d;
    out = ir::Tensor::scalarInt64(n);
  } else {
    auto clampAxis = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
    int64_t start = clampAxis(node.attrs.i("start", 0));
    int64_t end = clampAxis(node.attrs.i("end", rank));
    std::vector<int64_t> dims;
    for (int64_t d = start; d < end; ++d) dims.push_back(in[d]);
    out = ir::Tensor::fromInt64({static_cast<int64_t>(dims.size())}, dims);
  }
  ir::TensorInfo& t = tensors[node.outputs.at(0)];
  t.type = DataType::kINT64;
  t.shape = out.shape();
  t.rank_known = true;
  t.value = std::make_shared<const ir::Tensor>(std::move(out));
}

}  // namespace

void resolveShapes(const ir::Graph& graph, const std::vector<plan::Layer>& layers,
                   const std::map<std::string, Dims>& input_dims, std::vector<ir::TensorInfo>& tensors,
                   const InputValues& input_values) {
  tensors = graph.tensors;
  for (int id : graph.inputs) {
    ir::TensorInfo& t = tensors[id];
    auto it = input_dims.find(t.name);
    if (it == input_dims.end()) throw Error(ErrorCode::kInvalidArgument, "no shape given for input '" + t.name + "'");
    t.shape = it->second;
    t.rank_known = true;
    if (auto v = input_values.find(t.name); v != input_values.end()) {
      if (v->second->shape() != t.shape)
        throw Error(ErrorCode::kInvalidArgument, "shape input '" + t.name + "' has values of shape " +
                                                     toString(v->second->shape()) + " for shape " + toString(t.shape));
      t.value = v->second;
    }
  }
  for (const plan::Layer& layer : layers) {
    const ir::Node& node = layer.node;
    if (layer.host) {
      if ((node.op == "Shape" || node.op == "Size") && !tensors[node.inputs.at(0)].value) {
        evaluateShapeOf(node, tensors);  // needs only the input's shape, not its data
        continue;
      }
      cpu::evaluateNode(node, tensors, graph.opset);
      continue;
    }
    const ir::OpSchema* schema = ir::findSchema(node.op);
    if (!schema) throw Error(ErrorCode::kUnsupported, node.describe() + ": operator is not supported");
    ir::InferContext ctx(node, tensors, graph.opset);
    try {
      schema->infer(ctx);
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument, std::string("for the given input shapes: ") + e.what());
    }
    for (int id : node.outputs) {
      if (id == ir::kAbsent) continue;
      const ir::TensorInfo& t = tensors[id];
      if (!t.rank_known || !ir::allKnown(t.shape))
        throw Error(ErrorCode::kUnsupported, node.describe() + ": the shape of '" + t.name +
                                                 "' depends on the values of a run-time input; kiln engines need every "
                                                 "shape to follow from the input shapes and the values of shape inputs "
                                                 "(int32/int64 inputs whose values each profile fixes)");
    }
  }
}

std::shared_ptr<const ir::Tensor> shapeInputTensor(const ir::TensorInfo& input, const Dims& dims,
                                                   const std::vector<int64_t>& values) {
  if (static_cast<int64_t>(values.size()) != volume(dims))
    throw Error(ErrorCode::kInvalidArgument, "shape input '" + input.name + "' of shape " + toString(dims) + " takes " +
                                                 std::to_string(volume(dims)) + " values, got " +
                                                 std::to_string(values.size()));
  ir::Tensor t = ir::Tensor::fromInt64(dims, values);
  if (input.type != DataType::kINT64) t = t.cast(input.type);
  return std::make_shared<const ir::Tensor>(std::move(t));
}

InputValues profileInputValues(const ir::Graph& graph, const plan::Profile& profile) {
  InputValues values;
  for (const auto& [name, v] : profile.shape_values) {
    const int id = graph.find(name);
    if (id < 0) throw Error(ErrorCode::kInternal, "shape input '" + name + "' is not in the graph");
    values[name] = shapeInputTensor(graph.tensors[id], profile.inputs.at(name).opt, v.opt);
  }
  return values;
}

backend::LayerView makeLayerView(const ir::Node& node, const ir::Graph& graph, const std::vector<ir::TensorInfo>& tensors) {
  backend::LayerView view{.node = &node, .opset = graph.opset};
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      view.inputs.push_back({.present = false});
      view.constants.push_back(nullptr);
      view.host_values.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = tensors[id];
    view.inputs.push_back({t.type, t.shape, true});
    const ir::Tensor* constant = graph.tensors[id].value.get();
    view.constants.push_back(constant);
    view.host_values.push_back(constant ? nullptr : t.value.get());
  }
  for (int id : node.outputs) {
    if (id == ir::kAbsent) {
      view.outputs.push_back({.present = false});
      continue;
    }
    const ir::TensorInfo& t = tensors[id];
    view.outputs.push_back({t.type, t.shape, true});
  }
  return view;
}

size_t tensorBytes(const ir::TensorInfo& t) {
  size_t n = elementSize(t.type);
  for (int64_t d : t.shape) n *= static_cast<size_t>(std::max<int64_t>(d, 0));
  return n;
}

}  // namespace kiln::runtime
