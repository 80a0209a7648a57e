// Helpers shared by the tests of kiln's own CUDA compute kernels (cuda.reduce, cuda.softmax,
// cuda.norm, cuda.pool, cuda.conv, cuda.gemm): every candidate of a provider against the CPU
// reference through the tactic harness, at one precision, and refit on the GPU.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/reference.h"
#include "support/op_test.h"
#include "support/tactic_harness.h"

namespace kiln::gputest {

using Ints = std::vector<int64_t>;
using testing::NodeInput;

inline ir::Attributes attrsOf(const std::map<std::string, ir::AttributeValue>& values) {
  return testing::attrsFromMap(values);
}

inline NodeInput in(const std::string& name, DataType type, Ints shape, bool constant = false) {
  return NodeInput{.name = name, .type = type, .shape = std::move(shape), .constant = constant};
}

//! An int64 constant input (axes, shapes) with fixed values.
inline NodeInput ints(const std::string& name, const ir::Tensor& value) {
  return NodeInput{.name = name, .type = DataType::kINT64, .shape = value.shape(), .constant = true, .value = &value};
}

constexpr DataType kPrecisions[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};

//! Every candidate of `provider_name` passes on `graph` within `tolerance` (the precision's
//! default when unset), and at least one is offered.
inline void expectAllPass(const char* provider_name, const ir::Graph& graph, DataType precision,
                          std::optional<testing::Tolerance> tolerance = std::nullopt, uint32_t seed = 1) {
  backend::Device* device = backend::gpuDevice();
  ASSERT_NE(device, nullptr);
  testing::expectProviderPasses(provider_name, graph, *device,
                                {.precision = precision, .tolerance = tolerance, .seed = seed});
}

//! `provider_name` offers no candidate for the graph's node.
inline void expectNoCandidate(const char* provider_name, const ir::Graph& graph) {
  const backend::TacticProvider* provider = backend::findProvider(provider_name);
  ASSERT_NE(provider, nullptr);
  backend::Device* device = backend::gpuDevice();
  ASSERT_NE(device, nullptr);
  EXPECT_TRUE(testing::checkProvider(*provider, graph, *device, {}).empty());
}

inline backend::LayerView viewOf(const ir::Graph& g) {
  const ir::Node& node = g.nodes.at(0);
  backend::LayerView layer{.node = &node, .opset = g.opset};
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      layer.inputs.push_back({.present = false});
      layer.constants.push_back(nullptr);
      layer.host_values.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = g.tensors[id];
    layer.inputs.push_back({t.type, t.shape, true});
    layer.constants.push_back(t.value.get());
    layer.host_values.push_back(nullptr);
  }
  for (int id : node.outputs) layer.outputs.push_back({g.tensors[id].type, g.tensors[id].shape, true});
  return layer;
}

//! Runs `kernel` once on the GPU (with the workspace it asks for); constant inputs are passed
//! too (a kernel may use its own copy).
inline ir::Tensor runOnGpu(backend::Kernel& kernel, const backend::LayerView& layer, const ir::Graph& g,
                           const std::map<std::string, ir::Tensor>& feeds) {
  backend::Device& device = *backend::gpuDevice();
  const ir::Node& node = g.nodes.at(0);
  std::vector<void*> buffers;
  std::vector<const void*> ins;
  void* stream = device.createStream();
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      ins.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = g.tensors[id];
    const ir::Tensor& v = t.value ? *t.value : feeds.at(t.name);
    void* d = device.allocate(std::max<size_t>(v.byteSize(), 1));
    buffers.push_back(d);
    device.copyToDevice(d, v.raw(), v.byteSize(), stream);
    ins.push_back(d);
  }
  ir::Tensor out(layer.outputs[0].type, layer.outputs[0].shape);
  void* d_out = device.allocate(std::max<size_t>(out.byteSize(), 1));
  buffers.push_back(d_out);
  std::vector<void*> outs = {d_out};
  kernel.reshape(layer);
  // Library tactics (cuDNN) may need scratch memory.
  const size_t workspace_size = kernel.workspaceSize(layer);
  void* workspace = workspace_size ? device.allocate(workspace_size) : nullptr;
  if (workspace) buffers.push_back(workspace);
  kernel.run(backend::RunArgs{.layer = &layer,
                              .inputs = ins,
                              .outputs = outs,
                              .workspace = workspace,
                              .workspace_size = workspace_size,
                              .stream = stream});
  device.copyToHost(out.raw(), d_out, out.byteSize(), stream);
  device.synchronize(stream);
  device.destroyStream(stream);
  for (void* b : buffers) device.free(b);
  return out;
}

//! Instantiates every candidate on `graph`, swaps in new values for the constant input
//! `weight` and refits: results must follow the new weights.
inline void expectRefitFollows(const char* provider_name, ir::Graph graph, const std::string& weight,
                               DataType precision = DataType::kFLOAT) {
  const backend::TacticProvider* provider = backend::findProvider(provider_name);
  ASSERT_NE(provider, nullptr);
  std::map<std::string, ir::Tensor> feeds;
  uint32_t seed = 7;
  for (int id : graph.inputs)
    feeds[graph.tensors[id].name] = testing::randomTensor(graph.tensors[id].type, graph.tensors[id].shape, seed++);
  const int wid = graph.find(weight);
  ASSERT_GE(wid, 0);
  const backend::LayerView before = viewOf(graph);
  const std::string out_name = graph.tensors[graph.nodes[0].outputs[0]].name;
  const ir::Tensor expected_before = cpu::runReference(graph, feeds).at(out_name);

  ir::Graph refitted = graph;
  // Positive values keep variances valid when the weight is BatchNormalization's input_var.
  refitted.tensors[wid].value = std::make_shared<const ir::Tensor>(
      testing::randomTensor(graph.tensors[wid].type, graph.tensors[wid].shape, 4242, 0.25, 2.0));
  const backend::LayerView after = viewOf(refitted);
  const ir::Tensor expected_after = cpu::runReference(refitted, feeds).at(out_name);
  ASSERT_FALSE(testing::compareTensors(expected_before, expected_after, {}).empty()) << "new weights changed nothing";

  const auto configs = provider->candidates(before, before, before, {});
  ASSERT_FALSE(configs.empty());
  const testing::Tolerance tol = testing::toleranceFor(precision);
  for (const backend::TacticConfig& config : configs) {
    SCOPED_TRACE(config.name);
    std::unique_ptr<backend::Kernel> kernel = provider->instantiate(before, config, *backend::gpuDevice());
    EXPECT_EQ(testing::compareTensors(expected_before, runOnGpu(*kernel, before, graph, feeds), tol), "");
    ASSERT_TRUE(kernel->refit(after));
    EXPECT_EQ(testing::compareTensors(expected_after, runOnGpu(*kernel, after, refitted, feeds), tol), "");
  }
}

}  // namespace kiln::gputest
