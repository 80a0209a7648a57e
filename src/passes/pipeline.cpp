#include "passes/pipeline.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/errors.h"
#include "passes/cancel_transposes.h"
#include "passes/fold_batchnorm.h"
#include "passes/fuse_attention.h"
#include "passes/fuse_conv_epilogue.h"
#include "passes/fuse_gemm_epilogue.h"
#include "passes/fuse_layernorm.h"

namespace kiln::passes {

// The order matters: BatchNormalization folding first (it leaves the Conv + bias that the
// convolution epilogues start from, fused right after); transpose pairs next (fewer nodes for
// every pattern to look at); then decomposed LayerNorms (their Sub/Div would otherwise look
// like elementwise work to later passes); then the fusions that consume transposes and
// reshapes (attention) before the ones that would take their producers apart (GEMM epilogues
// take the bias Add an attention's Q projection ends in, and the residual Adds after).
// Levels: 0 builds the graph as imported (nothing fused, for debugging and comparison).
const std::vector<Pass>& pipeline() {
  static const std::vector<Pass> passes = {
      {"fold_batchnorm", 0, [](ir::Graph& g, const PassContext& c) { return foldBatchNormIntoConv(g, c.keep); }},
      {"fuse_conv_epilogue", 1, [](ir::Graph& g, const PassContext& c) { return fuseConvEpilogue(g, c.keep); }},
      {"cancel_transposes", 1, [](ir::Graph& g, const PassContext& c) { return cancelTransposes(g, c.keep); }},
      {"fuse_layernorm", 1, [](ir::Graph& g, const PassContext& c) { return fuseDecomposedLayerNorm(g, c.keep); }},
      {"fuse_attention", 1, [](ir::Graph& g, const PassContext& c) { return fuseAttention(g, c.keep); }},
      {"fuse_gemm_epilogue", 1, [](ir::Graph& g, const PassContext& c) { return fuseGemmEpilogue(g, c.keep); }},
  };
  return passes;
}

std::vector<int> producers(const ir::Graph& graph) {
  std::vector<int> producer(graph.tensors.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (int id : graph.nodes[i].outputs)
      if (id != ir::kAbsent) producer[id] = static_cast<int>(i);
  return producer;
}

std::vector<int> useCounts(const ir::Graph& graph) {
  std::vector<int> uses(graph.tensors.size(), 0);
  for (const auto& n : graph.nodes)
    for (int id : n.inputs)
      if (id != ir::kAbsent) ++uses[id];
  for (int id : graph.outputs) ++uses[id];
  return uses;
}

void eraseNodes(ir::Graph& graph, const std::vector<bool>& erase) {
  std::vector<ir::Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (i >= erase.size() || !erase[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
  graph.removeDeadCode();
}

std::string graphText(const ir::Graph& graph) {
  std::ostringstream os;
  auto tensor = [&](int id) {
    if (id == ir::kAbsent) return std::string("-");
    const ir::TensorInfo& t = graph.tensors[id];
    std::string s = t.name + ":" + std::string(toString(t.type)) + graph.shapeToString(t);
    return t.value ? s + "=const" : s;
  };
  for (int id : graph.inputs) os << "input " << tensor(id) << "\n";
  for (const ir::Node& n : graph.nodes) {
    os << n.name << " = " << (n.domain.empty() ? "" : n.domain + ".") << n.op << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << tensor(n.inputs[i]);
    os << ") -> ";
    for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << tensor(n.outputs[i]);
    os << "\n";
  }
  for (int id : graph.outputs) os << "output " << tensor(id) << "\n";
  return os.str();
}

namespace {

void dump(const std::string& dir, int index, const std::string& name, const ir::Graph& graph) {
  const std::string prefix = (index < 10 ? "0" : "") + std::to_string(index) + "_";
  const std::filesystem::path path = std::filesystem::path(dir) / (prefix + name + ".txt");
  std::ofstream f(path);
  f << graphText(graph);
  if (!f) throw Error(ErrorCode::kInvalidArgument, "cannot write the graph dump '" + path.string() + "'");
}

}  // namespace

std::vector<PassResult> runPipeline(ir::Graph& graph, const PassContext& context, const std::string& dump_dir) {
  if (!dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dump_dir, ec);
    if (ec) throw Error(ErrorCode::kInvalidArgument, "cannot create the graph dump folder '" + dump_dir + "': " + ec.message());
    dump(dump_dir, 0, "input", graph);
  }
  std::vector<PassResult> results;
  int index = 0;
  for (const Pass& pass : pipeline()) {
    ++index;
    PassResult r{.name = pass.name};
    if (context.opt_level >= pass.min_level) {
      const auto start = std::chrono::steady_clock::now();
      r.changes = pass.run(graph, context);
      r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      r.ran = true;
    }
    if (!dump_dir.empty()) dump(dump_dir, index, pass.name, graph);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace kiln::passes
