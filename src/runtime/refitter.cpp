#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "kiln/kiln.h"
#include "runtime/engine_impl.h"
#include "runtime/weights_loader.h"

namespace kiln {

struct Refitter::Impl {
  Engine::Impl& engine;
  std::map<int, ir::Tensor> staged;  // by tensor id
  //! For each derived weight: the model weights it is computed from (its refit group).
  std::vector<std::set<int>> groups;

  explicit Impl(Engine::Impl& e) : engine(e) {
    const plan::Plan& plan = engine.plan;
    std::vector<std::set<int>> sources(plan.graph.tensors.size());
    for (size_t id = 0; id < plan.graph.tensors.size(); ++id)
      if (plan.graph.tensors[id].is_initializer) sources[id] = {static_cast<int>(id)};
    for (const ir::Node& node : plan.weight_program.nodes) {
      std::set<int> s;
      for (int in : node.inputs)
        if (in != ir::kAbsent) s.insert(sources[in].begin(), sources[in].end());
      for (int out : node.outputs)
        if (out != ir::kAbsent) sources[out] = s;
    }
    // A group is every model weight the program combines, closed over shared members: a
    // conv's W and B fused with its BatchNorm's scale, B, mean and var form one group (the
    // program's intermediate products each read only part of it), so that giving any
    // member asks for all of them.
    std::vector<int> parent(plan.graph.tensors.size());
    for (size_t id = 0; id < parent.size(); ++id) parent[id] = static_cast<int>(id);
    auto root = [&](int id) {
      while (parent[id] != id) id = parent[id] = parent[parent[id]];
      return id;
    };
    for (const ir::Node& node : plan.weight_program.nodes)
      for (int out : node.outputs)
        if (out != ir::kAbsent && sources[out].size() > 1)
          for (int id : sources[out]) parent[root(id)] = root(*sources[out].begin());
    std::map<int, std::set<int>> components;
    for (const ir::Node& node : plan.weight_program.nodes)
      for (int out : node.outputs)
        if (out != ir::kAbsent)
          for (int id : sources[out]) components[root(id)].insert(id);
    for (auto& [_, members] : components)
      if (members.size() > 1) groups.push_back(std::move(members));
  }

  int weightId(const std::string& name) const {
    int id = engine.plan.graph.find(name);
    if (id < 0 || !engine.plan.graph.tensors[id].is_initializer)
      throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not a weight of the engine");
    return id;
  }
};

Refitter::Refitter(Engine& engine) {
  if (!engine.refittable())
    throw Error(ErrorCode::kInvalidArgument, "the engine is not refittable (build it with the refit flag / --refittable)");
  impl_ = std::make_unique<Impl>(engine.impl());
}

Refitter::~Refitter() = default;

std::vector<std::string> Refitter::weightNames() const {
  std::vector<std::string> names;
  for (int id : runtime::neededWeights(impl_->engine.plan)) names.push_back(impl_->engine.plan.graph.tensors[id].name);
  return names;
}

void Refitter::setNamedWeights(const std::string& name, DataType type, const Dims& dims, std::span<const std::byte> values) {
  int id = impl_->weightId(name);
  const ir::TensorInfo& t = impl_->engine.plan.graph.tensors[id];
  if (type != t.type || dims != t.shape)
    throw Error(ErrorCode::kInvalidArgument, "weight '" + name + "' must be " + std::string(toString(t.type)) + " " +
                                                 toString(t.shape) + ", got " + std::string(toString(type)) + " " + toString(dims));
  ir::Tensor value(type, dims);
  if (values.size() != value.byteSize())
    throw Error(ErrorCode::kInvalidArgument, "weight '" + name + "' needs " + std::to_string(value.byteSize()) + " bytes, got " +
                                                 std::to_string(values.size()));
  std::memcpy(value.raw(), values.data(), values.size());
  impl_->staged[id] = std::move(value);
}

std::vector<std::string> Refitter::missingWeights() const {
  std::set<int> missing;
  for (const auto& group : impl_->groups) {
    bool touched = false;
    for (int id : group) touched = touched || impl_->staged.count(id);
    if (!touched) continue;
    for (int id : group)
      if (!impl_->staged.count(id) && !impl_->engine.plan.graph.tensors[id].value) missing.insert(id);
  }
  std::vector<std::string> names;
  for (int id : missing) names.push_back(impl_->engine.plan.graph.tensors[id].name);
  return names;
}

std::vector<std::string> Refitter::refit() {
  std::vector<std::string> missing = missingWeights();
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + ("'" + m + "'");
    throw Error(ErrorCode::kInvalidArgument, "refit needs these weights too (they are fused with weights given): " + list);
  }
  Engine::Impl& engine = impl_->engine;
  plan::Plan& plan = engine.plan;
  // Compute everything new first; swap only when all of it succeeded.
  std::vector<ir::TensorInfo> tensors = plan.graph.tensors;
  std::vector<bool> changed(tensors.size(), false);
  std::vector<std::string> updated;
  for (auto& [id, value] : impl_->staged) {
    tensors[id].value = std::make_shared<const ir::Tensor>(value);
    changed[id] = true;
    updated.push_back(tensors[id].name);
  }
  runtime::rerunWeightProgram(plan, tensors, changed);

  std::swap(plan.graph.tensors, tensors);
  std::vector<std::vector<std::shared_ptr<backend::Kernel>>> fresh(engine.kernels.size());
  std::vector<void*> constants;
  try {
    for (size_t p = 0; p < engine.kernels.size(); ++p) {
      fresh[p].resize(plan.layers.size());
      for (size_t l = 0; l < plan.layers.size(); ++l) {
        if (plan.layers[l].host || plan.layers[l].isView()) continue;
        bool affected = false;
        for (int id : plan.layers[l].node.inputs)
          if (id != ir::kAbsent && changed[id]) affected = true;
        if (affected) fresh[p][l] = engine.makeKernel(l, p);
      }
    }
    constants = engine.uploadConstants(nullptr);
  } catch (...) {
    std::swap(plan.graph.tensors, tensors);  // keep every old weight
    engine.freeConstants(constants);
    throw;
  }
  for (size_t p = 0; p < engine.kernels.size(); ++p)
    for (size_t l = 0; l < plan.layers.size(); ++l)
      if (fresh[p][l]) engine.kernels[p][l] = std::move(fresh[p][l]);
  std::swap(engine.constants, constants);
  engine.freeConstants(constants);
  ++engine.weights_generation;
  impl_->staged.clear();
  std::sort(updated.begin(), updated.end());
  return updated;
}


}  // namespace kiln
