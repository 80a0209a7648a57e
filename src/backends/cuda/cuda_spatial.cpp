// "cuda.spatial": kiln's CUDA kernels for spatial ops no other GPU provider covers, in float,
// half, bf16 and double, each in double as the reference:
// - Col2Im: up to kCol2ImMaxDims spatial dims, strides, dilations, pads; image_shape and
//   block_shape known on the host;
// - RoiAlign: avg / max, half_pixel / output_half_pixel, int32 / int64 batch indices;
// - Resize in linear / cubic mode at rank up to kResizeMaxRank, including what cuda.movement's
//   Resize refuses (cubic, antialias, tf_crop_and_resize with a run-time roi and
//   extrapolation_value, axes, resized N or C);
// - DeformConv: 2-D, groups, offset groups, optional bias and mask.
// Geometry and attributes are read in Kernel::reshape; run() only launches.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/spatial.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/movement_math.h"
#include "ir/ops/window.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

//! Col2Im's geometry at the layer's shapes: an empty string on success, else why not.
std::string planCol2Im(const backend::LayerView& l, Col2ImGeometry& g) {
  if (l.inputs.size() < 3 || !hasInput(l, 0) || !hasInput(l, 1) || !hasInput(l, 2)) return "missing inputs";
  if (l.outputs.empty() || !l.outputs[0].present) return "no output";
  const DataType type = l.inputs[0].type;
  if (!isFloatingPoint(type) || l.outputs[0].type != type) return std::string(toString(type)) + " data";
  const ir::Tensor* image_t = hostValue(l, 1);
  const ir::Tensor* block_t = hostValue(l, 2);
  if (!image_t || !block_t) return "image_shape or block_shape not known on the host";
  const std::vector<int64_t> image = image_t->toInt64(), block = block_t->toInt64();
  const size_t nd = image.size();
  if (nd < 1 || nd > static_cast<size_t>(kCol2ImMaxDims) || block.size() != nd)
    return std::to_string(nd) + " spatial dims";
  const ir::Attributes& a = l.attrs();
  const std::vector<int64_t> strides = a.ints("strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dilations = a.ints("dilations", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> pads = a.ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (strides.size() != nd || dilations.size() != nd || pads.size() != 2 * nd)
    return "strides, dilations or pads of the wrong length";
  const ir::Shape& x = l.inputs[0].shape;
  if (x.size() != 3) return "input of rank " + std::to_string(x.size());
  g = Col2ImGeometry{};
  g.dims = static_cast<int>(nd);
  for (size_t d = 0; d < nd; ++d) {
    if (image[d] < 1 || block[d] < 1 || strides[d] < 1 || dilations[d] < 1) return "non-positive geometry";
    const int64_t span = image[d] + pads[d] + pads[nd + d] - (dilations[d] * (block[d] - 1) + 1);
    if (span < 0) return "a block larger than the padded image";
    g.image[d] = image[d];
    g.block[d] = block[d];
    g.strides[d] = strides[d];
    g.dilations[d] = dilations[d];
    g.pads[d] = pads[d];
    g.grid[d] = span / strides[d] + 1;
    g.columns *= g.grid[d];
    g.kvol *= block[d];
    g.pixels *= image[d];
  }
  if (g.columns != x[2])
    return "an input of " + std::to_string(x[2]) + " columns where the geometry gives " + std::to_string(g.columns);
  if (x[1] % g.kvol != 0) return "channels not a multiple of prod(block_shape)";
  g.batch = x[0];
  g.channels = x[1] / g.kvol;
  return "";
}

//! RoiAlign's parameters at the layer's shapes: an empty string on success, else why not.
std::string planRoiAlign(const backend::LayerView& l, RoiAlignParams& p) {
  if (l.inputs.size() < 3 || !hasInput(l, 0) || !hasInput(l, 1) || !hasInput(l, 2)) return "missing inputs";
  if (l.outputs.empty() || !l.outputs[0].present) return "no output";
  const DataType type = l.inputs[0].type;
  if (!isFloatingPoint(type) || l.inputs[1].type != type || l.outputs[0].type != type)
    return std::string(toString(type)) + " data";
  const DataType it = l.inputs[2].type;
  if (it != DataType::kINT32 && it != DataType::kINT64) return std::string(toString(it)) + " batch indices";
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& rois = l.inputs[1].shape;
  if (x.size() != 4 || rois.size() != 2 || rois[1] != 4 || l.inputs[2].shape.size() != 1 ||
      l.inputs[2].shape[0] != rois[0])
    return "these shapes";
  const ir::Attributes& a = l.attrs();
  const std::string mode = a.s("mode", "avg"), ct = a.s("coordinate_transformation_mode", "half_pixel");
  if ((mode != "avg" && mode != "max") || (ct != "half_pixel" && ct != "output_half_pixel")) return "these modes";
  p = RoiAlignParams{};
  p.batch = x[0];
  p.channels = x[1];
  p.height = x[2];
  p.width = x[3];
  p.rois = rois[0];
  p.out_h = a.i("output_height", 1);
  p.out_w = a.i("output_width", 1);
  if (p.out_h < 1 || p.out_w < 1) return "an output size below 1";
  p.sampling_ratio = a.i("sampling_ratio", 0);
  p.spatial_scale = a.f("spatial_scale", 1.0f);
  p.max_mode = mode == "max";
  p.half_pixel = ct == "half_pixel";
  return "";
}

bool parseCoordinate(const std::string& name, ResizeCoordinate& t) {
  if (name == "half_pixel") t = ResizeCoordinate::kHalfPixel;
  else if (name == "asymmetric") t = ResizeCoordinate::kAsymmetric;
  else if (name == "align_corners") t = ResizeCoordinate::kAlignCorners;
  else if (name == "pytorch_half_pixel") t = ResizeCoordinate::kPytorchHalfPixel;
  else if (name == "tf_half_pixel_for_nn") t = ResizeCoordinate::kTfHalfPixelForNn;
  else if (name == "half_pixel_symmetric") t = ResizeCoordinate::kHalfPixelSymmetric;
  else if (name == "tf_crop_and_resize") t = ResizeCoordinate::kTfCropAndResize;
  else return false;
  return true;
}

//! Resize's parameters (linear / cubic) at the layer's shapes: an empty string on success.
std::string planResize(const backend::LayerView& l, ResizeGeneralParams& p) {
  if (!hasInput(l, 0) || l.outputs.empty() || !l.outputs[0].present) return "missing input or output";
  const DataType type = l.inputs[0].type;
  if (!isFloatingPoint(type) || l.outputs[0].type != type) return std::string(toString(type)) + " data";
  const ir::Attributes& a = l.attrs();
  const std::string mode = a.s("mode", "nearest");
  if (mode != "linear" && mode != "cubic") return "mode " + mode;
  const ir::Shape& in = l.inputs[0].shape;
  const ir::Shape& out = l.outputs[0].shape;
  const size_t rank = in.size();
  if (rank < 1 || rank > static_cast<size_t>(kResizeMaxRank) || out.size() != rank) return "this rank";
  p = ResizeGeneralParams{};
  if (!parseCoordinate(a.s("coordinate_transformation_mode", "half_pixel"), p.transform)) return "coordinate transform";
  std::vector<int64_t> axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  if (a.has("axes")) {
    axes = a.ints("axes");
    for (int64_t& x : axes) {
      if (x < 0) x += static_cast<int64_t>(rank);
      if (x < 0 || x >= static_cast<int64_t>(rank)) return "an axis out of range";
    }
  }
  ir::ResizeAxes r;
  const std::string err = resizeAxesOnHost(l, axes, r);
  if (!err.empty()) return err;
  p.rank = static_cast<int>(rank);
  p.cubic = mode == "cubic";
  p.antialias = a.i("antialias", 0) != 0;
  p.exclude_outside = a.i("exclude_outside", 0) != 0;
  p.cubic_a = a.f("cubic_coeff_a", -0.75f);
  p.extrapolation = a.f("extrapolation_value", 0.0f);
  p.axes_count = static_cast<int>(axes.size());
  for (size_t d = 0; d < rank; ++d) {
    if (r.sizes[d] != out[d]) return "an output shape that differs from the scales";
    p.in[d] = in[d];
    p.out[d] = out[d];
    p.scale[d] = r.scales[d];
    p.roi_slot[d] = -1;
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    const auto d = static_cast<size_t>(axes[i]);
    if (p.roi_slot[d] >= 0) return "a repeated axis";
    p.roi_slot[d] = static_cast<int>(i);
    if (p.antialias && p.scale[d] < 1.0) {
      const auto start = static_cast<int64_t>(std::floor((p.cubic ? -2.0 : -1.0) / p.scale[d])) + 1;
      if (2 - 2 * start > kResizeMaxTaps) return "antialiased downsampling by more than this kernel's taps";
    }
  }
  if (p.transform == ResizeCoordinate::kTfCropAndResize && hasInput(l, 1) && volume(l.inputs[1].shape) > 0) {
    const DataType rt = l.inputs[1].type;
    if (!isFloatingPoint(rt)) return std::string(toString(rt)) + " roi";
    if (volume(l.inputs[1].shape) != 2 * static_cast<int64_t>(axes.size()))
      return "a roi without a start and end per axis";
    p.roi_type = rt;
  }
  return "";
}

//! DeformConv's geometry at the layer's shapes: an empty string on success.
std::string planDeformConv(const backend::LayerView& l, DeformConvParams& p) {
  if (l.inputs.size() < 3 || !hasInput(l, 0) || !hasInput(l, 1) || !hasInput(l, 2)) return "missing inputs";
  if (l.outputs.empty() || !l.outputs[0].present) return "no output";
  const DataType type = l.inputs[0].type;
  if (!isFloatingPoint(type) || l.outputs[0].type != type) return std::string(toString(type)) + " data";
  for (size_t i = 1; i < l.inputs.size(); ++i)
    if (hasInput(l, static_cast<int>(i)) && l.inputs[i].type != type) return "inputs of mixed types";
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& w = l.inputs[1].shape;
  const ir::Shape& y = l.outputs[0].shape;
  if (x.size() != 4 || w.size() != 4 || y.size() != 4) return "other than 2-D";
  const ir::Attributes& a = l.attrs();
  p = DeformConvParams{};
  p.batch = x[0];
  p.channels = x[1];
  p.height = x[2];
  p.width = x[3];
  p.out_channels = w[0];
  p.cg = w[1];
  p.kh = w[2];
  p.kw = w[3];
  p.oh = y[2];
  p.ow = y[3];
  p.group = a.i("group", 1);
  p.offset_group = a.i("offset_group", 1);
  if (p.group < 1 || p.offset_group < 1 || p.out_channels % p.group != 0 || p.channels % p.offset_group != 0 ||
      p.cg * p.group != p.channels)
    return "these groups";
  const ir::Shape& off = l.inputs[2].shape;
  if (off.size() != 4 || off[0] != p.batch || off[1] != p.offset_group * 2 * p.kh * p.kw || off[2] != p.oh ||
      off[3] != p.ow)
    return "this offset shape";
  if (hasInput(l, 3) && volume(l.inputs[3].shape) != p.out_channels) return "this bias shape";
  if (hasInput(l, 4) && volume(l.inputs[4].shape) != p.batch * p.offset_group * p.kh * p.kw * p.oh * p.ow)
    return "this mask shape";
  const ir::Window win = ir::resolveWindow(a, {x[2], x[3]}, {w[2], w[3]}, false);
  p.stride_h = win.strides[0];
  p.stride_w = win.strides[1];
  p.pad_h = win.pads_begin[0];
  p.pad_w = win.pads_begin[1];
  p.dilation_h = win.dilations[0];
  p.dilation_w = win.dilations[1];
  return "";
}

std::string plan(const backend::LayerView& l, Col2ImGeometry& col2im, RoiAlignParams& roi_align,
                 ResizeGeneralParams& resize, DeformConvParams& deform) {
  if (l.node->op == "DeformConv") return planDeformConv(l, deform);
  if (l.node->op == "Col2Im") return planCol2Im(l, col2im);
  if (l.node->op == "RoiAlign") return planRoiAlign(l, roi_align);
  if (l.node->op == "Resize") return planResize(l, resize);
  return "this op";
}

class SpatialKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<SpatialKernel>(*this); }
  explicit SpatialKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) {
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    const std::string why = plan(layer, col2im_, roi_align_, resize_, deform_);
    if (!why.empty())
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.spatial " + op_ + " does not support " + why);
    type_ = layer.inputs[0].type;
    has_bias_ = op_ == "DeformConv" && hasInput(layer, 3);
    has_mask_ = op_ == "DeformConv" && hasInput(layer, 4);
    indices_int32_ = op_ == "RoiAlign" && layer.inputs[2].type == DataType::kINT32;
    has_roi_ = op_ == "Resize" && resize_.transform == ResizeCoordinate::kTfCropAndResize && hasInput(layer, 1) &&
               volume(layer.inputs[1].shape) > 0;
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t s = streamOf(args);
    if (op_ == "DeformConv")
      launchDeformConv(type_, args.inputs[0], args.inputs[1], args.inputs[2], has_bias_ ? args.inputs[3] : nullptr,
                       has_mask_ ? args.inputs[4] : nullptr, args.outputs[0], deform_, s);
    else if (op_ == "Col2Im") launchCol2Im(type_, args.inputs[0], args.outputs[0], col2im_, s);
    else if (op_ == "Resize")
      launchResizeGeneral(type_, args.inputs[0], has_roi_ ? args.inputs[1] : nullptr, args.outputs[0], resize_, s);
    else
      launchRoiAlign(type_, args.inputs[0], args.inputs[1], args.inputs[2], indices_int32_, args.outputs[0], roi_align_,
                     s);
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_, op_;
  DataType type_ = DataType::kFLOAT;
  bool indices_int32_ = false, has_roi_ = false, has_bias_ = false, has_mask_ = false;
  Col2ImGeometry col2im_;
  RoiAlignParams roi_align_;
  ResizeGeneralParams resize_;
  DeformConvParams deform_;
};

bool supported(const backend::LayerView& l) {
  Col2ImGeometry g;
  RoiAlignParams p;
  ResizeGeneralParams r;
  DeformConvParams dc;
  return plan(l, g, p, r, dc).empty();
}

class SpatialProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.spatial"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "Col2Im" || op == "RoiAlign" || op == "Resize" || op == "DeformConv";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!supported(*l)) return {};
    std::string name = opt.node->op;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return {backend::TacticConfig{.name = name}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device&) const override {
    if (!supported(layer))
      throw Error(ErrorCode::kUnsupported,
                  layerName(layer) + ": cuda.spatial does not support this layer's types or inputs");
    return std::make_unique<SpatialKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(SpatialProvider);

}  // namespace
}  // namespace kiln::cuda
