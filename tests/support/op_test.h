// The one implementation behind the op tests' helpers: a one-node graph run on the CPU
// reference backend, one node's shape rule on hand-built tensor infos, attribute lists,
// error-code capture and tolerance checks. The family headers in tests/unit/ops/ are thin
// wrappers over these (random tensors come from tactic_harness.h).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "support/tactic_harness.h"

namespace kiln::testing {

using AttrList = std::initializer_list<std::pair<const std::string, ir::AttributeValue>>;

//! An attribute list from {{"name", value}, ...}.
ir::Attributes attrs(AttrList list = {});
ir::Attributes attrsFromMap(const std::map<std::string, ir::AttributeValue>& values);

//! One node "n" running `op`, normalized from `opset` like the importer does. Its present
//! inputs are in0..inN: graph inputs, or constants (initializers) where `constant[i]`;
//! std::nullopt is an absent optional input. Its outputs are out0..out{num_outputs-1}, less
//! those listed in `absent_outputs` (ir::kAbsent: not wanted).
struct OneNode {
  ir::Graph graph;
  std::map<std::string, ir::Tensor> feeds;  //!< values of the graph inputs

  OneNode(const std::string& op, const std::vector<std::optional<ir::Tensor>>& inputs, ir::Attributes attrs = {},
          int num_outputs = 1, int opset = 21, std::vector<bool> constant = {}, std::vector<int> absent_outputs = {});

  //! Every graph output by name (an absent output is missing).
  std::map<std::string, ir::Tensor> run() const;
  ir::Tensor run1() const { return run().at("out0"); }
  //! out0..out{num_outputs-1} in order; an empty tensor for an absent output.
  std::vector<ir::Tensor> outputs() const;

 private:
  int num_outputs_ = 1;
};

//! `inputs` as OneNode inputs, those at the indices in `absent` made absent (std::nullopt).
std::vector<std::optional<ir::Tensor>> optionalInputs(const std::vector<ir::Tensor>& inputs,
                                                      const std::vector<int>& absent = {});

//! Runs a OneNode on the CPU reference backend; returns its outputs in order.
std::vector<ir::Tensor> runNodeOutputs(const std::string& op, const std::vector<std::optional<ir::Tensor>>& inputs,
                                       ir::Attributes attrs = {}, int num_outputs = 1, int opset = 21,
                                       std::vector<bool> constant = {}, std::vector<int> absent_outputs = {});

//! Runs `op`'s shape rule on inputs of the given infos (dims may be unknown or symbolic;
//! a set `value` is a constant input's known value); returns the output infos.
std::vector<ir::TensorInfo> inferNode(const std::string& op, const std::vector<ir::TensorInfo>& inputs,
                                      ir::Attributes attrs = {}, int num_outputs = 1, int opset = 21);

//! A rank-known tensor info.
ir::TensorInfo info(DataType type, ir::Shape shape, std::string name = "t");
//! An info whose value is known (a constant input of a shape rule).
ir::TensorInfo constInfo(const ir::Tensor& value, std::string name = "t");

//! The code of the kiln::Error `fn` throws, as an int; 0 when it does not throw.
template <typename Fn>
int errorCode(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

//! Same numel and |got - want| <= tol per element; `relative` scales tol by 1 + |want|.
void expectNear(const ir::Tensor& got, const std::vector<double>& want, double tol, const char* what = "",
                bool relative = false);

inline ir::Tensor floats(ir::Shape shape, std::vector<double> v) {
  return ir::Tensor::fromDouble(DataType::kFLOAT, std::move(shape), v);
}

}  // namespace kiln::testing
