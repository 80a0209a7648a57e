#include "ir/graph.h"

#include <set>

namespace kiln::ir {

namespace {
[[noreturn]] void attributeError(const std::string& owner, const std::string& name, const char* problem) {
  throw Error(ErrorCode::kInvalidModel, owner + ": attribute '" + name + "' " + problem);
}

template <typename T>
const T& typed(const AttributeValue& v, const std::string& owner, const std::string& name, const char* type) {
  if (auto* p = std::get_if<T>(&v)) return *p;
  attributeError(owner, name, (std::string("is not of type ") + type).c_str());
}
}  // namespace

const AttributeValue& Attributes::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) attributeError(owner, name, "is required but missing");
  return it->second;
}

int64_t Attributes::i(const std::string& name) const { return typed<int64_t>(get(name), owner, name, "int"); }
int64_t Attributes::i(const std::string& name, int64_t fallback) const { return has(name) ? i(name) : fallback; }
float Attributes::f(const std::string& name) const {
  const auto& v = get(name);
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<float>(*p);  // tolerate ints for floats
  return typed<float>(v, owner, name, "float");
}
float Attributes::f(const std::string& name, float fallback) const { return has(name) ? f(name) : fallback; }
std::string Attributes::s(const std::string& name) const { return typed<std::string>(get(name), owner, name, "string"); }
std::string Attributes::s(const std::string& name, const std::string& fallback) const {
  return has(name) ? s(name) : fallback;
}
std::vector<int64_t> Attributes::ints(const std::string& name) const {
  return typed<std::vector<int64_t>>(get(name), owner, name, "ints");
}
std::vector<int64_t> Attributes::ints(const std::string& name, std::vector<int64_t> fallback) const {
  return has(name) ? ints(name) : fallback;
}
std::vector<float> Attributes::floats(const std::string& name) const {
  return typed<std::vector<float>>(get(name), owner, name, "floats");
}
std::vector<float> Attributes::floats(const std::string& name, std::vector<float> fallback) const {
  return has(name) ? floats(name) : fallback;
}
std::vector<std::string> Attributes::strings(const std::string& name) const {
  return typed<std::vector<std::string>>(get(name), owner, name, "strings");
}
const Tensor& Attributes::t(const std::string& name) const { return typed<Tensor>(get(name), owner, name, "tensor"); }

std::string Node::describe() const { return "node '" + name + "' (" + op + ")"; }

int Graph::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

int Graph::tensorId(const std::string& name) {
  int id = find(name);
  if (id >= 0) return id;
  id = static_cast<int>(tensors.size());
  tensors.push_back(TensorInfo{.name = name});
  by_name_[name] = id;
  return id;
}

int Graph::addTensor(const std::string& hint) {
  std::string name = hint;
  for (int n = 1; find(name) >= 0; ++n) name = hint + "_" + std::to_string(n);
  return tensorId(name);
}

int Graph::addConstant(const std::string& hint, Tensor value) {
  int id = addTensor(hint);
  TensorInfo& t = tensors[id];
  t.type = value.type();
  t.shape = value.shape();
  t.rank_known = true;
  t.value = std::make_shared<const Tensor>(std::move(value));
  return id;
}

int64_t Graph::symbolDim(const std::string& symbol) {
  for (size_t i = 0; i < symbols.size(); ++i)
    if (symbols[i] == symbol) return kFirstSymbol - static_cast<int64_t>(i);
  symbols.push_back(symbol);
  return kFirstSymbol - static_cast<int64_t>(symbols.size() - 1);
}

std::string Graph::dimToString(int64_t d) const {
  if (d >= 0) return std::to_string(d);
  int64_t s = kFirstSymbol - d;
  if (d <= kFirstSymbol && s < static_cast<int64_t>(symbols.size())) return symbols[s];
  return "?";
}

std::string Graph::shapeToString(const TensorInfo& t) const {
  if (!t.rank_known) return "(unknown rank)";
  std::string s = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + dimToString(t.shape[i]);
  return s + "]";
}

void Graph::removeDeadCode() {
  std::vector<bool> live(tensors.size(), false);
  for (int id : outputs) live[id] = true;
  std::vector<bool> keep(nodes.size(), false);
  for (size_t n = nodes.size(); n-- > 0;) {
    bool used = false;
    for (int o : nodes[n].outputs)
      if (o != kAbsent && live[o]) used = true;
    if (!used) continue;
    keep[n] = true;
    for (int i : nodes[n].inputs)
      if (i != kAbsent) live[i] = true;
  }
  for (int id : inputs) live[id] = true;
  // The weight program: keep the nodes whose outputs are live, and their inputs.
  std::vector<bool> keep_program(weight_program.size(), false);
  for (size_t n = weight_program.size(); n-- > 0;) {
    bool used = false;
    for (int o : weight_program[n].outputs)
      if (o != kAbsent && live[o]) used = true;
    if (!used) continue;
    keep_program[n] = true;
    for (int i : weight_program[n].inputs)
      if (i != kAbsent) live[i] = true;
  }
  // Renumber the live tensors.
  std::vector<int> remap(tensors.size(), -1);
  std::vector<TensorInfo> kept_tensors;
  by_name_.clear();
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!live[i]) continue;
    remap[i] = static_cast<int>(kept_tensors.size());
    by_name_[tensors[i].name] = remap[i];
    kept_tensors.push_back(std::move(tensors[i]));
  }
  auto fix = [&](int id) { return id == kAbsent ? kAbsent : remap[id]; };
  std::vector<Node> kept_nodes;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!keep[n]) continue;
    Node node = std::move(nodes[n]);
    for (int& i : node.inputs) i = fix(i);
    for (int& o : node.outputs) o = fix(o);  // outputs nobody uses become kAbsent
    kept_nodes.push_back(std::move(node));
  }
  std::vector<Node> kept_program;
  for (size_t n = 0; n < weight_program.size(); ++n) {
    if (!keep_program[n]) continue;
    Node node = std::move(weight_program[n]);
    for (int& i : node.inputs) i = fix(i);
    for (int& o : node.outputs) o = fix(o);
    kept_program.push_back(std::move(node));
  }
  weight_program = std::move(kept_program);
  for (int& id : inputs) id = fix(id);
  for (int& id : outputs) id = fix(id);
  tensors = std::move(kept_tensors);
  nodes = std::move(kept_nodes);
}

std::optional<Shape> shapeValueOf(const TensorInfo& t) {
  if (t.shape_value) return t.shape_value;
  if (!t.value || t.value->shape().size() > 1 || t.value->numel() > 64) return std::nullopt;
  if (t.value->type() != DataType::kINT64 && t.value->type() != DataType::kINT32) return std::nullopt;
  Shape v = t.value->toInt64();
  for (int64_t d : v)
    if (d < -1) return std::nullopt;  // would read as a symbol
  return v;
}

}  // namespace kiln::ir
