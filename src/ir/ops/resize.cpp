// Shape rule of Resize (opsets 11, 13, 18 and 19 forms; an empty roi or scales input of the
// opset 11 form counts as absent), and the older forms normalized into it: Resize-10 and
// Upsample-7/9 took (X, scales) or a `scales` attribute and left the coordinate mapping to the
// example they gave (integer nearest upsampling repeats each element, as np.repeat): kiln
// reads them as asymmetric coordinates (x_in = x_out / scale) rounded down in nearest mode,
// as ONNX Runtime and TensorFlow do.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ir/op_schema.h"
#include "ir/ops/movement_math.h"

namespace kiln::ir {
namespace {

//! True when optional input i is given and not an empty tensor (opset 11 passed empty ones).
bool given(InferContext& ctx, int i) {
  if (!ctx.hasInput(i)) return false;
  const Shape& s = ctx.inputShape(i);
  return !(s.size() == 1 && s[0] == 0);
}

void checkAttributes(InferContext& ctx) {
  const Attributes& a = ctx.attrs();
  std::string mode = a.s("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") ctx.fail("unknown mode '" + mode + "'");
  std::string ct = a.s("coordinate_transformation_mode", "half_pixel");
  if (ct != "half_pixel" && ct != "pytorch_half_pixel" && ct != "align_corners" && ct != "asymmetric" &&
      ct != "tf_crop_and_resize" && ct != "half_pixel_symmetric" && ct != "tf_half_pixel_for_nn")
    ctx.fail("unknown coordinate_transformation_mode '" + ct + "'");
  std::string nm = a.s("nearest_mode", "round_prefer_floor");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil")
    ctx.fail("unknown nearest_mode '" + nm + "'");
  if (a.i("exclude_outside", 0) != 0 && mode != "cubic") return;  // only cubic reads it
}

void inferResize(InferContext& ctx) {
  checkAttributes(ctx);
  const Shape& in = ctx.inputShape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes(in.size());
  std::iota(axes.begin(), axes.end(), 0);
  if (ctx.attrs().has("axes")) {
    axes.clear();
    for (int64_t a : ctx.attrs().ints("axes")) axes.push_back(ctx.normalizeAxis(a, rank));
    std::vector<int64_t> sorted = axes;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) ctx.fail("axes contain a duplicate");
  }
  bool has_scales = given(ctx, 2), has_sizes = given(ctx, 3);
  if (has_scales == has_sizes) ctx.fail("exactly one of scales and sizes must be given");
  int value_input = has_scales ? 2 : 3;
  if (has_sizes && ctx.inputType(3) != DataType::kINT64) ctx.fail("sizes must be int64");
  if (has_scales && !isFloatingPoint(ctx.inputType(2))) ctx.fail("scales must be float");
  Shape out = in;
  const Tensor* v = ctx.inputValue(value_input);
  if (!v) {
    for (int64_t a : axes) out[a] = kUnknownDim;
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return;
  }
  if (v->numel() != static_cast<int64_t>(axes.size()))
    ctx.fail(std::string(has_scales ? "scales" : "sizes") + " has " + std::to_string(v->numel()) +
             " entries, expected " + std::to_string(axes.size()));
  std::string policy = ctx.attrs().s("keep_aspect_ratio_policy", "stretch");
  bool axes_known = true;
  for (int64_t a : axes) axes_known = axes_known && isKnown(in[a]);
  if (axes_known) {
    // Dims outside `axes` keep their (possibly symbolic) values.
    Shape known_in = in;
    for (int64_t& d : known_in)
      if (!isKnown(d)) d = 0;
    std::vector<double> scales = has_scales ? v->toDouble() : std::vector<double>{};
    std::vector<int64_t> sizes = has_sizes ? v->toInt64() : std::vector<int64_t>{};
    ResizeAxes r;
    std::string err =
        resizeAxes(known_in, axes, has_scales ? &scales : nullptr, has_sizes ? &sizes : nullptr, policy, r);
    if (!err.empty()) ctx.fail(err);
    for (int64_t a : axes) out[a] = r.sizes[a];
  } else if (has_sizes && policy == "stretch") {
    std::vector<int64_t> sizes = v->toInt64();
    for (size_t i = 0; i < axes.size(); ++i) out[axes[i]] = sizes[i];
  } else {
    std::vector<double> scales = has_scales ? v->toDouble() : std::vector<double>{};
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t d = in[axes[i]];
      if (isKnown(d))
        out[axes[i]] = has_scales ? static_cast<int64_t>(std::floor(static_cast<double>(d) * scales[i])) : kUnknownDim;
      else out[axes[i]] = has_scales && scales[i] == 1.0 ? d : kUnknownDim;
    }
  }
  ctx.setOutput(0, ctx.inputType(0), std::move(out));
}

//! Rewrites a Resize-10 / Upsample node reading `scales` (a tensor id) into Resize-11's form.
void toResize11(Node& node, int scales) {
  node.op = "Resize";
  node.inputs = {node.inputs[0], kAbsent, scales};
  const std::string mode = node.attrs.s("mode", "nearest");
  node.attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  if (mode == "nearest") node.attrs.set("nearest_mode", std::string("floor"));
}

void normalizeResize(Graph&, Node& node, int opset) {
  if (opset >= 11) return;
  toResize11(node, node.inputs.size() > 1 ? node.inputs[1] : kAbsent);
}

// Upsample-7 held the scales as an attribute, Upsample-9 as input 1.
void normalizeUpsample(Graph& graph, Node& node, int opset) {
  int scales = node.inputs.size() > 1 ? node.inputs[1] : kAbsent;
  if (node.attrs.has("scales")) {
    std::vector<float> f = node.attrs.floats("scales");
    std::vector<double> v(f.begin(), f.end());
    node.attrs.erase("scales");
    scales = graph.addConstant(node.name + "_scales",
                               Tensor::fromDouble(DataType::kFLOAT, {static_cast<int64_t>(v.size())}, v));
  }
  if (scales == kAbsent) throw Error(ErrorCode::kInvalidModel, node.describe() + ": Upsample has no scales");
  toResize11(node, scales);
}

void inferUpsample(InferContext& ctx) { ctx.fail("Upsample is read as Resize; its normalize step did not run"); }

KILN_REGISTER_OP({.name = "Resize", .max_inputs = 4, .infer = inferResize, .normalize = normalizeResize});
KILN_REGISTER_OP({.name = "Upsample",
                  .max_inputs = 2,
                  .since_opset = 7,
                  .until_opset = 9,
                  .infer = inferUpsample,
                  .normalize = normalizeUpsample});

}  // namespace
}  // namespace kiln::ir
