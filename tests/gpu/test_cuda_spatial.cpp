// "cuda.spatial" against the CPU reference: Col2Im over one to three spatial dims with
// strides, dilations and pads (overlapping and gapped windows), and RoiAlign in both modes and
// coordinate transformations (fixed and adaptive sampling, boxes reaching past X), in float /
// half / bf16 / double, at odd sizes.
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

TEST(CudaSpatial, RoiAlignMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape xs = {2, 3, 9, 7};
  // x1, y1, x2, y2: inside, reaching past every edge, tiny, and one sample outside X entirely.
  const std::vector<double> boxes = {0.5, 1.0, 5.5, 7.0, -2.0, -1.5, 8.5, 10.5, 3.2, 4.1,
                                     3.6, 4.3, 1.0, 2.0, 30.0, 40.0, 0.0, 0.0,  6.9, 8.9};
  const std::vector<double> owners = {1, 0, 1, 0, 1};
  const ir::Shape rs = {5, 4}, is = {5};
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (DataType index_type : {DataType::kINT64, DataType::kINT32})
      for (const char* mode : {"avg", "max"})
        for (const char* ct : {"half_pixel", "output_half_pixel"})
          for (int64_t ratio : {0, 2}) {
            ir::Attributes a;
            a.set("mode", std::string(mode));
            a.set("coordinate_transformation_mode", std::string(ct));
            a.set("sampling_ratio", ratio);
            a.set("output_height", int64_t{3});
            a.set("output_width", int64_t{4});
            a.set("spatial_scale", 0.75f);
            ir::Tensor x = testing::randomTensor(type, xs, 13);
            ir::Tensor rois = ir::Tensor::fromDouble(type, rs, boxes);
            ir::Tensor batch = ir::Tensor::fromDouble(index_type, is, owners);
            ir::Graph g = testing::makeNodeGraph("RoiAlign",
                                                 {{"x", type, xs, false, &x},
                                                  {"rois", type, rs, false, &rois},
                                                  {"batch", index_type, is, false, &batch}},
                                                 a);
            testing::expectProviderPasses("cuda.spatial", g, *backend::gpuDevice(),
                                          {.precision = type,
                                           .what = "RoiAlign " + std::string(toString(type)) + " " + mode + " " + ct +
                                                   " ratio " + std::to_string(ratio)});
          }
}

}  // namespace
}  // namespace kiln
