// The "cublaslt" provider against the CPU reference: every heuristic algorithm is a candidate
// and each must pass. MatMul (1x1, odd sizes, batched, shared B, 1-D operands) and Gemm
// (transA/transB, alpha/beta, C as [M,N] and as a row through the BIAS epilogue, runtime and
// pre-scaled constant) in fp32, tf32, fp16 and bf16; the shapes it leaves to cublas get none.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "backends/backend.h"
#include "support/op_test.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using Ints = std::vector<int64_t>;

ir::Attributes attrsOf(std::map<std::string, ir::AttributeValue> values) { return testing::attrsFromMap(values); }

//! Every candidate of `provider` passes against the reference, and there is at least one
//! unless `may_be_empty`.
void expectAllPass(const char* provider_name, const ir::Graph& graph, DataType t, bool tf32 = false,
                   bool may_be_empty = false) {
  testing::expectProviderPasses(provider_name, graph, *backend::gpuDevice(),
                                {.precision = t, .tf32 = tf32, .may_be_empty = may_be_empty});
}

ir::Graph matmul(DataType t, Ints a, Ints b, bool const_b = false) {
  return testing::makeNodeGraph(
      "MatMul", {{.name = "A", .type = t, .shape = std::move(a)}, {.name = "B", .type = t, .shape = std::move(b), .constant = const_b}},
      {});
}

ir::Graph gemm(DataType t, Ints a, Ints b, std::optional<Ints> c, int64_t ta, int64_t tb, float alpha, float beta,
               bool const_c = false) {
  std::vector<testing::NodeInput> inputs = {{.name = "A", .type = t, .shape = std::move(a)},
                                            {.name = "B", .type = t, .shape = std::move(b), .constant = true}};
  if (c) inputs.push_back({.name = "C", .type = t, .shape = *c, .constant = const_c});
  return testing::makeNodeGraph("Gemm", inputs,
                                attrsOf({{"transA", ta}, {"transB", tb}, {"alpha", alpha}, {"beta", beta}}));
}

std::vector<testing::CandidateResult> candidatesFor(const ir::Graph& graph) {
  return testing::checkProvider(*backend::findProvider("cublaslt"), graph, *backend::gpuDevice(),
                                testing::toleranceFor(DataType::kFLOAT));
}

struct Precision {
  DataType type;
  bool tf32;
};
constexpr Precision kPrecisions[] = {
    {DataType::kFLOAT, false}, {DataType::kFLOAT, true}, {DataType::kHALF, false}, {DataType::kBF16, false}};

TEST(CublasLt, MatMulShapes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    expectAllPass("cublaslt", matmul(p.type, {1, 1}, {1, 1}), p.type, p.tf32);
    expectAllPass("cublaslt", matmul(p.type, {17, 33}, {33, 65}), p.type, p.tf32);
    expectAllPass("cublaslt", matmul(p.type, {17, 33}, {33, 65}, true), p.type, p.tf32);
    expectAllPass("cublaslt", matmul(p.type, {3, 31, 47}, {3, 47, 29}), p.type, p.tf32);     // batched
    expectAllPass("cublaslt", matmul(p.type, {3, 17, 33}, {33, 65}, true), p.type, p.tf32);  // shared B
    expectAllPass("cublaslt", matmul(p.type, {5, 17, 33}, {33}), p.type, p.tf32);            // 1-D B
    // A shared by every batch of B is a stride-0 batch, which cuBLASLt may not take.
    expectAllPass("cublaslt", matmul(p.type, {17, 33}, {2, 3, 33, 65}), p.type, p.tf32, /*may_be_empty=*/true);
    expectAllPass("cublaslt", matmul(p.type, {33}, {3, 33, 19}), p.type, p.tf32, /*may_be_empty=*/true);  // 1-D A
  }
}

TEST(CublasLt, GemmWithFullCAndBiasEpilogue) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    const DataType t = p.type;
    expectAllPass("cublaslt", gemm(t, {17, 33}, {33, 65}, Ints{17, 65}, 0, 0, 1.0f, 0.5f), t, p.tf32);     // full C
    expectAllPass("cublaslt", gemm(t, {33, 17}, {33, 65}, Ints{65}, 1, 0, 0.5f, 1.0f), t, p.tf32);         // bias
    expectAllPass("cublaslt", gemm(t, {17, 33}, {65, 33}, Ints{1, 65}, 0, 1, 1.5f, 1.0f), t, p.tf32);      // bias
    expectAllPass("cublaslt", gemm(t, {17, 33}, {65, 33}, Ints{65}, 0, 1, 1.0f, 2.0f, true), t, p.tf32);   // scaled
    expectAllPass("cublaslt", gemm(t, {33, 17}, {65, 33}, std::nullopt, 1, 1, 2.0f, 1.0f), t, p.tf32);
    expectAllPass("cublaslt", gemm(t, {1, 1}, {1, 1}, Ints{1}, 0, 0, 1.0f, 1.0f), t, p.tf32);
  }
}

TEST(CublasLt, LeavesHostLoopBatchesAndScaledRuntimeBiasToOthers) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  EXPECT_TRUE(candidatesFor(matmul(DataType::kFLOAT, {2, 1, 5, 9}, {3, 9, 7})).empty());
  EXPECT_TRUE(candidatesFor(gemm(DataType::kFLOAT, {17, 33}, {33, 65}, Ints{65}, 0, 0, 1.0f, 2.0f)).empty());
  EXPECT_TRUE(candidatesFor(gemm(DataType::kFLOAT, {17, 33}, {33, 65}, Ints{17, 1}, 0, 0, 1.0f, 1.0f)).empty());
}

TEST(CublasLt, CandidatesAreNotPortable) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Graph g = matmul(DataType::kHALF, {64, 64}, {64, 64});
  const ir::Node& node = g.nodes[0];
  backend::LayerView layer{.node = &node, .opset = g.opset};
  for (int id : node.inputs) {
    layer.inputs.push_back({g.tensors[id].type, g.tensors[id].shape, true});
    layer.constants.push_back(nullptr);
    layer.host_values.push_back(nullptr);
  }
  layer.outputs.push_back({g.tensors[node.outputs[0]].type, g.tensors[node.outputs[0]].shape, true});
  const auto configs = backend::findProvider("cublaslt")->candidates(layer, layer, layer, {});
  EXPECT_FALSE(configs.empty());
  for (const auto& c : configs) EXPECT_FALSE(c.portable) << c.name;
}

}  // namespace
}  // namespace kiln
