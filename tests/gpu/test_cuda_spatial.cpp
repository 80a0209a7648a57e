// "cuda.spatial" against the CPU reference: Col2Im over one to three spatial dims with
// strides, dilations and pads (overlapping and gapped windows), in float / half / bf16 /
// double, at odd sizes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

ir::Tensor ints(const std::vector<int64_t>& v) { return ir::Tensor::fromInt64({static_cast<int64_t>(v.size())}, v); }

TEST(CudaSpatial, Col2ImMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    std::vector<int64_t> image, block, strides, dilations, pads;
    int64_t batch, channels;
  };
  const Case cases[] = {
      {{5, 5}, {1, 5}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, 1},
      {{5, 7}, {2, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 2, 3},
      {{6, 7}, {3, 2}, {2, 3}, {1, 1}, {1, 0, 2, 1}, 1, 2},
      {{9, 8}, {2, 2}, {1, 2}, {2, 3}, {1, 1, 0, 2}, 2, 1},
      {{11}, {3}, {2}, {2}, {1, 2}, 3, 2},
      {{3, 4, 5}, {2, 1, 3}, {1, 2, 1}, {1, 1, 2}, {0, 1, 1, 1, 0, 0}, 2, 2},
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const Case& c : cases) {
      const size_t nd = c.image.size();
      int64_t columns = 1, kvol = 1;
      for (size_t d = 0; d < nd; ++d) {
        columns *=
            (c.image[d] + c.pads[d] + c.pads[nd + d] - (c.dilations[d] * (c.block[d] - 1) + 1)) / c.strides[d] + 1;
        kvol *= c.block[d];
      }
      const ir::Shape xs = {c.batch, c.channels * kvol, columns};
      ir::Attributes a;
      a.set("strides", c.strides);
      a.set("dilations", c.dilations);
      a.set("pads", c.pads);
      ir::Tensor x = testing::randomTensor(type, xs, 11);
      ir::Tensor image = ints(c.image), block = ints(c.block);
      const ir::Shape ns = {static_cast<int64_t>(nd)};
      ir::Graph g = testing::makeNodeGraph("Col2Im",
                                           {{"x", type, xs, false, &x},
                                            {"image_shape", DataType::kINT64, ns, true, &image},
                                            {"block_shape", DataType::kINT64, ns, true, &block}},
                                           a);
      testing::expectProviderPasses(
          "cuda.spatial", g, *backend::gpuDevice(),
          {.precision = type, .what = "Col2Im " + std::string(toString(type)) + " " + toString(xs)});
    }
}

}  // namespace
}  // namespace kiln
