// The FusedMatMul tactics against the CPU reference: "cublas.epilogue" (cuBLAS GEMM + kiln's
// epilogue kernel) must take every combination, "cublaslt.epilogue" the ones its epilogues
// compute (and none of the others). Every candidate of each, at M = 1, odd sizes, a 3-D A and
// a size that vectorizes, each activation, with and without bias and residual, in fp32 (1e-5),
// tf32, fp16 and bf16 (1e-2). A folded Cast (fp16/bf16 inputs, output_type float32): only
// "cublas.epilogue" takes it, and its float32 Y is within 1e-4 of the reference (closer than a
// 16-bit rounding would allow).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "backends/backend.h"
#include "support/op_test.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using ir::Shape;

struct Precision {
  DataType type;
  bool tf32;
};
constexpr Precision kPrecisions[] = {
    {DataType::kFLOAT, false}, {DataType::kFLOAT, true}, {DataType::kHALF, false}, {DataType::kBF16, false}};

struct Case {
  Shape a;  //!< [..., M, K]
  int64_t n;
};
const Case kCases[] = {{{1, 33}, 13}, {{7, 33}, 13}, {{2, 5, 17}, 65}, {{64, 64}, 64}};

const char* const kActivations[] = {"none", "relu", "gelu_erf", "gelu_tanh"};

ir::Graph fusedGraph(DataType t, const Case& c, bool trans_b, bool bias, bool residual, const std::string& activation,
                     float alpha = 1.0f, bool float32_output = false) {
  const int64_t k = c.a.back();
  Shape y = c.a;
  y.back() = c.n;
  std::vector<testing::NodeInput> inputs = {
      {.name = "A", .type = t, .shape = c.a},
      {.name = "B", .type = t, .shape = trans_b ? Shape{c.n, k} : Shape{k, c.n}, .constant = true},
      bias ? testing::NodeInput{.name = "bias", .type = t, .shape = {c.n}, .constant = true} : testing::NodeInput{}};
  if (residual) inputs.push_back({.name = "residual", .type = t, .shape = y});
  std::map<std::string, ir::AttributeValue> attrs = {
      {"trans_b", int64_t{trans_b ? 1 : 0}}, {"alpha", alpha}, {"activation", activation}};
  if (float32_output) attrs["output_type"] = int64_t{1};
  return testing::makeNodeGraph("FusedMatMul", inputs, testing::attrsFromMap(attrs));
}

std::string describe(const Precision& p, const Case& c, bool bias, bool residual, const std::string& act) {
  return std::string(toString(p.type)) + (p.tf32 ? " tf32 " : " ") + toString(c.a) + " n=" + std::to_string(c.n) +
         " " + act + (bias ? " +bias" : "") + (residual ? " +residual" : "");
}

//! Whether cuBLASLt's epilogues compute this layer (see the provider's file comment).
bool ltTakes(DataType t, bool residual, const std::string& act) {
  if (residual && act != "none") return false;
  return !(act == "gelu_erf" && t == DataType::kFLOAT);
}

TEST(CudaFusedMatMul, CublasEpilogueRunsEveryCombination) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Precision& p : kPrecisions)
    for (const Case& c : kCases)
      for (const char* act : kActivations)
        for (int extras = 0; extras < 4; ++extras) {
          const bool bias = extras & 1, residual = extras & 2, trans_b = extras == 1;
          const std::string what = describe(p, c, bias, residual, act);
          testing::expectProviderPasses("cublas.epilogue",
                                        fusedGraph(p.type, c, trans_b, bias, residual, act, extras == 3 ? 0.5f : 1.0f),
                                        *backend::gpuDevice(), {.precision = p.type, .tf32 = p.tf32, .what = what});
        }
}

TEST(CudaFusedMatMul, CublasLtEpilogueRunsWhatItsEpiloguesCompute) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cublaslt.epilogue");
  ASSERT_NE(provider, nullptr);
  for (const Precision& p : kPrecisions)
    for (const Case& c : kCases)
      for (const char* act : kActivations)
        for (int extras = 0; extras < 4; ++extras) {
          const bool bias = extras & 1, residual = extras & 2, trans_b = extras == 2;
          const std::string what = describe(p, c, bias, residual, act);
          const ir::Graph g = fusedGraph(p.type, c, trans_b, bias, residual, act);
          if (!ltTakes(p.type, residual, act)) {
            EXPECT_TRUE(testing::checkProvider(*provider, g, *backend::gpuDevice(), testing::toleranceFor(p.type, p.tf32),
                                               {.tf32 = p.tf32})
                            .empty())
                << what << ": cuBLASLt's epilogue does not compute this layer";
            continue;
          }
          // The heuristics may find nothing for a shape (e.g. an epilogue at M = 1 on some GPUs).
          testing::expectProviderPasses("cublaslt.epilogue", g, *backend::gpuDevice(),
                                        {.precision = p.type, .tf32 = p.tf32, .may_be_empty = true, .what = what});
        }
}

TEST(CudaFusedMatMul, CublasEpilogueWritesFloat32FromFloat16AndBFloat16) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kHALF, DataType::kBF16})
    for (const Case& c : kCases)
      for (const char* act : kActivations)
        for (int extras = 0; extras < 4; ++extras) {
          const bool bias = extras & 1, residual = extras & 2, trans_b = extras == 1;
          const std::string what = describe({t, false}, c, bias, residual, act) + " -> float32";
          const ir::Graph g = fusedGraph(t, c, trans_b, bias, residual, act, extras == 3 ? 0.5f : 1.0f, true);
          ASSERT_EQ(g.tensors[g.nodes[0].outputs[0]].type, DataType::kFLOAT);
          testing::expectProviderPasses(
              "cublas.epilogue", g, *backend::gpuDevice(),
              {.precision = t, .tolerance = testing::Tolerance{.rtol = 1e-4, .atol = 1e-4}, .what = what});
        }
}

TEST(CudaFusedMatMul, OnlyCublasEpilogueOffersAFloat32OutputFromFloat16) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Case c{{64, 64}, 64};
  for (DataType t : {DataType::kHALF, DataType::kBF16}) {
    const ir::Graph g = fusedGraph(t, c, false, true, false, "relu", 1.0f, true);
    for (const backend::TacticProvider* provider : backend::providersFor("FusedMatMul", DeviceKind::kGPU)) {
      if (provider->name() == "cublas.epilogue") continue;
      EXPECT_TRUE(testing::checkProvider(*provider, g, *backend::gpuDevice(), testing::toleranceFor(t)).empty())
          << provider->name() << " offers " << toString(t) << " -> float32, which it does not write";
    }
  }
}

TEST(CudaFusedMatMul, CublasLtEpilogueOffersTheCommonLayers) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Case c{{64, 64}, 64};
  // BERT's FFN up-projection in fp16, its down-projection with the residual, GPT-2's in fp32.
  testing::expectProviderPasses("cublaslt.epilogue", fusedGraph(DataType::kHALF, c, false, true, false, "gelu_erf"),
                                *backend::gpuDevice(), {.precision = DataType::kHALF, .what = "fp16 bias+gelu_erf"});
  testing::expectProviderPasses("cublaslt.epilogue", fusedGraph(DataType::kHALF, c, false, true, true, "none"),
                                *backend::gpuDevice(), {.precision = DataType::kHALF, .what = "fp16 bias+residual"});
  testing::expectProviderPasses("cublaslt.epilogue", fusedGraph(DataType::kFLOAT, c, false, true, false, "gelu_tanh"),
                                *backend::gpuDevice(), {.precision = DataType::kFLOAT, .what = "fp32 bias+gelu_tanh"});
  testing::expectProviderPasses("cublaslt.epilogue", fusedGraph(DataType::kFLOAT, c, true, true, false, "relu"),
                                *backend::gpuDevice(), {.precision = DataType::kFLOAT, .what = "fp32 bias+relu"});
}

}  // namespace
}  // namespace kiln
