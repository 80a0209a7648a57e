// cuda.transformer_ops against the reference: RMSNormalization over the last, the last two and
// all axes with full and broadcast scales; RotaryEmbedding 3-D and 4-D, interleaved and halves,
// partial rotation, with and without position_ids; float, half, bfloat16 and double.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

TEST(CudaTransformerOps, RmsNormalizationAxesAndScales) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    int64_t axis;
    Ints scale;
  };
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const Case& c : {Case{-1, {7}}, Case{1, {5, 7}}, Case{1, {7}}, Case{0, {3, 5, 7}}, Case{-2, {1, 7}}}) {
      SCOPED_TRACE(std::string(toString(t)) + " axis " + std::to_string(c.axis));
      ir::Graph g = testing::makeNodeGraph("RMSNormalization", {in("x", t, {3, 5, 7}), in("scale", t, c.scale)},
                                           attrsOf({{"axis", c.axis}, {"epsilon", 1e-3f}}), 1, 23);
      gputest::expectAllPass("cuda.transformer_ops", g, t);
    }
}

TEST(CudaTransformerOps, RotaryEmbeddingEveryLayout) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const int64_t b = 2, s = 3, h = 2, d = 8;
  const ir::Tensor positions = ir::Tensor::fromInt64({b, s}, Ints{0, 4, 2, 7, 1, 5});
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
    for (bool four_d : {false, true})
      for (int64_t interleaved : {0, 1})
        for (int64_t dim : {0, 4})
          for (bool by_position : {false, true}) {
            SCOPED_TRACE(std::string(toString(t)) + (four_d ? " 4-D" : " 3-D") + " interleaved " +
                         std::to_string(interleaved) + " dim " + std::to_string(dim) +
                         (by_position ? " positions" : ""));
            const int64_t half = (dim > 0 ? dim : d) / 2;
            std::vector<testing::NodeInput> inputs = {four_d ? in("x", t, {b, h, s, d}) : in("x", t, {b, s, h * d})};
            const Ints cache = by_position ? Ints{8, half} : Ints{b, s, half};
            inputs.push_back(in("cos", t, cache));
            inputs.push_back(in("sin", t, cache));
            if (by_position) inputs.push_back({"pos", DataType::kINT64, {b, s}, false, &positions});
            ir::Attributes a = attrsOf({{"interleaved", interleaved}, {"rotary_embedding_dim", dim}});
            if (!four_d) a.set("num_heads", h);
            gputest::expectAllPass("cuda.transformer_ops", testing::makeNodeGraph("RotaryEmbedding", inputs, a, 1, 23),
                                   t);
          }
}

}  // namespace
}  // namespace kiln
