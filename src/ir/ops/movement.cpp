// Shape rules of the data-movement operators: Transpose, Tile, Pad, Concat, Split, Slice,
// Gather, GatherElements, GatherND, ScatterND, ScatterElements, DepthToSpace, SpaceToDepth,
// Trilu and OneHot.
#include <algorithm>
#include <numeric>

#include "ir/op_schema.h"
#include "ir/ops/movement_math.h"

namespace kiln::ir {
namespace {

bool isIndexType(DataType t) { return t == DataType::kINT64 || t == DataType::kINT32; }

void requireIndexType(InferContext& ctx, int i, const char* what) {
  if (!isIndexType(ctx.inputType(i))) ctx.fail(std::string(what) + " must be int32 or int64");
}

//! Known length of the 1-D input i, or fails / reports unsupported.
int64_t inputLength(InferContext& ctx, int i, const char* what) {
  const Shape& s = ctx.inputShape(i);
  if (s.size() != 1) ctx.fail(std::string(what) + " must be 1-D");
  if (!isKnown(s[0])) ctx.unsupported(std::string(what) + " has an unknown length");
  return s[0];
}

int64_t mulDim(int64_t d, int64_t k) {
  if (k == 1) return d;
  return isKnown(d) ? d * k : kUnknownDim;
}

// ---- Transpose -------------------------------------------------------------------------------

void inferTranspose(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> perm(in.size());
  std::iota(perm.rbegin(), perm.rend(), 0);
  perm = ctx.attrs().ints("perm", perm);
  if (static_cast<int64_t>(perm.size()) != rank) ctx.fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  std::vector<bool> seen(in.size(), false);
  Shape out;
  for (int64_t p : perm) {
    p = ctx.normalizeAxis(p, rank, "perm entry");
    if (seen[p]) ctx.fail("perm is not a permutation");
    seen[p] = true;
    out.push_back(in[p]);
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

// ---- Tile ------------------------------------------------------------------------------------

void inferTile(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  requireIndexType(ctx, 1, "repeats");
  Shape out(in.size(), kUnknownDim);
  if (const Tensor* reps = ctx.inputValue(1)) {
    std::vector<int64_t> r = reps->toInt64();
    if (r.size() != in.size()) ctx.fail("repeats has " + std::to_string(r.size()) + " entries for rank " + std::to_string(in.size()));
    for (size_t i = 0; i < in.size(); ++i) {
      if (r[i] < 0) ctx.fail("repeats must not be negative");
      out[i] = mulDim(in[i], r[i]);
    }
  } else if (inputLength(ctx, 1, "repeats") != static_cast<int64_t>(in.size())) {
    ctx.fail("repeats length does not match the input rank");
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

// ---- Pad -------------------------------------------------------------------------------------

// Pad before opset 11 (Pad-2) held pads and value as attributes; value is a float and applies
// to float tensors only, so it becomes a constant of the input's type (inferred by now).
void normalizePad(Graph& graph, Node& node, int opset) {
  if (opset >= 11) return;
  std::vector<int64_t> pads = node.attrs.ints("pads");
  const double value = node.attrs.f("value", 0.0f);
  node.attrs.erase("pads");
  node.attrs.erase("value");
  node.inputs.resize(1);
  node.inputs.push_back(
      graph.addConstant(node.name + "_pads", Tensor::fromInt64({static_cast<int64_t>(pads.size())}, pads)));
  if (value != 0.0 && node.attrs.s("mode", "constant") == "constant") {
    const DataType type = graph.tensors[node.inputs[0]].type;
    node.inputs.push_back(graph.addConstant(node.name + "_value", Tensor::fromDouble(type, {}, {&value, 1})));
  }
}

void inferPad(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  std::string mode = ctx.attrs().s("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") ctx.fail("unknown mode '" + mode + "'");
  requireIndexType(ctx, 1, "pads");
  if (ctx.hasInput(2) && ctx.inputType(2) != ctx.inputType(0)) ctx.fail("constant_value must have the input's type");
  std::vector<int64_t> axes(in.size());
  std::iota(axes.begin(), axes.end(), 0);
  if (ctx.hasInput(3)) {
    const Tensor* a = ctx.inputValue(3);
    if (!a) {
      (void)ctx.inputValue(1);  // the pads decide the shape too: say so when they are unknown
      ctx.setOutput(0, ctx.inputType(0), Shape(in.size(), kUnknownDim));
      return;
    }
    axes.clear();
    for (int64_t v : a->toInt64()) axes.push_back(ctx.normalizeAxis(v, rank));
  }
  Shape out = in;
  const Tensor* pads_value = ctx.inputValue(1);
  if (!pads_value) {
    for (int64_t a : axes) out[a] = kUnknownDim;
  } else {
    std::vector<int64_t> pads = pads_value->toInt64();
    if (pads.size() != 2 * axes.size()) ctx.fail("pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * axes.size()));
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t d = in[axes[i]], grow = pads[i] + pads[i + axes.size()];
      if (grow == 0) continue;
      if (!isKnown(d)) { out[axes[i]] = kUnknownDim; continue; }
      if (d + grow < 0) ctx.fail("pads remove more than the whole axis " + std::to_string(axes[i]));
      if (mode != "constant" && d == 0 && d + grow > 0) ctx.fail(mode + " padding of an empty axis");
      out[axes[i]] = d + grow;
    }
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

// ---- Concat / Split --------------------------------------------------------------------------

void inferConcat(InferContext& ctx) {
  if (ctx.numInputs() < 1) ctx.fail("needs at least one input");
  Shape out = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(out.size());
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis"), rank);
  DataType type = ctx.inputType(0);
  for (int i = 1; i < ctx.numInputs(); ++i) {
    const Shape& s = ctx.inputShape(i);
    if (ctx.inputType(i) != type) ctx.fail("inputs have different types");
    if (static_cast<int64_t>(s.size()) != rank) ctx.fail("inputs have different ranks");
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) {
        out[d] = isKnown(out[d]) && isKnown(s[d]) ? out[d] + s[d] : kUnknownDim;
      } else {
        if (isKnown(out[d]) && isKnown(s[d]) && out[d] != s[d])
          ctx.fail("input " + std::to_string(i) + " has dimension " + std::to_string(d) + " = " + std::to_string(s[d]) + ", expected " + std::to_string(out[d]));
        out[d] = mergeDims(out[d], s[d]);
      }
    }
  }
  ctx.setOutput(0, type, std::move(out));
}

void inferSplit(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", 0), static_cast<int64_t>(in.size()));
  int64_t n = ctx.numOutputs();
  std::vector<int64_t> sizes(static_cast<size_t>(n), kUnknownDim);
  int64_t d = in[axis];
  if (ctx.hasInput(1)) {
    requireIndexType(ctx, 1, "split");
    if (ctx.attrs().has("num_outputs")) ctx.fail("has both a split input and num_outputs");
    if (const Tensor* split = ctx.inputValue(1)) {
      sizes = split->toInt64();
      if (static_cast<int64_t>(sizes.size()) != n) ctx.fail("split has " + std::to_string(sizes.size()) + " entries for " + std::to_string(n) + " outputs");
      int64_t total = 0;
      for (int64_t s : sizes) {
        if (s < 0) ctx.fail("split sizes must not be negative");
        total += s;
      }
      if (isKnown(d) && total != d) ctx.fail("split sizes sum to " + std::to_string(total) + ", the axis has " + std::to_string(d));
    }
  } else {
    int64_t parts = ctx.attrs().i("num_outputs", n);
    if (parts != n) ctx.fail("num_outputs is " + std::to_string(parts) + " but the node has " + std::to_string(n) + " outputs");
    if (isKnown(d)) {
      sizes = splitEqually(d, n);
      if (ctx.opset() < 18 && d % n != 0) ctx.fail("axis of size " + std::to_string(d) + " does not split into " + std::to_string(n) + " equal parts");
    } else if (n == 1) {
      sizes[0] = d;
    }
  }
  for (int64_t o = 0; o < n; ++o) {
    Shape s = in;
    s[axis] = sizes[o];
    ctx.setOutput(static_cast<int>(o), ctx.inputType(0), std::move(s));
  }
}

void normalizeSplit(Graph& graph, Node& node, int opset) {
  if (opset < 13 && node.attrs.has("split")) {
    std::vector<int64_t> v = node.attrs.ints("split");
    node.attrs.erase("split");
    node.inputs.resize(1);
    node.inputs.push_back(graph.addConstant(node.name + "_split", Tensor::fromInt64({static_cast<int64_t>(v.size())}, v)));
  }
  bool has_split = node.inputs.size() > 1 && node.inputs[1] != kAbsent;
  if (opset < 18 && !has_split && !node.attrs.has("num_outputs"))
    node.attrs.set("num_outputs", static_cast<int64_t>(node.outputs.size()));
}

// ---- Slice -----------------------------------------------------------------------------------

// Slice before opset 10 held starts, ends and (optional) axes as attributes.
void normalizeSlice(Graph& graph, Node& node, int opset) {
  if (opset >= 10) return;
  node.inputs.resize(1);
  for (const char* name : {"starts", "ends", "axes"}) {
    if (!node.attrs.has(name)) continue;  // starts and ends are required: the shape rule reports them
    std::vector<int64_t> v = node.attrs.ints(name);
    node.attrs.erase(name);
    node.inputs.push_back(
        graph.addConstant(node.name + "_" + name, Tensor::fromInt64({static_cast<int64_t>(v.size())}, v)));
  }
}

void inferSlice(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  for (int i = 1; i < 5; ++i)
    if (ctx.hasInput(i)) requireIndexType(ctx, i, "starts/ends/axes/steps");
  const Tensor *starts = ctx.inputValue(1), *ends = ctx.inputValue(2);
  const Tensor* axes_value = ctx.hasInput(3) ? ctx.inputValue(3) : nullptr;
  const Tensor* steps_value = ctx.hasInput(4) ? ctx.inputValue(4) : nullptr;
  if ((ctx.hasInput(3) && !axes_value)) {
    ctx.setOutput(0, ctx.inputType(0), Shape(in.size(), kUnknownDim));
    return;
  }
  std::vector<int64_t> axes;
  if (axes_value) {
    for (int64_t a : axes_value->toInt64()) axes.push_back(ctx.normalizeAxis(a, rank));
    std::vector<int64_t> sorted = axes;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) ctx.fail("axes contain a duplicate");
  } else {
    int64_t n = starts ? starts->numel() : inputLength(ctx, 1, "starts");
    if (n > rank) ctx.fail("starts has more entries than the input rank");
    axes.resize(static_cast<size_t>(n));
    std::iota(axes.begin(), axes.end(), 0);
  }
  Shape out = in;
  if (!starts || !ends || (ctx.hasInput(4) && !steps_value)) {
    for (int64_t a : axes) out[a] = kUnknownDim;
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return;
  }
  std::vector<int64_t> s = starts->toInt64(), e = ends->toInt64();
  std::vector<int64_t> st = steps_value ? steps_value->toInt64() : std::vector<int64_t>(axes.size(), 1);
  if (s.size() != axes.size() || e.size() != axes.size() || st.size() != axes.size())
    ctx.fail("starts, ends, axes and steps must have the same length");
  for (size_t i = 0; i < axes.size(); ++i) {
    if (st[i] == 0) ctx.fail("steps must not be 0");
    int64_t d = in[axes[i]];
    if (isKnown(d)) out[axes[i]] = sliceRange(d, s[i], e[i], st[i]).length;
    else if (!(st[i] == 1 && s[i] == 0 && e[i] >= (int64_t{1} << 62))) out[axes[i]] = kUnknownDim;  // [0:max] keeps it
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

// ---- Gather family ---------------------------------------------------------------------------

void inferGather(InferContext& ctx) {
  const Shape& data = ctx.inputShape(0);
  const Shape& idx = ctx.inputShape(1);
  requireIndexType(ctx, 1, "indices");
  if (data.empty()) ctx.fail("data must have rank 1 or more");
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", 0), static_cast<int64_t>(data.size()));
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

void inferGatherElements(InferContext& ctx) {
  const Shape& data = ctx.inputShape(0);
  const Shape& idx = ctx.inputShape(1);
  requireIndexType(ctx, 1, "indices");
  if (data.size() != idx.size()) ctx.fail("data and indices must have the same rank");
  ctx.normalizeAxis(ctx.attrs().i("axis", 0), static_cast<int64_t>(data.size()));
  ctx.setOutput(0, ctx.inputType(0), idx);
}

void inferGatherND(InferContext& ctx) {
  const Shape& data = ctx.inputShape(0);
  const Shape& idx = ctx.inputShape(1);
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("indices must be int64");
  int64_t b = ctx.attrs().i("batch_dims", 0);
  int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(idx.size());
  if (r < 1 || q < 1) ctx.fail("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) ctx.fail("batch_dims " + std::to_string(b) + " is out of range");
  int64_t k = idx.back();
  if (!isKnown(k)) ctx.unsupported("the last dimension of indices must be known");
  if (k < 1 || k > r - b) ctx.fail("indices' last dimension " + std::to_string(k) + " is out of range");
  for (int64_t i = 0; i < b; ++i)
    if (isKnown(data[i]) && isKnown(idx[i]) && data[i] != idx[i]) ctx.fail("batch dimensions of data and indices differ");
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + b + k, data.end());
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

void checkReduction(InferContext& ctx) {
  std::string r = ctx.attrs().s("reduction", "none");
  if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min") ctx.fail("unknown reduction '" + r + "'");
}

void inferScatterND(InferContext& ctx) {
  const Shape& data = ctx.inputShape(0);
  const Shape& idx = ctx.inputShape(1);
  if (ctx.inputType(1) != DataType::kINT64) ctx.fail("indices must be int64");
  if (ctx.inputType(2) != ctx.inputType(0)) ctx.fail("updates must have the data's type");
  checkReduction(ctx);
  if (idx.empty()) ctx.fail("indices must have rank >= 1");
  int64_t k = idx.back();
  if (isKnown(k) && k > static_cast<int64_t>(data.size())) ctx.fail("indices' last dimension exceeds the data rank");
  if (isKnown(k)) {
    size_t expected = idx.size() - 1 + data.size() - static_cast<size_t>(k);
    if (ctx.inputRank(2) != static_cast<int64_t>(expected)) ctx.fail("updates has the wrong rank");
  }
  ctx.setOutput(0, ctx.inputType(0), data);
}

void inferScatterElements(InferContext& ctx) {
  const Shape& data = ctx.inputShape(0);
  requireIndexType(ctx, 1, "indices");
  if (ctx.inputType(2) != ctx.inputType(0)) ctx.fail("updates must have the data's type");
  if (ctx.inputRank(1) != static_cast<int64_t>(data.size()) || ctx.inputRank(2) != static_cast<int64_t>(data.size()))
    ctx.fail("data, indices and updates must have the same rank");
  ctx.normalizeAxis(ctx.attrs().i("axis", 0), static_cast<int64_t>(data.size()));
  checkReduction(ctx);
  ctx.setOutput(0, ctx.inputType(0), data);
}

// ---- DepthToSpace / SpaceToDepth -------------------------------------------------------------

int64_t divDim(InferContext& ctx, int64_t d, int64_t k, const char* what) {
  if (!isKnown(d)) return kUnknownDim;
  if (d % k) ctx.fail(std::string(what) + " " + std::to_string(d) + " is not divisible by " + std::to_string(k));
  return d / k;
}

void inferDepthToSpace(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  if (in.size() != 4) ctx.fail("input must be 4-D");
  int64_t b = ctx.attrs().i("blocksize");
  if (b <= 0) ctx.fail("blocksize must be positive");
  std::string mode = ctx.attrs().s("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") ctx.fail("unknown mode '" + mode + "'");
  ctx.setOutput(0, ctx.inputType(0), {in[0], divDim(ctx, in[1], b * b, "channels"), mulDim(in[2], b), mulDim(in[3], b)});
}

void inferSpaceToDepth(InferContext& ctx) {
  const Shape& in = ctx.inputShape(0);
  if (in.size() != 4) ctx.fail("input must be 4-D");
  int64_t b = ctx.attrs().i("blocksize");
  if (b <= 0) ctx.fail("blocksize must be positive");
  ctx.setOutput(0, ctx.inputType(0), {in[0], mulDim(in[1], b * b), divDim(ctx, in[2], b, "height"), divDim(ctx, in[3], b, "width")});
}

// ---- Trilu / OneHot --------------------------------------------------------------------------

void inferTrilu(InferContext& ctx) {
  if (ctx.inputRank(0) < 2) ctx.fail("input must have rank >= 2");
  if (ctx.hasInput(1) && ctx.inputType(1) != DataType::kINT64) ctx.fail("k must be int64");
  ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
}

void inferOneHot(InferContext& ctx) {
  const Shape& idx = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(idx.size()) + 1;
  int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis", -1), rank);
  if (ctx.inputType(0) == DataType::kBOOL || ctx.inputType(1) == DataType::kBOOL) ctx.fail("indices and depth must be numeric");
  const Shape& values = ctx.inputShape(2);
  if (values.size() != 1 || (isKnown(values[0]) && values[0] != 2)) ctx.fail("values must hold [off_value, on_value]");
  int64_t depth = kUnknownDim;
  if (const Tensor* d = ctx.inputValue(1)) {
    if (d->numel() != 1) ctx.fail("depth must be a scalar");
    depth = static_cast<int64_t>(d->at(0));
    if (depth < 1) ctx.fail("depth must be positive");
  }
  Shape out = idx;
  out.insert(out.begin() + axis, depth);
  ctx.setOutput(0, ctx.inputType(2), std::move(out));
}

KILN_REGISTER_OP({.name = "Transpose", .infer = inferTranspose});
KILN_REGISTER_OP({.name = "Tile", .min_inputs = 2, .max_inputs = 2, .infer = inferTile});
KILN_REGISTER_OP({.name = "Pad", .min_inputs = 2, .max_inputs = 4, .infer = inferPad, .normalize = normalizePad});
KILN_REGISTER_OP({.name = "Concat", .max_inputs = 1 << 20, .infer = inferConcat});
KILN_REGISTER_OP({.name = "Split", .max_inputs = 2, .max_outputs = 1 << 20, .infer = inferSplit, .normalize = normalizeSplit});
KILN_REGISTER_OP({.name = "Slice", .min_inputs = 3, .max_inputs = 5, .infer = inferSlice, .normalize = normalizeSlice});
KILN_REGISTER_OP({.name = "Gather", .min_inputs = 2, .max_inputs = 2, .infer = inferGather});
KILN_REGISTER_OP({.name = "GatherElements", .min_inputs = 2, .max_inputs = 2, .infer = inferGatherElements});
KILN_REGISTER_OP({.name = "GatherND", .min_inputs = 2, .max_inputs = 2, .infer = inferGatherND});
KILN_REGISTER_OP({.name = "ScatterND", .min_inputs = 3, .max_inputs = 3, .infer = inferScatterND});
KILN_REGISTER_OP({.name = "ScatterElements", .min_inputs = 3, .max_inputs = 3, .infer = inferScatterElements});
// Scatter (opsets 9 and 10) is ScatterElements under its old name.
KILN_REGISTER_OP({.name = "Scatter",
                  .min_inputs = 3,
                  .max_inputs = 3,
                  .since_opset = 9,
                  .until_opset = 10,
                  .infer = inferScatterElements,
                  .normalize = [](Graph&, Node& node, int) { node.op = "ScatterElements"; }});
KILN_REGISTER_OP({.name = "DepthToSpace", .infer = inferDepthToSpace});
KILN_REGISTER_OP({.name = "SpaceToDepth", .infer = inferSpaceToDepth});
KILN_REGISTER_OP({.name = "Trilu", .max_inputs = 2, .infer = inferTrilu});
KILN_REGISTER_OP({.name = "OneHot", .min_inputs = 3, .max_inputs = 3, .infer = inferOneHot});

}  // namespace
}  // namespace kiln::ir
