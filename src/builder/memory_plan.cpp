#include "builder/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace kiln::memory {

namespace {

size_t alignedSize(size_t size, size_t alignment) {
  const size_t aligned = (size + alignment - 1) / alignment * alignment;
  return aligned == 0 ? alignment : aligned;
}

//! Same type and the same dims at every size: every dim known, or the same symbol.
bool sameBytesAtEveryShape(const ir::TensorInfo& a, const ir::TensorInfo& b) {
  if (a.type != b.type || !a.rank_known || !b.rank_known || a.shape != b.shape) return false;
  return std::none_of(a.shape.begin(), a.shape.end(), [](int64_t d) { return d == ir::kUnknownDim; });
}

}  // namespace

size_t planMemory(const std::vector<BufferRequest>& requests, std::vector<uint64_t>& offsets, size_t alignment) {
  offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Largest first; ties by first use so the result is deterministic.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].size != requests[b].size) return requests[a].size > requests[b].size;
    return a < b;
  });
  struct Placed {
    uint64_t offset;
    size_t size;
    int first;
    int last;
  };
  std::vector<Placed> placed;
  size_t total = 0;
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    const size_t size = alignedSize(r.size, alignment);
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= r.last && r.first <= p.last) busy.push_back({p.offset, p.offset + p.size});
    std::sort(busy.begin(), busy.end());
    uint64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max<uint64_t>(offset, end);
    }
    offsets[idx] = offset;
    placed.push_back({offset, size, r.first, r.last});
    total = std::max<size_t>(total, offset + size);
  }
  return total;
}

size_t peakLiveBytes(const std::vector<BufferRequest>& requests, size_t alignment) {
  int end = 0;
  for (const BufferRequest& r : requests) end = std::max(end, r.last + 1);
  // Difference array over layer indices: +size where a buffer starts, -size after it ends.
  std::vector<int64_t> delta(static_cast<size_t>(end) + 1, 0);
  for (const BufferRequest& r : requests) {
    const auto size = static_cast<int64_t>(alignedSize(r.size, alignment));
    delta[static_cast<size_t>(std::max(r.first, 0))] += size;
    delta[static_cast<size_t>(std::max(r.last, r.first) + 1)] -= size;
  }
  int64_t live = 0, peak = 0;
  for (int64_t d : delta) {
    live += d;
    peak = std::max(peak, live);
  }
  return static_cast<size_t>(peak);
}

std::vector<int> aliasRoots(const std::vector<plan::Layer>& layers, size_t tensor_count, size_t profile) {
  std::vector<int> root(tensor_count);
  std::iota(root.begin(), root.end(), 0);
  for (const plan::Layer& layer : layers) {
    if (layer.host || layer.node.outputs.empty() || layer.node.outputs[0] == ir::kAbsent) continue;
    if (layer.isView()) {
      root[layer.node.outputs[0]] = root[layer.node.inputs[0]];
    } else if (profile < layer.tactics.size()) {
      const int k = layer.tactics[profile].inplace_input;
      if (k >= 0 && k < static_cast<int>(layer.node.inputs.size()) && layer.node.inputs[k] != ir::kAbsent)
        root[layer.node.outputs[0]] = root[layer.node.inputs[k]];
    }
  }
  return root;
}

ActivationRequests activationRequests(const std::vector<plan::Layer>& layers, size_t tensor_count, size_t profile,
                                      const std::vector<int>& debug, const std::function<bool(int)>& wanted,
                                      const std::function<size_t(int)>& bytes) {
  const std::vector<int> root = aliasRoots(layers, tensor_count, profile);
  std::vector<int> last_use(tensor_count, -1);
  for (size_t l = 0; l < layers.size(); ++l)
    for (int id : layers[l].node.inputs)
      if (id != ir::kAbsent) last_use[root[id]] = static_cast<int>(l);
  for (int id : debug) last_use[root[id]] = static_cast<int>(layers.size());
  ActivationRequests r;
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].host || layers[l].isView()) continue;
    for (int id : layers[l].node.outputs) {
      if (id == ir::kAbsent || root[id] != id || !wanted(id)) continue;
      r.requests.push_back({bytes(id), static_cast<int>(l), std::max(last_use[id], static_cast<int>(l))});
      r.tensor.push_back(id);
    }
  }
  return r;
}

int planInPlace(std::vector<plan::Layer>& layers, size_t profile, const ir::Graph& graph, const std::vector<int>& debug,
                const std::function<bool(int)>& wanted) {
  const size_t n = graph.tensors.size();
  const int end = static_cast<int>(layers.size());
  // Per tensor: the last layer that reads it; graph outputs and debug tensors are read after
  // the last layer.
  std::vector<int> last_read(n, -1);
  for (int l = 0; l < end; ++l)
    for (int id : layers[l].node.inputs)
      if (id != ir::kAbsent) last_read[id] = l;
  for (int id : graph.outputs) last_read[id] = end;
  for (int id : debug) last_read[id] = end;

  // Built layer by layer: root[t] holds t's memory; alias_last[r] is the last read of any
  // tensor so far sharing r's memory; owns[r] marks memory an activation buffer provides.
  std::vector<int> root(n);
  std::iota(root.begin(), root.end(), 0);
  std::vector<int> alias_last = last_read;
  std::vector<bool> owns(n, false);
  auto share = [&](int tensor, int holder) {
    root[tensor] = holder;
    alias_last[holder] = std::max(alias_last[holder], alias_last[tensor]);
  };

  int count = 0;
  for (int l = 0; l < end; ++l) {
    plan::Layer& layer = layers[l];
    const ir::Node& node = layer.node;
    if (layer.host || node.outputs.empty()) continue;
    if (layer.isView()) {
      if (node.outputs[0] != ir::kAbsent) share(node.outputs[0], root[node.inputs[0]]);
      continue;
    }
    plan::TacticChoice& choice = layer.tactics.at(profile);
    choice.inplace_input = -1;
    for (int id : node.outputs)
      if (id != ir::kAbsent && wanted(id)) owns[id] = true;
    const int out = node.outputs[0];
    if (out == ir::kAbsent || !wanted(out)) continue;
    for (int k : choice.config.inplace_inputs) {
      if (k < 0 || k >= static_cast<int>(node.inputs.size()) || node.inputs[k] == ir::kAbsent) continue;
      const int in = node.inputs[k];
      const int holder = root[in];
      if (!owns[holder] || alias_last[holder] != l) continue;
      bool shared = false;
      for (size_t j = 0; j < node.inputs.size(); ++j)
        if (static_cast<int>(j) != k && node.inputs[j] != ir::kAbsent && root[node.inputs[j]] == holder) shared = true;
      if (shared || !sameBytesAtEveryShape(graph.tensors[in], graph.tensors[out])) continue;
      choice.inplace_input = k;
      owns[out] = false;
      share(out, holder);
      ++count;
      break;
    }
  }
  return count;
}

}  // namespace kiln::memory
