// Helpers for the neural-network op tests (conv, pool, normalization, softmax), over the
// shared one-node helpers of tests/support/op_test.h: a one-node graph run on the CPU
// reference backend, shape inference alone, and random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "support/op_test.h"

namespace kiln::nn_testing {

using testing::randomTensor;

inline ir::Attributes attrsOf(const std::string& op, std::map<std::string, ir::AttributeValue> values) {
  ir::Attributes a = testing::attrsFromMap(values);
  a.owner = "node 'n' (" + op + ")";
  return a;
}

//! Runs one node `op` on `inputs` and returns its outputs out0..out{num_outputs-1} (an
//! output index in `absent_outputs` is not wanted: an empty tensor).
inline std::vector<ir::Tensor> runNode(const std::string& op, const std::vector<ir::Tensor>& inputs,
                                       const ir::Attributes& attrs, int num_outputs = 1, int opset = 21,
                                       std::vector<int> absent_outputs = {}) {
  return testing::runNodeOutputs(op, testing::optionalInputs(inputs), attrs, num_outputs, opset, {},
                                 std::move(absent_outputs));
}

inline ir::TensorInfo info(DataType type, ir::Shape shape) { return testing::info(type, std::move(shape), ""); }

//! Shape inference of one node on inputs of the given types/shapes; returns output infos.
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                         const ir::Attributes& attrs, int num_outputs = 1, int opset = 21) {
  return testing::inferNode(op, inputs, attrs, num_outputs, opset);
}

//! Error code thrown by shape inference, or 0 when it succeeds.
inline int inferError(const std::string& op, const std::vector<ir::TensorInfo>& inputs, const ir::Attributes& attrs,
                      int num_outputs = 1, int opset = 21) {
  return testing::errorCode([&] { infer(op, inputs, attrs, num_outputs, opset); });
}

inline ir::Tensor tensorOf(ir::Shape shape, std::vector<double> v, DataType type = DataType::kFLOAT) {
  return ir::Tensor::fromDouble(type, std::move(shape), v);
}

//! Within `tol` relative to 1 + |want| per element.
inline void expectNear(const ir::Tensor& got, const std::vector<double>& want, double tol) {
  testing::expectNear(got, want, tol, "", /*relative=*/true);
}

}  // namespace kiln::nn_testing
