#include "ir/op_schema.h"

#include "ir/onnx_types.h"

#include <algorithm>
#include <map>

namespace kiln::ir {

namespace {
std::map<std::string, OpSchema, std::less<>>& registry() {
  static std::map<std::string, OpSchema, std::less<>> schemas;
  return schemas;
}
}  // namespace

OpRegistrar::OpRegistrar(OpSchema schema) {
  std::string name = schema.name;
  registry().emplace(std::move(name), std::move(schema));
}

const OpSchema* findSchema(std::string_view op) {
  auto it = registry().find(op);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> registeredOps() {
  std::vector<std::string> names;
  for (const auto& [name, schema] : registry()) names.push_back(name);
  return names;
}

const TensorInfo& InferContext::input(int i) const {
  if (!hasInput(i)) fail("input " + std::to_string(i) + " is required but missing");
  return tensors_[node_.inputs[i]];
}

const Shape& InferContext::inputShape(int i) const {
  const TensorInfo& t = input(i);
  if (!t.rank_known) unsupported("the rank of input '" + t.name + "' is not known before run time");
  return t.shape;
}

void InferContext::noteMissing(int i) const {
  if (std::find(missing_values_.begin(), missing_values_.end(), i) == missing_values_.end())
    missing_values_.push_back(i);
}

const Tensor* InferContext::inputValue(int i) const {
  if (!hasInput(i)) return nullptr;
  const Tensor* v = tensors_[node_.inputs[i]].value.get();
  if (!v) noteMissing(i);
  return v;
}

const Tensor& InferContext::requireValue(int i, const char* what) const {
  const Tensor* v = inputValue(i);
  if (!v) unsupported(std::string(what) + " (input '" + input(i).name + "') must be a constant or computable from shapes");
  return *v;
}

std::optional<Shape> InferContext::inputShapeValue(int i) const {
  if (!hasInput(i)) return std::nullopt;
  std::optional<Shape> v = shapeValueOf(tensors_[node_.inputs[i]]);
  if (!v) noteMissing(i);
  return v;
}

void InferContext::setOutput(int i, DataType type, Shape shape) {
  if (!hasOutput(i)) return;
  TensorInfo& t = tensors_[node_.outputs[i]];
  t.type = type;
  t.shape = std::move(shape);
  t.rank_known = true;
}

int64_t InferContext::normalizeAxis(int64_t axis, int64_t rank, const char* what) const {
  if (axis < -rank || axis >= rank)
    fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

void InferContext::fail(const std::string& message) const {
  throw Error(ErrorCode::kInvalidModel, node_.describe() + ": " + message);
}

void InferContext::unsupported(const std::string& message) const {
  throw Error(ErrorCode::kUnsupported, node_.describe() + ": " + message);
}

void inferSameAsInput0(InferContext& ctx) {
  for (int o = 0; o < ctx.numOutputs(); ++o) ctx.setOutput(o, ctx.inputType(0), ctx.inputShape(0));
}

int64_t mergeDims(int64_t a, int64_t b) {
  if (isKnown(a)) return a;
  if (isKnown(b)) return b;
  return a == kUnknownDim ? b : a;
}

Shape broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (isKnown(da) && isKnown(db)) {
      if (da != db)
        ctx.fail("cannot broadcast shapes " + toString(a) + " and " + toString(b) + " (dimension " +
                 std::to_string(i) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
      out[i] = da;
    } else if (da == db) {
      out[i] = da;  // same symbol
    } else if (da == kUnknownDim || db == kUnknownDim) {
      out[i] = da == kUnknownDim ? db : da;  // an unknown dim must be 1 or equal: assume equal (a symbol too)
    } else {
      out[i] = kUnknownDim;
    }
  }
  return out;
}

DataType typeAttribute(const InferContext& ctx, const std::string& what, int64_t onnx_type) {
  if (const std::optional<DataType> t = fromOnnxType(onnx_type)) return *t;
  const std::string_view name = onnxTypeName(onnx_type);
  if (!name.empty()) ctx.unsupported(what + " " + std::string(name) + " is not supported");
  ctx.fail(what + ": " + std::to_string(onnx_type) + " is not a valid ONNX data type");
}

}  // namespace kiln::ir
