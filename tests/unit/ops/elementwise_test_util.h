// Helpers for the elementwise-family op tests, over the shared one-node helpers of
// tests/support/op_test.h: run one node on the CPU reference backend, infer one node's
// output shapes, and build small tensors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "support/op_test.h"

namespace kiln::ew_test {

using ir::Tensor;
using testing::attrs;
using testing::errorCode;
using testing::expectNear;
using testing::floats;
using testing::info;

//! Runs `op` on `inputs` (each a graph input; the indices in `absent` become omitted optional
//! inputs, their tensors ignored) and returns its outputs in order.
inline std::vector<Tensor> runOp(const std::string& op, const std::vector<Tensor>& inputs, ir::Attributes a = {},
                                 int num_outputs = 1, int opset = 21, std::vector<int> absent = {}) {
  return testing::runNodeOutputs(op, testing::optionalInputs(inputs, absent), std::move(a), num_outputs, opset);
}

inline Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, ir::Attributes a = {}) {
  return runOp(op, inputs, std::move(a)).at(0);
}

//! Infers `op`'s outputs for inputs of the given types and shapes (dims may be unknown or
//! symbolic, see ir::kFirstSymbol).
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                         ir::Attributes a = {}, int num_outputs = 1, int opset = 21) {
  return testing::inferNode(op, inputs, std::move(a), num_outputs, opset);
}

inline Tensor make(DataType type, ir::Shape shape, std::vector<double> v) {
  return Tensor::fromDouble(type, std::move(shape), v);
}

//! Uniform random values in [lo, hi) as `type` (never all zeros).
inline Tensor randomTensor(DataType type, ir::Shape shape, unsigned seed, double lo = -3.0, double hi = 3.0) {
  return testing::randomTensor(type, shape, seed, lo, hi);
}

inline void expectValues(const Tensor& got, const std::vector<int64_t>& want) {
  EXPECT_EQ(got.toInt64(), want);
}

}  // namespace kiln::ew_test
