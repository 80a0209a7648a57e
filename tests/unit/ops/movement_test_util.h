// Helpers for the shape / movement / resize op tests, over the shared one-node helpers of
// tests/support/op_test.h: run one node on the CPU reference backend, or infer one node's
// output shapes from inputs whose values may be known.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "support/op_test.h"

namespace kiln::mv_test {

using ir::Shape;
using ir::Tensor;
using testing::attrs;
using testing::floats;

inline Tensor ints(std::vector<int64_t> v) { return Tensor::fromInt64({static_cast<int64_t>(v.size())}, v); }
//! 0, 1, 2, ... as `type` (distinct values make misplaced elements visible).
inline Tensor iota(DataType type, Shape shape) {
  Tensor t(type, shape);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::fromDouble(type, std::move(shape), v);
}
inline Tensor randomFloats(Shape shape, unsigned seed = 7) {
  return testing::randomTensor(DataType::kFLOAT, shape, seed, -2.0, 2.0);
}

//! Runs `op` on `inputs` (std::nullopt = absent optional input); returns its outputs.
inline std::vector<Tensor> runOp(const std::string& op, const std::vector<std::optional<Tensor>>& inputs,
                                 ir::Attributes a = {}, int num_outputs = 1, int opset = 21) {
  return testing::runNodeOutputs(op, inputs, std::move(a), num_outputs, opset);
}

inline Tensor run1(const std::string& op, const std::vector<std::optional<Tensor>>& inputs, ir::Attributes a = {},
                   int opset = 21) {
  return runOp(op, inputs, std::move(a), 1, opset).at(0);
}

//! An input for infer(): type and shape, and a value when it is known at build time.
struct In {
  DataType type = DataType::kFLOAT;
  Shape shape;
  std::optional<Tensor> value;
};
inline In known(Tensor v) { return In{v.type(), v.shape(), v}; }

//! Infers `op`'s outputs; dims may be kUnknownDim or symbols (kFirstSymbol - k).
inline std::vector<ir::TensorInfo> infer(const std::string& op, const std::vector<In>& inputs, ir::Attributes a = {},
                                         int num_outputs = 1, int opset = 21) {
  std::vector<ir::TensorInfo> infos;
  for (const In& in : inputs) {
    const std::string name = "in" + std::to_string(infos.size());
    infos.push_back(in.value ? testing::constInfo(*in.value, name) : testing::info(in.type, in.shape, name));
  }
  return testing::inferNode(op, infos, std::move(a), num_outputs, opset);
}

inline Shape inferShape(const std::string& op, const std::vector<In>& inputs, ir::Attributes a = {}) {
  return infer(op, inputs, std::move(a)).at(0).shape;
}

inline ErrorCode errorCode(const std::function<void()>& fn) { return static_cast<ErrorCode>(testing::errorCode(fn)); }

constexpr int64_t kBatch = ir::kFirstSymbol;      // symbol 0
constexpr int64_t kSeq = ir::kFirstSymbol - 1;    // symbol 1
constexpr int64_t kU = ir::kUnknownDim;

}  // namespace kiln::mv_test
