// The Network IR: tensors (with symbolic dimensions and optional constant values) and
// nodes (an operator with attributes) in topological order.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/tensor.h"

namespace kiln::ir {

//! A dimension: >= 0 is known; kUnknownDim is unknown; <= kFirstSymbol is the symbolic
//! dimension number (kFirstSymbol - d) of Graph::symbols (an ONNX dim_param such as "batch").
//! Shape rules that copy a dimension keep its symbol; arithmetic on unknowns gives kUnknownDim.
constexpr int64_t kUnknownDim = -1;
constexpr int64_t kFirstSymbol = -2;
inline bool isKnown(int64_t d) { return d >= 0; }
inline bool allKnown(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                                    std::vector<std::string>, Tensor>;

//! Node attributes by name, with typed accessors that name the node in their errors.
class Attributes {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttributeValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  const std::map<std::string, AttributeValue>& all() const { return values_; }

  int64_t i(const std::string& name) const;
  int64_t i(const std::string& name, int64_t fallback) const;
  float f(const std::string& name) const;
  float f(const std::string& name, float fallback) const;
  std::string s(const std::string& name) const;
  std::string s(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> ints(const std::string& name) const;
  std::vector<int64_t> ints(const std::string& name, std::vector<int64_t> fallback) const;
  std::vector<float> floats(const std::string& name) const;
  std::vector<float> floats(const std::string& name, std::vector<float> fallback) const;
  std::vector<std::string> strings(const std::string& name) const;
  const Tensor& t(const std::string& name) const;

  //! Used in error messages: "node 'conv1' (Conv)".
  std::string owner;

 private:
  const AttributeValue& get(const std::string& name) const;
  std::map<std::string, AttributeValue> values_;
};

struct TensorInfo {
  std::string name;
  DataType type = DataType::kFLOAT;
  Shape shape;                  //!< dims as described at kInfo (see kUnknownDim / symbols)
  bool rank_known = false;      //!< false: nothing known of the shape yet
  //! Set for initializers, constants, folded tensors, and (during reference execution) every
  //! computed tensor. Immutable once set, so shared freely.
  std::shared_ptr<const Tensor> value;
  bool is_initializer = false;  //!< a model weight (named in refit); value is set
  //! For a 1-D (or scalar) integer tensor computed from shapes at run time (Shape, then
  //! Slice, Gather, Concat, ...): its entries as far as the build can tell them, each a known
  //! value or a symbol (<= kFirstSymbol), e.g. [batch, sequence, 12, 64]. A Reshape or Expand
  //! reading it gets symbolic output dims instead of unknown ones, which lets the optimizer
  //! prove the facts its fusions need. A literal -1 entry is the value -1 (a Reshape's "infer
  //! this dim"), never "unknown": a tensor with an unknown entry has no shape_value.
  std::optional<Shape> shape_value;
};

//! The entries of `t` as a shape value: its shape_value, or its constant value when that is
//! a small 1-D or scalar integer tensor with no entry below -1.
std::optional<Shape> shapeValueOf(const TensorInfo& t);

constexpr int kAbsent = -1;  //!< an optional input that is not given

struct Node {
  std::string name;
  std::string op;      //!< ONNX op_type
  std::string domain;  //!< "" for ai.onnx
  std::vector<int> inputs;   //!< tensor ids; kAbsent for an omitted optional input
  std::vector<int> outputs;  //!< tensor ids; kAbsent for an omitted optional output
  Attributes attrs;
  //! "node 'conv1' (Conv)" for messages.
  std::string describe() const;
};

class Graph {
 public:
  std::vector<TensorInfo> tensors;
  std::vector<Node> nodes;
  //! Nodes that compute constants from the model's weights (folded at import or fused by
  //! passes: transposes, casts, conv+BatchNorm). Their outputs have values; refit and
  //! weight-stripped loading re-run them with new weights. Evaluated in order.
  std::vector<Node> weight_program;
  std::vector<int> inputs;   //!< graph inputs (not initializers)
  std::vector<int> outputs;
  std::vector<std::string> symbols;  //!< names of symbolic dims, see kFirstSymbol
  int opset = 0;                     //!< ai.onnx opset of the model
  std::string name;

  //! Id of the tensor named `name`, or -1.
  int find(const std::string& name) const;
  //! Id of the tensor named `name`, creating it if needed.
  int tensorId(const std::string& name);
  //! Adds a tensor with a fresh unique name derived from `hint`.
  int addTensor(const std::string& hint);
  //! Adds a constant tensor (fresh name from `hint`) holding `value`.
  int addConstant(const std::string& hint, Tensor value);
  //! Symbol dim value for a dim_param name (creating the symbol).
  int64_t symbolDim(const std::string& symbol);
  //! "batch", "?" or the number, for messages.
  std::string dimToString(int64_t d) const;
  std::string shapeToString(const TensorInfo& t) const;

  //! Drops nodes whose outputs nothing uses and tensors no longer referenced; keeps ids of
  //! inputs/outputs valid by renumbering everything consistently.
  void removeDeadCode();

 private:
  std::map<std::string, int> by_name_;
};

}  // namespace kiln::ir
