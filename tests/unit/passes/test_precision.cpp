// The precision passes on graphs, on the CPU oracle: convertFloatPrecision with a precision per
// node (fires: reduced nodes compute in float16, one Cast per tensor and precision, graph I/O
// stays float32; must not fire: an all-float32 plan leaves the graph as it was; equal: the
// converted graph computes what the original does, within float16's tolerance) and
// guardPrecision (fires on a graph that overflows float16, not on one that does not, never on
// a node it must keep).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "backends/cpu/reference.h"
#include "passes/precision.h"
#include "passes/precision_guard.h"
#include "runtime/network_impl.h"
#include "support/models.h"

namespace kiln {
namespace {

using Tensors = std::map<std::string, ir::Tensor>;

ir::Graph graphOf(const onnx::ModelProto& model) { return testing::parseModel(model).impl().graph; }

int nodeIndex(const ir::Graph& g, const std::string& name) {
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (g.nodes[n].name == name) return static_cast<int>(n);
  return -1;
}

double relativeError(const ir::Tensor& expected, const ir::Tensor& actual) {
  const std::vector<double> a = expected.toDouble(), b = actual.toDouble();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(b[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

Tensors input(int64_t batch) { return {{"x", testing::randomInput({batch, 16}, 5)}}; }

TEST(ConvertFloatPrecision, MixedPlanConvertsReducedNodesWithOneCastPerTensorAndPrecision) {
  const ir::Graph original = graphOf(testing::mlpModel(3, 3));
  ir::Graph g = original;
  std::vector<bool> host(g.nodes.size(), false);
  std::vector<DataType> precision(g.nodes.size(), DataType::kHALF);
  precision[nodeIndex(g, "fc1/matmul")] = DataType::kFLOAT;  // pinned in the middle
  passes::convertFloatPrecision(g, precision, host);

  ASSERT_EQ(host.size(), g.nodes.size());
  auto typeOf = [&](const std::string& tensor) { return g.tensors[g.find(tensor)].type; };
  EXPECT_EQ(typeOf("fc0_mm"), DataType::kHALF);
  EXPECT_EQ(typeOf("fc1_mm"), DataType::kFLOAT);  // the pinned node's output stays float32
  EXPECT_EQ(typeOf("fc1_add"), DataType::kHALF);
  EXPECT_EQ(typeOf("x"), DataType::kFLOAT);  // graph I/O keeps its type
  EXPECT_EQ(typeOf("y"), DataType::kFLOAT);
  // The pinned node reads float32: its activation input through one Cast, its weight as is.
  const ir::Node& pinned = g.nodes[nodeIndex(g, "fc1/matmul")];
  for (int id : pinned.inputs) EXPECT_EQ(g.tensors[id].type, DataType::kFLOAT) << g.tensors[id].name;
  // One Cast per (tensor, precision): no two Casts read the same tensor into the same type.
  std::set<std::pair<int, int64_t>> casts;
  int cast_nodes = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op != "Cast" || nodeIndex(original, n.name) >= 0) continue;
    ++cast_nodes;
    EXPECT_TRUE(casts.insert({n.inputs[0], n.attrs.i("to", 0)}).second) << "a second Cast of " << g.tensors[n.inputs[0]].name;
  }
  // x -> float16, fc0_out -> float32 (for the pinned node), fc1_mm -> float16 (for fc1/add),
  // and y's float16 producer -> float32.
  EXPECT_EQ(cast_nodes, 4);

  for (int64_t batch : {1, 7}) {
    const Tensors in = input(batch);
    const double error =
        relativeError(cpu::runReference(original, in).at("y"), cpu::runReference(g, in).at("y"));
    EXPECT_LE(error, 1e-2) << "batch " << batch;
    EXPECT_GT(error, 0.0) << "batch " << batch << ": nothing was computed in float16";
  }
}

TEST(ConvertFloatPrecision, AllFloat32PlanLeavesTheGraphAsItWas) {
  const ir::Graph original = graphOf(testing::mlpModel(4, 2));
  ir::Graph g = original;
  std::vector<bool> host(g.nodes.size(), false);
  passes::convertFloatPrecision(g, std::vector<DataType>(g.nodes.size(), DataType::kFLOAT), host);
  ASSERT_EQ(g.nodes.size(), original.nodes.size());
  ASSERT_EQ(g.tensors.size(), original.tensors.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    EXPECT_EQ(g.nodes[n].name, original.nodes[n].name);
    EXPECT_EQ(g.nodes[n].inputs, original.nodes[n].inputs) << g.nodes[n].name;
  }
  for (size_t t = 0; t < g.tensors.size(); ++t) EXPECT_EQ(g.tensors[t].type, original.tensors[t].type) << g.tensors[t].name;
  const Tensors in = input(3);
  EXPECT_EQ(relativeError(cpu::runReference(original, in).at("y"), cpu::runReference(g, in).at("y")), 0.0);
}

TEST(PrecisionGuardPass, PinsWhatOverflowsLeavesTheRestAndKeepsFixedNodes) {
  const ir::Graph g = graphOf(testing::scaledModel(2, 1e6f));
  const std::vector<bool> host(g.nodes.size(), false);
  std::vector<DataType> precision(g.nodes.size(), DataType::kHALF);
  passes::PrecisionGuardResult r = passes::guardPrecision(g, host, precision, input(4), {});
  EXPECT_TRUE(r.agrees) << r.output_error;
  std::set<std::string> pinned;
  for (const auto& p : r.pinned) pinned.insert(p.layer);
  EXPECT_TRUE(pinned.count("scale_up"));
  EXPECT_FALSE(pinned.count("fc1"));
  EXPECT_EQ(precision[nodeIndex(g, "scale_up")], DataType::kFLOAT);
  EXPECT_EQ(precision[nodeIndex(g, "fc1")], DataType::kHALF);

  // Must not fire: the same function without the scaling needs nothing pinned.
  const ir::Graph plain = graphOf(testing::scaledModel(2, 1.0f));
  std::vector<DataType> plain_precision(plain.nodes.size(), DataType::kHALF);
  passes::PrecisionGuardResult none = passes::guardPrecision(plain, host, plain_precision, input(4), {});
  EXPECT_TRUE(none.pinned.empty()) << none.pinned.front().layer << ": " << none.pinned.front().reason;
  EXPECT_TRUE(none.agrees);

  // A node the guard must keep (obeyed) stays reduced, and the guard says the outputs disagree.
  std::vector<DataType> kept(g.nodes.size(), DataType::kHALF);
  passes::PrecisionGuardOptions options;
  options.fixed.assign(g.nodes.size(), false);
  options.fixed[nodeIndex(g, "scale_up")] = true;
  passes::PrecisionGuardResult stuck = passes::guardPrecision(g, host, kept, input(4), options);
  EXPECT_EQ(kept[nodeIndex(g, "scale_up")], DataType::kHALF);
  EXPECT_FALSE(stuck.agrees);
}

}  // namespace
}  // namespace kiln
