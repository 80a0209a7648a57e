// Shape rules of the operators whose output sizes depend on input values: NonZero, Compress,
// Unique and NonMaxSuppression. When the values are known (constants, and always on the CPU
// reference, which evaluates node by node) the rule computes the exact shape from them;
// otherwise the data-dependent dims are unknown, which an engine build refuses (sizing them on
// the device at run time is not implemented). Reference kernels:
// backends/cpu/kernels/data_dependent.cpp.
#include <algorithm>
#include <compare>

#include "ir/op_schema.h"
#include "ir/ops/data_dependent.h"

namespace kiln::ir {
namespace {

void inferNonZero(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  int64_t count = kUnknownDim;
  if (const Tensor* v = ctx.inputValue(0)) {
    const std::vector<double> d = v->toDouble();
    count = std::count_if(d.begin(), d.end(), [](double e) { return e != 0.0; });
  }
  ctx.setOutput(0, DataType::kINT64, {static_cast<int64_t>(x.size()), count});
}

void inferCompress(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  if (ctx.inputType(1) != DataType::kBOOL || ctx.inputRank(1) != 1) ctx.fail("condition must be a 1-D bool tensor");
  int64_t count = kUnknownDim;
  if (const Tensor* c = ctx.inputValue(1)) {
    const std::vector<double> d = c->toDouble();
    count = std::count_if(d.begin(), d.end(), [](double e) { return e != 0.0; });
  }
  if (!ctx.attrs().has("axis")) {
    ctx.setOutput(0, ctx.inputType(0), {count});
    return;
  }
  const int64_t axis = ctx.normalizeAxis(ctx.attrs().i("axis"), static_cast<int64_t>(x.size()));
  const int64_t length = ctx.inputShape(1)[0];
  if (isKnown(length) && isKnown(x[axis]) && length > x[axis])
    ctx.fail("condition has " + std::to_string(length) + " entries for " + std::to_string(x[axis]) + " slices");
  Shape y = x;
  y[axis] = count;
  ctx.setOutput(0, ctx.inputType(0), y);
}

void inferUnique(InferContext& ctx) {
  const Shape& x = ctx.inputShape(0);
  const bool has_axis = ctx.attrs().has("axis");
  const int64_t axis = has_axis ? ctx.normalizeAxis(ctx.attrs().i("axis"), static_cast<int64_t>(x.size())) : -1;
  int64_t count = kUnknownDim;
  if (const Tensor* v = ctx.inputValue(0)) count = static_cast<int64_t>(uniqueOf(*v, axis, true).first.size());
  Shape y = has_axis ? x : Shape{count};
  if (has_axis) y[axis] = count;
  ctx.setOutput(0, ctx.inputType(0), y);
  int64_t elements = 1;
  for (int64_t d : x) elements = isKnown(d) && isKnown(elements) ? elements * d : kUnknownDim;
  if (ctx.hasOutput(1)) ctx.setOutput(1, DataType::kINT64, {count});
  if (ctx.hasOutput(2)) ctx.setOutput(2, DataType::kINT64, {has_axis ? x[axis] : elements});
  if (ctx.hasOutput(3)) ctx.setOutput(3, DataType::kINT64, {count});
}

void inferNonMaxSuppression(InferContext& ctx) {
  const Shape& boxes = ctx.inputShape(0);
  const Shape& scores = ctx.inputShape(1);
  if (boxes.size() != 3 || (isKnown(boxes[2]) && boxes[2] != 4)) ctx.fail("boxes must be [batch, boxes, 4]");
  if (scores.size() != 3) ctx.fail("scores must be [batch, classes, boxes]");
  if (!isFloatingPoint(ctx.inputType(0)) || ctx.inputType(1) != ctx.inputType(0))
    ctx.fail("boxes and scores must be of one floating-point type");
  int64_t count = kUnknownDim;
  bool known = ctx.inputValue(0) && ctx.inputValue(1);
  for (int i = 2; i < 5; ++i) known = known && (!ctx.hasInput(i) || ctx.inputValue(i));
  if (known) {
    NmsInputs in{.boxes = ctx.inputValue(0), .scores = ctx.inputValue(1)};
    if (ctx.hasInput(2)) in.max_per_class = ctx.inputValue(2)->toInt64().at(0);
    if (ctx.hasInput(3)) in.iou_threshold = ctx.inputValue(3)->toDouble().at(0);
    if (ctx.hasInput(4)) in.score_threshold = ctx.inputValue(4)->toDouble().at(0);
    in.center_point_box = ctx.attrs().i("center_point_box", 0) != 0;
    count = static_cast<int64_t>(nonMaxSuppression(in).size());
  }
  ctx.setOutput(0, DataType::kINT64, {count, 3});
}

KILN_REGISTER_OP({.name = "NonZero", .since_opset = 9, .infer = inferNonZero});
KILN_REGISTER_OP({.name = "Compress", .min_inputs = 2, .max_inputs = 2, .since_opset = 9, .infer = inferCompress});
KILN_REGISTER_OP({.name = "Unique", .max_outputs = 4, .since_opset = 11, .infer = inferUnique});
KILN_REGISTER_OP({.name = "NonMaxSuppression",
                  .min_inputs = 2,
                  .max_inputs = 5,
                  .since_opset = 10,
                  .infer = inferNonMaxSuppression});

}  // namespace

std::pair<std::vector<int64_t>, std::vector<int64_t>> uniqueOf(const Tensor& x, int64_t axis, bool sorted) {
  const Shape& s = x.shape();
  const std::vector<double> v = x.toDouble();
  // Slices: along `axis` (each the values at one index of it), or single elements.
  int64_t slices = static_cast<int64_t>(v.size()), outer = 1, inner = 1;
  if (axis >= 0) {
    slices = s[axis];
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  }
  auto slice = [&](int64_t i) {
    if (axis < 0) return std::vector<double>{v[i]};
    std::vector<double> out;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < inner; ++k) out.push_back(v[(o * slices + i) * inner + k]);
    return out;
  };
  std::vector<std::vector<double>> all;
  for (int64_t i = 0; i < slices; ++i) all.push_back(slice(i));
  // Slices compare by IEEE totalOrder, so NaNs are equal to each other and sort last: a total
  // order whatever the values.
  auto order = [&](int64_t a, int64_t b) {
    return std::lexicographical_compare_three_way(all[a].begin(), all[a].end(), all[b].begin(), all[b].end(),
                                                  [](double x, double y) { return std::strong_order(x, y); });
  };
  std::vector<int64_t> first;  // first occurrence of each distinct slice, in order of appearance
  std::vector<int64_t> inverse(static_cast<size_t>(slices));
  for (int64_t i = 0; i < slices; ++i) {
    const auto hit = std::find_if(first.begin(), first.end(), [&](int64_t f) { return order(f, i) == 0; });
    if (hit == first.end()) first.push_back(i);
  }
  if (sorted) std::stable_sort(first.begin(), first.end(), [&](int64_t a, int64_t b) { return order(a, b) < 0; });
  for (int64_t i = 0; i < slices; ++i)
    inverse[i] = std::find_if(first.begin(), first.end(), [&](int64_t f) { return order(f, i) == 0; }) - first.begin();
  return {first, inverse};
}

std::vector<std::array<int64_t, 3>> nonMaxSuppression(const NmsInputs& in) {
  const Shape& bs = in.boxes->shape();
  const Shape& ss = in.scores->shape();
  const int64_t batches = bs[0], count = bs[1], classes = ss[1];
  const std::vector<double> boxes = in.boxes->toDouble(), scores = in.scores->toDouble();
  // A box as (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2.
  auto corners = [&](int64_t b, int64_t i) {
    const double* p = boxes.data() + (b * count + i) * 4;
    if (in.center_point_box)  // (x_center, y_center, width, height)
      return std::array<double, 4>{p[1] - p[3] / 2, p[0] - p[2] / 2, p[1] + p[3] / 2, p[0] + p[2] / 2};
    return std::array<double, 4>{std::min(p[0], p[2]), std::min(p[1], p[3]), std::max(p[0], p[2]),
                                 std::max(p[1], p[3])};
  };
  auto iou = [](const std::array<double, 4>& a, const std::array<double, 4>& b) {
    const double h = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
    const double w = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
    const double inter = h * w;
    const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return uni > 0.0 ? inter / uni : 0.0;
  };
  std::vector<std::array<int64_t, 3>> selected;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t c = 0; c < classes; ++c) {
      const double* sc = scores.data() + (b * classes + c) * count;
      std::vector<int64_t> order;
      for (int64_t i = 0; i < count; ++i)
        if (!in.score_threshold || sc[i] > *in.score_threshold) order.push_back(i);
      // Highest score first; ties keep the lower index first.
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sc[x] > sc[y]; });
      std::vector<int64_t> kept;
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= in.max_per_class) break;
        const auto box = corners(b, i);
        const bool clear = std::all_of(kept.begin(), kept.end(),
                                       [&](int64_t k) { return iou(box, corners(b, k)) <= in.iou_threshold; });
        if (clear) kept.push_back(i);
      }
      for (int64_t i : kept) selected.push_back({b, c, i});
    }
  return selected;
}

}  // namespace kiln::ir
