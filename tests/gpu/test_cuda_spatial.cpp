// "cuda.spatial" against the CPU reference: Col2Im over one to three spatial dims with
// strides, dilations and pads (overlapping and gapped windows), and RoiAlign in both modes and
// coordinate transformations (fixed and adaptive sampling, boxes reaching past X), in float /
// half / bf16 / double, at odd sizes; Resize in linear / cubic mode with what cuda.movement
// refuses (cubic, antialias, exclude_outside, cubic_coeff_a, tf_crop_and_resize with a run-time
// roi and extrapolation_value, axes, 3-D and resized channels, every coordinate transform);
// DeformConv with groups, offset groups, strides, pads, dilations, bias and mask or neither.
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

TEST(CudaSpatial, ResizeLinearAndCubicMatchTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape x;
    std::vector<int64_t> axes;  // empty: no axes attribute
    std::vector<int64_t> sizes;
    std::vector<double> roi;  // for tf_crop_and_resize
  };
  const Case cases[] = {
      {{1, 2, 7, 9}, {}, {1, 2, 12, 5}, {0, 0, 0.2, 0.1, 1, 1, 0.9, 1.1}},
      {{2, 3, 9, 6}, {}, {2, 3, 4, 3}, {0, 0, -0.2, 0.3, 1, 1, 0.7, 1.2}},
      {{1, 2, 8, 7}, {2, 3}, {5, 11}, {0.1, -0.1, 0.8, 0.95}},
      {{1, 2, 8, 7}, {3, 2}, {11, 5}, {0.05, 0.2, 1.1, 0.9}},
      {{3, 10, 5}, {1, 2}, {4, 8}, {0.3, 0.0, 0.9, 1.0}},
  };
  struct Variant {
    const char *mode, *transform;
    int64_t antialias, exclude_outside;
    float cubic_a;
  };
  const Variant variants[] = {
      {"cubic", "half_pixel", 0, 0, -0.75f},          {"cubic", "asymmetric", 0, 1, -0.5f},
      {"cubic", "align_corners", 1, 0, -0.75f},       {"linear", "half_pixel", 1, 0, -0.75f},
      {"linear", "pytorch_half_pixel", 0, 0, -0.75f}, {"cubic", "half_pixel_symmetric", 1, 1, -0.6f},
      {"linear", "tf_crop_and_resize", 0, 0, -0.75f}, {"cubic", "tf_crop_and_resize", 0, 1, -0.75f},
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const Case& c : cases)
      for (const Variant& v : variants) {
        ir::Attributes a;
        a.set("mode", std::string(v.mode));
        a.set("coordinate_transformation_mode", std::string(v.transform));
        a.set("antialias", v.antialias);
        a.set("exclude_outside", v.exclude_outside);
        a.set("cubic_coeff_a", v.cubic_a);
        a.set("extrapolation_value", 2.5f);
        if (!c.axes.empty()) a.set("axes", c.axes);
        ir::Tensor x = testing::randomTensor(type, c.x, 17);
        ir::Tensor sizes = ints(c.sizes);
        ir::Tensor roi = ir::Tensor::fromDouble(DataType::kFLOAT, {static_cast<int64_t>(c.roi.size())}, c.roi);
        const bool crop = std::string(v.transform) == "tf_crop_and_resize";
        ir::Graph g = testing::makeNodeGraph(
            "Resize",
            {{"x", type, c.x, false, &x},
             {crop ? "roi" : "", DataType::kFLOAT, {static_cast<int64_t>(c.roi.size())}, false, &roi},
             {"", DataType::kFLOAT, {0}},
             {"sizes", DataType::kINT64, {static_cast<int64_t>(c.sizes.size())}, true, &sizes}},
            a);
        testing::expectProviderPasses(
            "cuda.spatial", g, *backend::gpuDevice(),
            {.precision = type,
             .what = "Resize " + std::string(toString(type)) + " " + toString(c.x) + " " + v.mode + " " + v.transform +
                     " antialias " + std::to_string(v.antialias)});
      }
}

TEST(CudaSpatial, ResizeTakesScales) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const ir::Shape xs = {1, 3, 6, 10};
  for (const char* mode : {"linear", "cubic"})
    for (int64_t antialias : {0, 1}) {
      ir::Attributes a;
      a.set("mode", std::string(mode));
      a.set("antialias", antialias);
      ir::Tensor x = testing::randomTensor(DataType::kFLOAT, xs, 19);
      ir::Tensor scales = ir::Tensor::fromDouble(DataType::kFLOAT, {4}, std::vector<double>{1.0, 1.0, 0.6, 0.35});
      ir::Graph g = testing::makeNodeGraph("Resize",
                                           {{"x", DataType::kFLOAT, xs, false, &x},
                                            {"", DataType::kFLOAT, {0}},
                                            {"scales", DataType::kFLOAT, {4}, true, &scales}},
                                           a);
      testing::expectProviderPasses(
          "cuda.spatial", g, *backend::gpuDevice(),
          {.precision = DataType::kFLOAT,
           .what = std::string("Resize scales ") + mode + " antialias " + std::to_string(antialias)});
    }
}

TEST(CudaSpatial, DeformConvMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Case {
    ir::Shape x, w, offset;
    int64_t group, offset_group;
    std::vector<int64_t> strides, pads, dilations;
    bool bias, mask;
  };
  const Case cases[] = {
      {{1, 3, 5, 5}, {2, 3, 2, 2}, {1, 8, 4, 4}, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, false, false},
      {{2, 4, 7, 6}, {6, 2, 3, 2}, {2, 24, 5, 3}, 2, 2, {1, 2}, {1, 0, 1, 1}, {2, 1}, true, true},
      {{1, 4, 6, 7}, {3, 4, 3, 3}, {1, 36, 6, 7}, 1, 2, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false},
  };
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (const Case& c : cases) {
      ir::Attributes a;
      a.set("group", c.group);
      a.set("offset_group", c.offset_group);
      a.set("strides", c.strides);
      a.set("pads", c.pads);
      a.set("dilations", c.dilations);
      a.set("kernel_shape", std::vector<int64_t>{c.w[2], c.w[3]});
      const ir::Shape ms = {c.offset[0], c.offset[1] / 2, c.offset[2], c.offset[3]};
      ir::Tensor x = testing::randomTensor(type, c.x, 21);
      ir::Tensor w = testing::randomTensor(type, c.w, 22);
      ir::Tensor offset = testing::randomTensor(type, c.offset, 23, -2.0, 2.0);
      ir::Tensor bias = testing::randomTensor(type, {c.w[0]}, 24);
      ir::Tensor mask = testing::randomTensor(type, ms, 25, 0.0, 1.0);
      ir::Graph g = testing::makeNodeGraph("DeformConv",
                                           {{"x", type, c.x, false, &x},
                                            {"w", type, c.w, true, &w},
                                            {"offset", type, c.offset, false, &offset},
                                            {c.bias ? "b" : "", type, {c.w[0]}, true, &bias},
                                            {c.mask ? "mask" : "", type, ms, false, &mask}},
                                           a);
      testing::expectProviderPasses(
          "cuda.spatial", g, *backend::gpuDevice(),
          {.precision = type,
           .what = "DeformConv " + std::string(toString(type)) + " " + toString(c.x) + " group " +
                   std::to_string(c.group) + " offset_group " + std::to_string(c.offset_group)});
    }
}

}  // namespace
}  // namespace kiln
