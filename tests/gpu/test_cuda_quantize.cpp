// cuda.quantize against the reference: QuantizeLinear and DequantizeLinear per tensor, per axis
// and blocked, with and without zero points, to and from int8, uint8, int16 and uint16 (and
// int32 for DequantizeLinear), from float, half, bfloat16 and double; DynamicQuantizeLinear.
// Odd sizes; values spread so that rounding ties and saturation both occur.
#include <gtest/gtest.h>

#include "compute_test_util.h"
#include "ir/onnx_types.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::expectAllPass;
using gputest::Ints;

struct Granularity {
  const char* name;
  Ints scale_shape;
  int64_t axis, block;
};

const Granularity kGranularities[] = {
    {"per tensor", {}, 1, 0}, {"per axis", {5}, 1, 0}, {"per axis -1", {7}, -1, 0}, {"blocked", {3, 2, 7}, 1, 3}};

TEST(CudaQuantize, QuantizeLinearEveryGranularityAndType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Ints shape = {3, 5, 7};
  for (DataType x_type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
    for (DataType y_type : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16})
      for (const Granularity& gr : kGranularities)
        for (bool zero : {false, true}) {
          SCOPED_TRACE(std::string(toString(x_type)) + " -> " + std::string(toString(y_type)) + " " + gr.name +
                       (zero ? " zero point" : ""));
          const ir::Tensor x = testing::randomTensor(x_type, shape, 21, -40.0, 40.0);
          const ir::Tensor scale = testing::randomTensor(x_type, gr.scale_shape, 22, 0.05, 0.5);
          const bool is_signed = y_type == DataType::kINT8 || y_type == DataType::kINT16;
          const ir::Tensor zp = testing::randomTensor(y_type, gr.scale_shape, 23, is_signed ? -20.0 : 0.0, 40.0);
          std::vector<testing::NodeInput> inputs = {{"x", x_type, shape, false, &x},
                                                    {"s", x_type, gr.scale_shape, false, &scale}};
          ir::Attributes a = attrsOf({{"axis", gr.axis}, {"block_size", gr.block}});
          if (zero) inputs.push_back({"z", y_type, gr.scale_shape, false, &zp});
          else a.set("output_dtype", ir::toOnnxType(y_type));
          expectAllPass("cuda.quantize", testing::makeNodeGraph("QuantizeLinear", inputs, a, 1, 21), y_type);
        }
}

TEST(CudaQuantize, DequantizeLinearEveryGranularityAndType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Ints shape = {3, 5, 7};
  for (DataType x_type : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32})
    for (DataType y_type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
      for (const Granularity& gr : kGranularities)
        for (bool zero : {false, true}) {
          SCOPED_TRACE(std::string(toString(x_type)) + " -> " + std::string(toString(y_type)) + " " + gr.name +
                       (zero ? " zero point" : ""));
          const bool is_signed = x_type != DataType::kUINT8 && x_type != DataType::kUINT16;
          const ir::Tensor x = testing::randomTensor(x_type, shape, 31, is_signed ? -100.0 : 0.0, 200.0);
          const ir::Tensor scale = testing::randomTensor(y_type, gr.scale_shape, 32, 0.05, 0.5);
          const ir::Tensor zp = testing::randomTensor(x_type, gr.scale_shape, 33, is_signed ? -20.0 : 0.0, 40.0);
          std::vector<testing::NodeInput> inputs = {{"x", x_type, shape, false, &x},
                                                    {"s", y_type, gr.scale_shape, false, &scale}};
          if (zero) inputs.push_back({"z", x_type, gr.scale_shape, false, &zp});
          ir::Graph g = testing::makeNodeGraph("DequantizeLinear", inputs,
                                               attrsOf({{"axis", gr.axis}, {"block_size", gr.block}}), 1, 21);
          expectAllPass("cuda.quantize", g, y_type);
        }
}

TEST(CudaQuantize, DynamicQuantizeLinear) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const Ints& shape : {Ints{1}, Ints{7, 13}, Ints{3, 1000}})
    for (double lo : {-3.0, 0.5}) {  // a range that crosses zero, and one above it
      const ir::Tensor x = testing::randomTensor(DataType::kFLOAT, shape, 41, lo, 5.0);
      ir::Graph g = testing::makeNodeGraph("DynamicQuantizeLinear", {{"x", DataType::kFLOAT, shape, false, &x}}, {}, 3);
      expectAllPass("cuda.quantize", g, DataType::kUINT8);
    }
}

}  // namespace
}  // namespace kiln
