// cuda.qlinear_matmul against the reference: int8 / uint8 operands (mixed too), per-tensor,
// per-row / per-column and [M, 1]-shaped parameters, broadcast batches, 1-D operands, float32,
// float16 and bfloat16 scales, with values that saturate. Odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::Ints;

ir::Tensor integers(DataType type, const Ints& shape, uint32_t seed) {
  const bool is_unsigned = type == DataType::kUINT8;
  return testing::randomTensor(type, shape, seed, is_unsigned ? 0.0 : -60.0, is_unsigned ? 120.0 : 60.0);
}

struct Case {
  const char* name;
  Ints a, sa, b, sb;
};

TEST(CudaQLinearMatMul, EveryParameterShapeAndType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Case cases[] = {
      {"per tensor 2-D", {5, 7}, {}, {7, 9}, {}},         {"per row and column", {5, 7}, {5}, {7, 9}, {9}},
      {"[M, 1] rows", {4, 3}, {4, 1}, {3, 6}, {}},        {"batched", {3, 5, 7}, {3, 5, 1}, {3, 7, 9}, {3, 1, 9}},
      {"broadcast batch", {2, 3, 5, 7}, {}, {7, 9}, {9}}, {"1-D a", {7}, {}, {7, 9}, {9}},
  };
  for (const Case& c : cases)
    for (DataType at : {DataType::kINT8, DataType::kUINT8})
      for (DataType bt : {DataType::kINT8, DataType::kUINT8})
        for (DataType st : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
          const DataType yt = at;
          SCOPED_TRACE(std::string(c.name) + " " + std::string(toString(at)) + " x " + std::string(toString(bt)) +
                       " scales " + std::string(toString(st)));
          const ir::Tensor a = integers(at, c.a, 1), za = integers(at, c.sa, 2), b = integers(bt, c.b, 3),
                           zb = integers(bt, c.sb, 4), zy = integers(yt, {}, 5);
          const ir::Tensor sa = testing::randomTensor(st, c.sa, 6, 0.01, 0.05);
          const ir::Tensor sb = testing::randomTensor(st, c.sb, 7, 0.01, 0.05);
          const ir::Tensor sy = testing::randomTensor(st, {}, 8, 0.02, 0.2);
          ir::Graph g = testing::makeNodeGraph("QLinearMatMul",
                                               {{"a", at, c.a, false, &a},
                                                {"sa", st, c.sa, false, &sa},
                                                {"za", at, c.sa, false, &za},
                                                {"b", bt, c.b, false, &b},
                                                {"sb", st, c.sb, false, &sb},
                                                {"zb", bt, c.sb, false, &zb},
                                                {"sy", st, {}, false, &sy},
                                                {"zy", yt, {}, false, &zy}},
                                               {}, 1, 21);
          gputest::expectAllPass("cuda.qlinear_matmul", g, yt);
        }
}

}  // namespace
}  // namespace kiln
