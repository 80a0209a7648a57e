// Each operator is declared once, as data: its arity, the opsets it covers, its shape and
// type rule, and how an older opset's form is rewritten into the canonical one. The ONNX
// importer, shape inference, constant folding and every backend look operators up here.
//
//   KILN_REGISTER_OP({.name = "Relu", .infer = inferSameAsInput0});
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

//! What a shape rule sees of one node: its attributes, its inputs' types, shapes and (when
//! known) values, and where it writes its outputs' types and shapes.
class InferContext {
 public:
  InferContext(const Node& node, std::vector<TensorInfo>& tensors, int opset)
      : node_(node), tensors_(tensors), opset_(opset) {}

  const Node& node() const { return node_; }
  const Attributes& attrs() const { return node_.attrs; }
  int opset() const { return opset_; }

  //! Number of input slots (absent optional inputs included).
  int numInputs() const { return static_cast<int>(node_.inputs.size()); }
  bool hasInput(int i) const { return i < numInputs() && node_.inputs[i] != kAbsent; }
  DataType inputType(int i) const { return input(i).type; }
  //! Shape of input i; throws kUnsupported when even its rank is unknown.
  const Shape& inputShape(int i) const;
  int64_t inputRank(int i) const { return static_cast<int64_t>(inputShape(i).size()); }
  //! Value of input i when it is known at this point (constant, or computed), else nullptr.
  const Tensor* inputValue(int i) const;
  //! Value of input i, which this op requires to be known before run time (e.g. Reshape's
  //! shape in a static build); throws kUnsupported naming the input otherwise.
  const Tensor& requireValue(int i, const char* what) const;
  //! Input i as a shape value (see TensorInfo::shape_value): known entries and symbols.
  std::optional<Shape> inputShapeValue(int i) const;

  int numOutputs() const { return static_cast<int>(node_.outputs.size()); }
  bool hasOutput(int i) const { return i < numOutputs() && node_.outputs[i] != kAbsent; }
  void setOutput(int i, DataType type, Shape shape);

  //! Normalizes a possibly negative axis against `rank`; throws naming the node if out of range.
  int64_t normalizeAxis(int64_t axis, int64_t rank, const char* what = "axis") const;

  [[noreturn]] void fail(const std::string& message) const;         // kInvalidModel
  [[noreturn]] void unsupported(const std::string& message) const;  // kUnsupported

  //! Inputs whose value the rule asked for (inputValue, requireValue, inputShapeValue) while
  //! it was not known: what the builder follows back to find shape inputs.
  const std::vector<int>& missingValues() const { return missing_values_; }

 private:
  const TensorInfo& input(int i) const;
  void noteMissing(int i) const;
  const Node& node_;
  std::vector<TensorInfo>& tensors_;
  int opset_;
  mutable std::vector<int> missing_values_;
};

using InferFn = std::function<void(InferContext&)>;
//! Rewrites `node` (found in a model of ai.onnx `opset`) in place into the canonical form
//! that shape rules and kernels implement, e.g. moves attributes that later opsets turned into
//! inputs into constant inputs. May add constants to `graph`.
using NormalizeFn = std::function<void(Graph& graph, Node& node, int opset)>;

struct OpSchema {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;
  int min_outputs = 1;
  int max_outputs = 1;
  //! ai.onnx opsets this entry implements (the model's opset must lie in the range).
  int since_opset = 1;
  int until_opset = 1000;
  InferFn infer;
  NormalizeFn normalize;  //!< optional
  //! false for ops that must never be evaluated at build time.
  bool foldable = true;
};

//! Registers a schema at static-initialization time. Duplicate names are a bug (abort-free:
//! the second one is reported by checkRegistry()).
struct OpRegistrar {
  explicit OpRegistrar(OpSchema schema);
};

const OpSchema* findSchema(std::string_view op);
std::vector<std::string> registeredOps();

// ---- shape-rule helpers used by many operators --------------------------------------------

//! Output i gets input 0's type and shape.
void inferSameAsInput0(InferContext& ctx);
//! Numpy-style multidirectional broadcast of two shapes; fails naming the node if incompatible.
Shape broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b);

//! The kiln type an attribute names by its ONNX data type number (Cast's "to", ...): a type
//! kiln does not store is unsupported ("<what> float8e4m3fn is not supported"), a number that
//! is no ONNX type invalid ("<what>: 99 is not a valid ONNX data type").
DataType typeAttribute(const InferContext& ctx, const std::string& what, int64_t onnx_type);
//! Merges two dims known to be equal (keeps a known value or a symbol).
int64_t mergeDims(int64_t a, int64_t b);

#define KILN_PP_CAT_(a, b) a##b
#define KILN_PP_CAT(a, b) KILN_PP_CAT_(a, b)
#define KILN_REGISTER_OP(...) \
  static const ::kiln::ir::OpRegistrar KILN_PP_CAT(kiln_op_registrar_, __LINE__)(::kiln::ir::OpSchema __VA_ARGS__)

}  // namespace kiln::ir
