// cuda.causal_conv against the reference: CausalConvWithState with and without bias,
// past_state and present_state, with SiLU and without, kernel sizes 1 to 4, odd lengths, in
// float, half, bfloat16 and double.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

TEST(CudaCausalConv, EveryOptionalInputAndOutput) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (int64_t k : {1, 3, 4})
      for (bool bias : {false, true})
        for (bool past : {false, true})
          for (const char* act : {"none", "silu"}) {
            SCOPED_TRACE(std::string(toString(t)) + " k " + std::to_string(k) + (bias ? " bias" : "") +
                         (past ? " past" : "") + " " + act);
            const int64_t b = 2, c = 5, l = 7;
            std::vector<testing::NodeInput> inputs = {in("x", t, {b, c, l}), in("w", t, {c, 1, k})};
            inputs.push_back(bias ? in("bias", t, {c}) : testing::NodeInput{.name = ""});
            if (past) inputs.push_back(in("past", t, {b, c, k - 1}));
            ir::Graph g = testing::makeNodeGraph("CausalConvWithState", inputs,
                                                 attrsOf({{"activation", std::string(act)}}), past ? 2 : 1, 27);
            gputest::expectAllPass("cuda.causal_conv", g, t);
          }
}

}  // namespace
}  // namespace kiln
