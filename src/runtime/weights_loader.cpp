#include "runtime/weights_loader.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/cpu/reference.h"
#include "kiln/logger.h"
#include "kiln/refitter.h"

namespace kiln::runtime {

std::vector<int> neededWeights(const plan::Plan& plan) {
  std::vector<bool> used(plan.graph.tensors.size(), false);
  for (const auto& l : plan.layers)
    for (int id : l.node.inputs)
      if (id != ir::kAbsent) used[id] = true;
  for (const auto& n : plan.weight_program.nodes)
    for (int id : n.inputs)
      if (id != ir::kAbsent) used[id] = true;
  for (int id : plan.graph.outputs) used[id] = true;
  std::vector<int> ids;
  for (size_t id = 0; id < plan.graph.tensors.size(); ++id)
    if (used[id] && plan.graph.tensors[id].is_initializer) ids.push_back(static_cast<int>(id));
  return ids;
}

void rerunWeightProgram(const plan::Plan& plan, std::vector<ir::TensorInfo>& tensors, std::vector<bool>& changed) {
  for (const ir::Node& node : plan.weight_program.nodes) {
    bool affected = false;
    for (int id : node.inputs)
      if (id != ir::kAbsent && changed[id]) affected = true;
    if (!affected) continue;
    cpu::evaluateNode(node, tensors, plan.graph.opset);
    for (int id : node.outputs)
      if (id != ir::kAbsent) changed[id] = true;
  }
}

void loadStrippedWeights(plan::Plan& plan, const std::string& path) {
  std::map<std::string, NamedWeight> weights = readWeightsFile(path);
  std::vector<ir::TensorInfo> tensors = plan.graph.tensors;
  std::vector<bool> changed(tensors.size(), false);
  std::string problems;
  int problem_count = 0;
  int differing = 0;
  auto problem = [&](const std::string& text) {
    if (problem_count++ < 8) problems += "\n  " + text;
  };
  for (int id : neededWeights(plan)) {
    ir::TensorInfo& t = tensors[id];
    auto it = weights.find(t.name);
    if (it == weights.end()) {
      problem("'" + t.name + "' is missing");
      continue;
    }
    const NamedWeight& w = it->second;
    if (w.type != t.type || w.dims != t.shape) {
      problem("'" + t.name + "' is " + std::string(toString(w.type)) + " " + toString(w.dims) + ", the engine needs " +
              std::string(toString(t.type)) + " " + toString(t.shape));
      continue;
    }
    ir::Tensor value(t.type, t.shape);
    if (w.values.size() != value.byteSize()) {
      problem("'" + t.name + "' has " + std::to_string(w.values.size()) + " bytes, expected " + std::to_string(value.byteSize()));
      continue;
    }
    std::memcpy(value.raw(), w.values.data(), w.values.size());
    if (t.value && std::memcmp(t.value->raw(), value.raw(), value.byteSize()) != 0) ++differing;
    t.value = std::make_shared<const ir::Tensor>(std::move(value));
    changed[id] = true;
  }
  if (problem_count)
    throw Error(ErrorCode::kInvalidArgument, path + ": " + std::to_string(problem_count) + " weight(s) do not match the engine:" +
                                                 problems + (problem_count > 8 ? "\n  ..." : ""));
  rerunWeightProgram(plan, tensors, changed);
  if (differing)
    log(Severity::kWARNING, path + ": " + std::to_string(differing) +
                                " weight(s) differ from those the plan was built with (the engine is refitted with them)");
  plan.graph.tensors = std::move(tensors);
}

void writeFileAtomically(const std::string& path, std::span<const std::byte> bytes) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string temp = (dir / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()))).string();
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kIo, path + ": cannot write (cannot create a file in " + dir.string() + ")");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(temp.c_str());
      throw Error(ErrorCode::kIo, path + ": cannot write (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error(ErrorCode::kIo, path + ": cannot write: " + ec.message());
  }
}

}  // namespace kiln::runtime
