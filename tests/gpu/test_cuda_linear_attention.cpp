// cuda.linear_attention against the reference: the four update rules, per-head and per-key
// decay, beta per head and shared, grouped query heads, with and without past_state and
// present_state; float, half and double, odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;

TEST(CudaLinearAttention, EveryUpdateRule) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const int64_t b = 2, t = 5, hq = 4, hkv = 2, dk = 3, dv = 5;
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
    for (const char* rule : {"linear", "gated", "delta", "gated_delta"})
      for (bool per_key_decay : {false, true})
        for (bool past : {false, true}) {
          SCOPED_TRACE(std::string(toString(type)) + " " + rule + (per_key_decay ? " per-key decay" : "") +
                       (past ? " past" : ""));
          const std::string r = rule;
          const bool gated = r == "gated" || r == "gated_delta", delta = r == "delta" || r == "gated_delta";
          // Decays are logs of factors below 1 and betas in (0, 1), as models use them.
          const ir::Tensor decay = testing::randomTensor(type, {b, t, per_key_decay ? hkv * dk : hkv}, 7, -1.0, -0.05);
          const ir::Tensor beta = testing::randomTensor(type, {b, t, per_key_decay ? 1 : hkv}, 8, 0.1, 0.9);
          std::vector<testing::NodeInput> inputs = {in("q", type, {b, t, hq * dk}), in("k", type, {b, t, hkv * dk}),
                                                    in("v", type, {b, t, hkv * dv})};
          inputs.push_back(past ? in("state", type, {b, hkv, dk, dv}) : testing::NodeInput{.name = ""});
          inputs.push_back(gated ? testing::NodeInput{"decay", type, decay.shape(), false, &decay}
                                 : testing::NodeInput{.name = ""});
          if (delta) inputs.push_back({"beta", type, beta.shape(), false, &beta});
          ir::Graph g = testing::makeNodeGraph(
              "LinearAttention", inputs,
              attrsOf({{"q_num_heads", hq}, {"kv_num_heads", hkv}, {"update_rule", std::string(rule)}}), 2, 27);
          gputest::expectAllPass("cuda.linear_attention", g, type);
        }
}

}  // namespace
}  // namespace kiln
