// The "cublas" provider against the CPU reference: MatMul (1x1, odd sizes, batched, broadcast
// batch dims that merge and that need the host loop, 1-D operands, constant B) and Gemm
// (transA/transB, alpha/beta, C as [M,N], [N], [1,N], no C) in fp32, tf32, fp16 and bf16.
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

//! Every candidate of `provider` passes against the reference, and there is at least one.
void expectAllPass(const char* provider_name, const ir::Graph& graph, DataType t, bool tf32 = false) {
  testing::expectProviderPasses(provider_name, graph, *backend::gpuDevice(), {.precision = t, .tf32 = tf32});
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

struct Precision {
  DataType type;
  bool tf32;
};
constexpr Precision kPrecisions[] = {
    {DataType::kFLOAT, false}, {DataType::kFLOAT, true}, {DataType::kHALF, false}, {DataType::kBF16, false}};

TEST(Cublas, MatMulShapes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    expectAllPass("cublas", matmul(p.type, {1, 1}, {1, 1}), p.type, p.tf32);
    expectAllPass("cublas", matmul(p.type, {17, 33}, {33, 65}), p.type, p.tf32);
    expectAllPass("cublas", matmul(p.type, {17, 33}, {33, 65}, true), p.type, p.tf32);
    expectAllPass("cublas", matmul(p.type, {3, 31, 47}, {3, 47, 29}), p.type, p.tf32);       // batched
    expectAllPass("cublas", matmul(p.type, {3, 17, 33}, {33, 65}, true), p.type, p.tf32);    // shared B
    expectAllPass("cublas", matmul(p.type, {17, 33}, {2, 3, 33, 65}), p.type, p.tf32);       // shared A
    expectAllPass("cublas", matmul(p.type, {2, 1, 5, 9}, {3, 9, 7}), p.type, p.tf32);        // host loop
    expectAllPass("cublas", matmul(p.type, {4, 1, 6, 5}, {1, 3, 5, 2}), p.type, p.tf32);
    expectAllPass("cublas", matmul(p.type, {33}, {3, 33, 19}), p.type, p.tf32);              // 1-D A
    expectAllPass("cublas", matmul(p.type, {5, 17, 33}, {33}), p.type, p.tf32);              // 1-D B
    expectAllPass("cublas", matmul(p.type, {33}, {33}), p.type, p.tf32);                     // dot
  }
}

TEST(Cublas, GemmTransposesAlphaBetaAndC) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions) {
    SCOPED_TRACE(std::string(toString(p.type)) + (p.tf32 ? " tf32" : ""));
    const DataType t = p.type;
    expectAllPass("cublas", gemm(t, {17, 33}, {33, 65}, Ints{17, 65}, 0, 0, 1.0f, 1.0f), t, p.tf32);
    expectAllPass("cublas", gemm(t, {33, 17}, {33, 65}, Ints{65}, 1, 0, 0.5f, 2.0f, true), t, p.tf32);
    expectAllPass("cublas", gemm(t, {17, 33}, {65, 33}, Ints{1, 65}, 0, 1, 1.5f, -1.0f), t, p.tf32);
    expectAllPass("cublas", gemm(t, {33, 17}, {65, 33}, std::nullopt, 1, 1, 2.0f, 1.0f), t, p.tf32);
    expectAllPass("cublas", gemm(t, {17, 33}, {33, 65}, Ints{17, 1}, 0, 0, 1.0f, 0.0f), t, p.tf32);  // beta 0: C unused
    expectAllPass("cublas", gemm(t, {1, 1}, {1, 1}, Ints{1}, 0, 0, 1.0f, 1.0f), t, p.tf32);
  }
}

TEST(Cublas, ColumnBroadcastCIsLeftToOtherTactics) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cublas");
  ASSERT_NE(provider, nullptr);
  const auto results = testing::checkProvider(*provider, gemm(DataType::kFLOAT, {17, 33}, {33, 65}, Ints{17, 1}, 0, 0, 1.0f, 1.0f),
                                              *backend::gpuDevice(), testing::toleranceFor(DataType::kFLOAT));
  EXPECT_TRUE(results.empty());
}

}  // namespace
}  // namespace kiln
