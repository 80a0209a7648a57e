// Helpers for the linear-algebra / reduction op tests: the shared one-node helpers of
// tests/support/op_test.h (OneNode, attrs, info, constInfo, expectNear, randomTensor, ...),
// plus the names these tests use.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "support/op_test.h"

namespace kiln::testing {

//! Infers the outputs of `op` for inputs of the given types and shapes (dims may be unknown
//! or symbolic); returns the output infos.
inline std::vector<ir::TensorInfo> inferShapes(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                               ir::Attributes attrs = {}, int num_outputs = 1, int opset = 21) {
  return inferNode(op, inputs, std::move(attrs), num_outputs, opset);
}

inline ir::Tensor int64s(ir::Shape shape, std::vector<int64_t> v) { return ir::Tensor::fromInt64(std::move(shape), v); }

}  // namespace kiln::testing
