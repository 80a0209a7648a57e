#include "support/tactic_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <sstream>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "passes/shape_inference.h"

namespace kiln::testing {

ir::Graph makeNodeGraph(const std::string& op, const std::vector<NodeInput>& inputs, ir::Attributes attrs,
                        int num_outputs, int opset) {
  ir::Graph g;
  g.opset = opset;
  ir::Node node;
  node.op = op;
  node.name = op + "_0";
  attrs.owner = node.describe();
  node.attrs = std::move(attrs);
  uint32_t seed = 100;
  for (const NodeInput& in : inputs) {
    if (in.name.empty()) {
      node.inputs.push_back(ir::kAbsent);
      continue;
    }
    int id = g.tensorId(in.name);
    ir::TensorInfo& t = g.tensors[id];
    t.type = in.type;
    t.shape = in.shape;
    t.rank_known = true;
    if (in.value) {
      t.value = std::make_shared<const ir::Tensor>(*in.value);
      t.is_initializer = true;
    } else if (in.constant) {
      t.value = std::make_shared<const ir::Tensor>(randomTensor(in.type, in.shape, seed++));
      t.is_initializer = true;
    } else {
      g.inputs.push_back(id);
    }
    node.inputs.push_back(id);
  }
  for (int o = 0; o < num_outputs; ++o) {
    int id = g.tensorId(op + "_out" + std::to_string(o));
    node.outputs.push_back(id);
    g.outputs.push_back(id);
  }
  g.nodes.push_back(std::move(node));
  passes::inferShapes(g, passes::InferenceOptions{.fold_constants = false});
  return g;
}

ir::Tensor randomTensor(DataType type, const ir::Shape& shape, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  ir::Tensor t(type, shape);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (type == DataType::kBOOL) {
    std::bernoulli_distribution d(0.5);
    for (auto& x : v) x = d(rng);
  } else if (!isFloatingPoint(type)) {
    std::uniform_int_distribution<int> d(static_cast<int>(std::ceil(lo * 5)), static_cast<int>(std::floor(hi * 5)));
    for (auto& x : v) x = d(rng);
  } else {
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : v) x = d(rng);
  }
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](double x) { return x == 0; })) v[0] = 1;
  return ir::Tensor::fromDouble(type, shape, v);
}

Tolerance toleranceFor(DataType type, bool tf32) {
  if (type == DataType::kHALF || type == DataType::kBF16) return {1e-2, 1e-2};
  if (tf32) return {0, 1e-2, 1e-3};
  if (type == DataType::kFLOAT) return {1e-5, 1e-5};
  if (type == DataType::kDOUBLE) return {1e-10, 1e-12};
  return {0, 0};
}

std::string compareTensors(const ir::Tensor& expected, const ir::Tensor& actual, Tolerance tol) {
  if (expected.type() != actual.type())
    return "type " + std::string(toString(actual.type())) + ", expected " + std::string(toString(expected.type()));
  if (expected.shape() != actual.shape())
    return "shape " + toString(actual.shape()) + ", expected " + toString(expected.shape());
  std::vector<double> e = expected.toDouble();
  std::vector<double> a = actual.toDouble();
  if (tol.l2 > 0) {
    double diff2 = 0, ref2 = 0, largest = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      diff2 += (a[i] - e[i]) * (a[i] - e[i]);
      ref2 += e[i] * e[i];
      largest = std::max(largest, std::fabs(e[i]));
    }
    double rel = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    if (!(rel <= tol.l2)) {
      std::ostringstream os;
      os << "relative L2 error " << rel << " exceeds " << tol.l2;
      return os.str();
    }
    for (size_t i = 0; i < e.size(); ++i)
      if (!(std::fabs(a[i] - e[i]) <= tol.atol * largest)) {
        std::ostringstream os;
        os.precision(9);
        os << "element " << i << " is " << a[i] << ", expected " << e[i] << " (largest " << largest << ")";
        return os.str();
      }
    return "";
  }
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(a[i])) continue;
    if (e[i] == a[i]) continue;
    if (!(std::fabs(a[i] - e[i]) <= tol.atol + tol.rtol * std::fabs(e[i]))) {
      std::ostringstream os;
      os.precision(9);
      os << "element " << i << " is " << a[i] << ", expected " << e[i];
      return os.str();
    }
  }
  return "";
}

std::vector<CandidateResult> checkProvider(const backend::TacticProvider& provider, const ir::Graph& graph,
                                           backend::Device& device, Tolerance tolerance,
                                           const backend::BuildOptions& options, uint32_t seed) {
  const ir::Node& node = graph.nodes.at(0);
  std::map<std::string, ir::Tensor> inputs;
  for (int id : graph.inputs) {
    const ir::TensorInfo& t = graph.tensors[id];
    inputs[t.name] = randomTensor(t.type, t.shape, seed++);
  }
  std::map<std::string, ir::Tensor> expected = cpu::runReference(graph, inputs);

  backend::LayerView layer{.node = &node, .opset = graph.opset};
  for (int id : node.inputs) {
    if (id == ir::kAbsent) {
      layer.inputs.push_back({.present = false});
      layer.constants.push_back(nullptr);
      layer.host_values.push_back(nullptr);
      continue;
    }
    const ir::TensorInfo& t = graph.tensors[id];
    layer.inputs.push_back({t.type, t.shape, true});
    layer.constants.push_back(t.value.get());
    layer.host_values.push_back(nullptr);
  }
  for (int id : node.outputs) {
    const ir::TensorInfo& t = graph.tensors[id];
    layer.outputs.push_back({t.type, t.shape, true});
  }

  std::vector<CandidateResult> results;
  for (const backend::TacticConfig& config : provider.candidates(layer, layer, layer, options)) {
    CandidateResult r{.name = config.name};
    std::vector<void*> buffers;
    auto release = [&] {
      for (void* b : buffers) device.free(b);
      buffers.clear();
    };
    try {
      // Contexts run clones of the engine's kernel: run the clone, after the original is gone,
      // so that a clone that does not share (or keep alive) the weights fails here.
      std::unique_ptr<backend::Kernel> kernel = provider.instantiate(layer, config, device);
      kernel->reshape(layer);
      if (std::unique_ptr<backend::Kernel> clone = kernel->clone()) {
        kernel = std::move(clone);
        kernel->reshape(layer);
      }
      void* stream = device.createStream();
      std::vector<const void*> in_ptrs;
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        int id = node.inputs[i];
        if (id == ir::kAbsent) {
          in_ptrs.push_back(nullptr);
          continue;
        }
        const ir::TensorInfo& t = graph.tensors[id];
        const ir::Tensor& v = t.value ? *t.value : inputs.at(t.name);
        void* d = device.allocate(std::max<size_t>(v.byteSize(), 1));
        buffers.push_back(d);
        device.copyToDevice(d, v.raw(), v.byteSize(), stream);
        in_ptrs.push_back(d);
      }
      std::vector<void*> out_ptrs;
      for (const auto& o : layer.outputs) {
        size_t bytes = elementSize(o.type) * static_cast<size_t>(volume(o.shape));
        void* d = device.allocate(std::max<size_t>(bytes, 1));
        buffers.push_back(d);
        device.memset(d, 0xff, bytes, stream);  // poison: a kernel that skips elements shows
        out_ptrs.push_back(d);
      }
      size_t ws = kernel->workspaceSize(layer);
      void* workspace = ws ? device.allocate(ws) : nullptr;
      if (workspace) buffers.push_back(workspace);
      kernel->run(backend::RunArgs{.layer = &layer,
                                   .inputs = in_ptrs,
                                   .outputs = out_ptrs,
                                   .workspace = workspace,
                                   .workspace_size = ws,
                                   .stream = stream});
      r.passed = true;
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        const ir::TensorInfo& t = graph.tensors[node.outputs[o]];
        ir::Tensor actual(t.type, t.shape);
        device.copyToHost(actual.raw(), out_ptrs[o], actual.byteSize(), stream);
        device.synchronize(stream);
        std::string diff = compareTensors(expected.at(t.name), actual, tolerance);
        if (!diff.empty()) {
          r.passed = false;
          r.message = "output '" + t.name + "': " + diff;
          break;
        }
      }
      // A tactic that may run in place runs so too: output 0 written over each input it names
      // (the memory planner's in-place layers), on a fresh copy of that input.
      for (int k : config.inplace_inputs) {
        if (!r.passed || k < 0 || k >= static_cast<int>(node.inputs.size()) || node.inputs[k] == ir::kAbsent) continue;
        const ir::TensorInfo& in_t = graph.tensors[node.inputs[k]];
        const ir::TensorInfo& out_t = graph.tensors[node.outputs[0]];
        if (in_t.value || in_t.type != out_t.type || in_t.shape != out_t.shape) continue;
        const ir::Tensor& v = inputs.at(in_t.name);
        void* shared = const_cast<void*>(in_ptrs[k]);
        device.copyToDevice(shared, v.raw(), v.byteSize(), stream);
        std::vector<void*> aliased = out_ptrs;
        aliased[0] = shared;
        kernel->run(backend::RunArgs{.layer = &layer,
                                     .inputs = in_ptrs,
                                     .outputs = aliased,
                                     .workspace = workspace,
                                     .workspace_size = ws,
                                     .stream = stream});
        ir::Tensor actual(out_t.type, out_t.shape);
        device.copyToHost(actual.raw(), shared, actual.byteSize(), stream);
        device.synchronize(stream);
        const std::string diff = compareTensors(expected.at(out_t.name), actual, tolerance);
        if (!diff.empty()) {
          r.passed = false;
          r.message = "in place over input " + std::to_string(k) + ", output '" + out_t.name + "': " + diff;
        }
      }
      device.synchronize(stream);
      device.destroyStream(stream);
    } catch (const std::exception& e) {
      r.passed = false;
      r.message = e.what();
    }
    release();
    results.push_back(std::move(r));
  }
  return results;
}

void expectProviderPasses(const char* provider_name, const ir::Graph& graph, backend::Device& device,
                          const ProviderCheck& check) {
  const backend::TacticProvider* provider = backend::findProvider(provider_name);
  ASSERT_NE(provider, nullptr) << provider_name << " is not registered";
  backend::BuildOptions options;
  options.tf32 = check.tf32;
  options.fp16 = check.precision == DataType::kHALF;
  options.bf16 = check.precision == DataType::kBF16;
  const std::string what = (check.what.empty() ? graph.nodes.at(0).op : check.what) + " (" +
                           std::string(toString(check.precision)) + (check.tf32 ? ", tf32" : "") + ")";
  const std::vector<CandidateResult> results =
      checkProvider(*provider, graph, device, check.tolerance.value_or(toleranceFor(check.precision, check.tf32)),
                    options, check.seed);
  if (!check.may_be_empty) {
    EXPECT_FALSE(results.empty()) << provider_name << " offers no candidate for " << what;
  }
  std::set<std::string> names;
  for (const auto& r : results) {
    EXPECT_TRUE(r.passed) << what << " [" << provider_name << ":" << r.name << "]: " << r.message;
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate candidate name " << r.name;
  }
}

}  // namespace kiln::testing
