#include "passes/shape_values.h"

#include <algorithm>

namespace kiln::passes {

namespace {

using ir::Shape;

std::optional<Shape> valueOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors, size_t i) {
  if (i >= node.inputs.size() || node.inputs[i] == ir::kAbsent) return std::nullopt;
  return ir::shapeValueOf(tensors[node.inputs[i]]);
}

//! A constant integer input's values (slice bounds, gather indices, axes).
std::optional<std::vector<int64_t>> constantInts(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors, size_t i) {
  if (i >= node.inputs.size() || node.inputs[i] == ir::kAbsent) return std::nullopt;
  const ir::TensorInfo& t = tensors[node.inputs[i]];
  if (!t.value || (t.value->type() != DataType::kINT64 && t.value->type() != DataType::kINT32)) return std::nullopt;
  return t.value->toInt64();
}

std::optional<Shape> shapeOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors) {
  const ir::TensorInfo& in = tensors[node.inputs[0]];
  if (!in.rank_known) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  int64_t start = node.attrs.i("start", 0), end = node.attrs.i("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  Shape v;
  for (int64_t d = start; d < end; ++d) {
    if (in.shape[d] == ir::kUnknownDim) return std::nullopt;
    v.push_back(in.shape[d]);
  }
  return v;
}

std::optional<Shape> sliceOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors) {
  auto data = valueOf(node, tensors, 0);
  auto starts = constantInts(node, tensors, 1), ends = constantInts(node, tensors, 2);
  if (!data || !starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
  if (auto axes = constantInts(node, tensors, 3); axes && (axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1)))
    return std::nullopt;
  int64_t step = 1;
  if (auto steps = constantInts(node, tensors, 4)) {
    if (steps->size() != 1) return std::nullopt;
    step = (*steps)[0];
  }
  if (step != 1) return std::nullopt;  // exporters slice shapes forwards only
  const int64_t n = static_cast<int64_t>(data->size());
  int64_t s = (*starts)[0], e = (*ends)[0];
  if (s < 0) s += n;
  if (e < 0) e += n;
  s = std::clamp<int64_t>(s, 0, n);
  e = std::clamp<int64_t>(e, 0, n);
  Shape v;
  for (int64_t i = s; i < e; ++i) v.push_back((*data)[i]);
  return v;
}

std::optional<Shape> gatherOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors) {
  auto data = valueOf(node, tensors, 0);
  auto indices = constantInts(node, tensors, 1);
  if (!data || !indices || node.attrs.i("axis", 0) != 0) return std::nullopt;
  const int64_t n = static_cast<int64_t>(data->size());
  Shape v;
  for (int64_t i : *indices) {
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    v.push_back((*data)[i]);
  }
  return v;
}

std::optional<Shape> concatOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors) {
  Shape v;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    auto part = valueOf(node, tensors, i);
    if (!part) return std::nullopt;
    v.insert(v.end(), part->begin(), part->end());
  }
  return v;
}

//! Elementwise integer arithmetic on known entries (a symbol times 1 stays the symbol).
std::optional<Shape> arithmeticOf(const ir::Node& node, const std::vector<ir::TensorInfo>& tensors) {
  auto a = valueOf(node, tensors, 0), b = valueOf(node, tensors, 1);
  if (!a || !b) return std::nullopt;
  if (a->size() != b->size() && a->size() != 1 && b->size() != 1) return std::nullopt;
  const size_t n = std::max(a->size(), b->size());
  Shape v(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
    const bool known = ir::isKnown(x) && ir::isKnown(y);
    if (node.op == "Mul" && (x == 1 || y == 1)) v[i] = x == 1 ? y : x;
    else if ((node.op == "Add" || node.op == "Sub") && y == 0) v[i] = x;
    else if (!known) return std::nullopt;
    else if (node.op == "Mul") v[i] = x * y;
    else if (node.op == "Add") v[i] = x + y;
    else if (node.op == "Sub") v[i] = x - y;
    else if (y != 0 && x % y == 0) v[i] = x / y;  // Div of dims that divide
    else return std::nullopt;
    if (v[i] < -1) return std::nullopt;
  }
  return v;
}

}  // namespace

void propagateShapeValue(const ir::Node& node, std::vector<ir::TensorInfo>& tensors) {
  if (node.outputs.size() != 1 || node.outputs[0] == ir::kAbsent || node.inputs.empty() || node.inputs[0] == ir::kAbsent)
    return;
  ir::TensorInfo& out = tensors[node.outputs[0]];
  if (out.value || (out.type != DataType::kINT64 && out.type != DataType::kINT32) || !out.rank_known || out.shape.size() > 1)
    return;
  std::optional<Shape> v;
  if (node.op == "Shape") v = shapeOf(node, tensors);
  else if (node.op == "Slice") v = sliceOf(node, tensors);
  else if (node.op == "Gather") v = gatherOf(node, tensors);
  else if (node.op == "Concat") v = concatOf(node, tensors);
  else if (node.op == "Cast" || node.op == "Identity" || node.op == "Squeeze" || node.op == "Unsqueeze" || node.op == "Reshape")
    v = valueOf(node, tensors, 0);  // between a scalar and [1], or a 1-D to 1-D: same entries
  else if (node.op == "Mul" || node.op == "Add" || node.op == "Sub" || node.op == "Div")
    v = arithmeticOf(node, tensors);
  // The entries must fit the tensor: a scalar holds one, a 1-D tensor its length.
  const int64_t expected = out.shape.empty() ? 1 : out.shape[0];
  if (v && (expected == ir::kUnknownDim || static_cast<int64_t>(v->size()) == expected)) out.shape_value = std::move(v);
}

}  // namespace kiln::passes
