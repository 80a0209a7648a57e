#include "backends/cpu/reference.h"

#include "ir/dispatch.h"

namespace kiln::cpu {

namespace {
std::map<std::string, ReferenceKernel, std::less<>>& kernels() {
  static std::map<std::string, ReferenceKernel, std::less<>> table;
  return table;
}
std::map<std::string, std::vector<int>, std::less<>>& inPlaceInputs() {
  static std::map<std::string, std::vector<int>, std::less<>> table;
  return table;
}
}  // namespace

ReferenceInPlaceRegistrar::ReferenceInPlaceRegistrar(const char* op, std::vector<int> inputs) {
  inPlaceInputs().emplace(op, std::move(inputs));
}

std::vector<int> referenceInPlaceInputs(std::string_view op) {
  auto it = inPlaceInputs().find(op);
  return it == inPlaceInputs().end() ? std::vector<int>{} : it->second;
}

ReferenceKernelRegistrar::ReferenceKernelRegistrar(const char* op, ReferenceKernel kernel) {
  kernels().emplace(op, std::move(kernel));
}

const ReferenceKernel* findReferenceKernel(std::string_view op) {
  auto it = kernels().find(op);
  return it == kernels().end() ? nullptr : &it->second;
}

const ir::Tensor& KernelContext::in(int i) const {
  if (!has(i)) throw Error(ErrorCode::kInvalidModel, node.describe() + ": input " + std::to_string(i) + " is missing");
  return *inputs[i];
}

ir::Tensor& KernelContext::out(int i) const {
  if (!wants(i))
    throw Error(ErrorCode::kInternal, node.describe() + ": output " + std::to_string(i) + " not allocated");
  return *outputs[i];
}

void KernelContext::storeOutput(int i, const std::vector<double>& values) const {
  if (!wants(i)) return;
  ir::Tensor& t = out(i);
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(ErrorCode::kInternal, node.describe() + ": output " + std::to_string(i) + " has " +
                                          std::to_string(t.numel()) + " elements, " + std::to_string(values.size()) +
                                          " computed");
  ir::dispatchFloat(t.type(), [&]<typename T>() {
    T* dst = t.values<T>().data();
    for (size_t k = 0; k < values.size(); ++k) dst[k] = static_cast<T>(values[k]);
  });
}

void KernelContext::unsupported(const std::string& message) const {
  throw Error(ErrorCode::kUnsupported, node.describe() + ": " + message);
}

void evaluateNode(const ir::Node& node, std::vector<ir::TensorInfo>& tensors, int opset) {
  const ir::OpSchema* schema = ir::findSchema(node.op);
  if (!schema) throw Error(ErrorCode::kUnsupported, node.describe() + ": operator is not supported");
  const ReferenceKernel* kernel = findReferenceKernel(node.op);
  if (!kernel) throw Error(ErrorCode::kUnsupported, node.describe() + ": no CPU reference kernel");
  ir::InferContext infer(node, tensors, opset);
  schema->infer(infer);

  KernelContext ctx{.node = node, .opset = opset};
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      ctx.inputs.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = tensors[id];
    if (!t.value) throw Error(ErrorCode::kInternal, node.describe() + ": input '" + t.name + "' has no value");
    ctx.inputs.push_back(t.value.get());
  }
  std::vector<std::shared_ptr<ir::Tensor>> results;
  for (int id : node.outputs) {
    if (id == ir::kAbsent) {
      ctx.outputs.push_back(nullptr);
      results.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = tensors[id];
    if (!t.rank_known || !ir::allKnown(t.shape))
      throw Error(ErrorCode::kInternal, node.describe() + ": output '" + t.name + "' shape unresolved");
    results.push_back(std::make_shared<ir::Tensor>(t.type, t.shape));
    ctx.outputs.push_back(results.back().get());
  }
  (*kernel)(ctx);
  for (size_t o = 0; o < node.outputs.size(); ++o)
    if (results[o]) tensors[node.outputs[o]].value = std::move(results[o]);
}

std::map<std::string, ir::Tensor> runReference(const ir::Graph& graph, const std::map<std::string, ir::Tensor>& inputs,
                                               bool keep_all) {
  std::vector<ir::TensorInfo> tensors = graph.tensors;  // values are shared, not copied
  for (int id : graph.inputs) {
    ir::TensorInfo& t = tensors[id];
    auto it = inputs.find(t.name);
    if (it == inputs.end()) throw Error(ErrorCode::kInvalidArgument, "no value given for input '" + t.name + "'");
    const ir::Tensor& v = it->second;
    if (v.type() != t.type)
      throw Error(ErrorCode::kInvalidArgument, "input '" + t.name + "' expects " + std::string(toString(t.type)) +
                                                   ", got " + std::string(toString(v.type())));
    if (t.rank_known) {
      bool ok = v.shape().size() == t.shape.size();
      for (size_t d = 0; ok && d < t.shape.size(); ++d) ok = !ir::isKnown(t.shape[d]) || t.shape[d] == v.shape()[d];
      if (!ok)
        throw Error(ErrorCode::kInvalidArgument,
                    "input '" + t.name + "' expects shape " + graph.shapeToString(t) + ", got " + toString(v.shape()));
    }
    t.shape = v.shape();
    t.rank_known = true;
    t.value = std::make_shared<const ir::Tensor>(v);
  }
  // Free each computed tensor after its last use unless it is kept.
  std::vector<int> last_use(tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int id : graph.nodes[n].inputs)
      if (id != ir::kAbsent) last_use[id] = static_cast<int>(n);
  std::vector<bool> is_output(tensors.size(), false);
  for (int id : graph.outputs) is_output[id] = true;

  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    evaluateNode(graph.nodes[n], tensors, graph.opset);
    if (keep_all) continue;
    for (int id : graph.nodes[n].inputs)
      if (id != ir::kAbsent && last_use[id] == static_cast<int>(n) && !is_output[id] && !graph.tensors[id].value)
        tensors[id].value.reset();
  }
  std::map<std::string, ir::Tensor> result;
  auto take = [&](int id) {
    if (id != ir::kAbsent && tensors[id].value) result[tensors[id].name] = *tensors[id].value;
  };
  if (keep_all) {
    for (size_t id = 0; id < tensors.size(); ++id) take(static_cast<int>(id));
  } else {
    for (int id : graph.outputs) take(id);
  }
  return result;
}

}  // namespace kiln::cpu
