// "cuda.movement": kiln's CUDA kernels for the data-movement ops, as tactics. The host side
// lives here: which layers are supported, and per-shape plans (index maps, pads, scales)
// computed in Kernel::reshape from the layer's shapes and its host-known inputs (Slice's
// starts, Pad's pads, Resize's scales: constants or LayerView::host_values). run() only
// launches: it never reads device memory on the host.
//
// Reshape-like ops are one device-to-device copy; Transpose, Slice, Expand, Tile,
// DepthToSpace and SpaceToDepth are one strided copy (an index map); Concat and Split are
// batched row copies.
#include <algorithm>
#include <numeric>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/movement.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/movement_math.h"

namespace kiln::cuda {
namespace {

bool isOneOf(std::string_view op, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), op) != names.end();
}

bool isReshapeLike(std::string_view op) { return isOneOf(op, {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}); }
bool isStrided(std::string_view op) {
  return isOneOf(op, {"Transpose", "Slice", "Expand", "Tile", "DepthToSpace", "SpaceToDepth"});
}

bool copyableElement(DataType type) {
  size_t es = elementSize(type);
  return es == 1 || es == 2 || es == 4 || es == 8;
}

int64_t product(const ir::Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

int64_t normalizedAxis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

//! Values of a host-known int input (throws naming the layer when it is not known).
std::vector<int64_t> hostInts(const backend::LayerView& layer, int i, const char* what) {
  const ir::Tensor* t = hostValue(layer, i);
  if (!t)
    throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.movement needs " + what +
                                             " known on the host (a constant or a shape computation)");
  return t->toInt64();
}

// ---- kernels ---------------------------------------------------------------------------------

class DeviceCopyKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<DeviceCopyKernel>(*this); }
  explicit DeviceCopyKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    bytes_ = static_cast<size_t>(volume(layer.inputs[0].shape)) * elementSize(layer.inputs[0].type);
  }
  void run(const backend::RunArgs& args) override {
    if (bytes_ && args.outputs[0] != args.inputs[0])
      KILN_CUDA_CHECK(cudaMemcpyAsync(args.outputs[0], args.inputs[0], bytes_, cudaMemcpyDeviceToDevice, streamOf(args)),
                      name_);
  }

 private:
  std::string name_;
  size_t bytes_ = 0;
};

//! The index map (in elements) of a strided-copy op at the layer's shapes.
HostIndexMap stridedMap(const backend::LayerView& layer) {
  const std::string& op = layer.node->op;
  const ir::Shape& in = layer.inputs[0].shape;
  const ir::Shape& out = layer.outputs[0].shape;
  const std::vector<int64_t> s = ir::contiguousStrides(in);
  HostIndexMap m;
  m.base = {0};
  if (op == "Transpose") {
    std::vector<int64_t> perm(in.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
    perm = layer.attrs().ints("perm", perm);
    m.dims = out;
    m.strides = {{}};
    for (int64_t p : perm) m.strides[0].push_back(s[normalizedAxis(p, in.size())]);
  } else if (op == "Slice") {
    std::vector<int64_t> starts = hostInts(layer, 1, "starts"), ends = hostInts(layer, 2, "ends");
    std::vector<int64_t> axes(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
    if (hasInput(layer, 3)) axes = hostInts(layer, 3, "axes");
    std::vector<int64_t> steps = hasInput(layer, 4) ? hostInts(layer, 4, "steps") : std::vector<int64_t>(starts.size(), 1);
    m.dims = out;
    m.strides = {s};
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t a = normalizedAxis(axes[i], in.size());
      ir::SliceRange r = ir::sliceRange(in[a], starts[i], ends[i], steps[i]);
      m.base[0] += r.start * s[a];
      m.strides[0][a] = r.step * s[a];
    }
  } else if (op == "Expand") {
    m.dims = out;
    m.strides = {broadcastStrides(in, out)};
  } else if (op == "Tile") {
    // Output dim d = repeats x in[d]: split it into (repeat: stride 0, position: stride s[d]).
    m.strides = {{}};
    for (size_t d = 0; d < in.size(); ++d) {
      int64_t reps = in[d] == 0 ? 0 : out[d] / in[d];
      m.dims.push_back(reps);
      m.strides[0].push_back(0);
      m.dims.push_back(in[d]);
      m.strides[0].push_back(s[d]);
    }
  } else if (op == "DepthToSpace") {
    int64_t b = layer.attrs().i("blocksize");
    bool crd = layer.attrs().s("mode", "DCR") == "CRD";
    int64_t c_out = out[1];
    // Output viewed as [N, C', H, b, W, b]; input channel DCR: (i * b + j) * C' + c, CRD: c * b * b + i * b + j.
    m.dims = {out[0], c_out, in[2], b, in[3], b};
    int64_t sc = crd ? b * b * s[1] : s[1], si = crd ? b * s[1] : b * c_out * s[1], sj = crd ? s[1] : c_out * s[1];
    m.strides = {{s[0], sc, s[2], si, s[3], sj}};
  } else if (op == "SpaceToDepth") {
    int64_t b = layer.attrs().i("blocksize");
    // Output viewed as [N, b (i), b (j), C, H / b, W / b]: output channel (i * b + j) * C + c.
    m.dims = {in[0], b, b, in[1], out[2], out[3]};
    m.strides = {{s[0], s[2], s[3], s[1], b * s[2], b * s[3]}};
  } else {
    throw Error(ErrorCode::kInternal, layerName(layer) + ": not a strided-copy op");
  }
  return m;
}

class StridedCopyKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<StridedCopyKernel>(*this); }
  StridedCopyKernel(const backend::LayerView& layer, bool tiled) : name_(layerName(layer)), tiled_(tiled) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    plan_ = planStridedCopy(stridedMap(layer), elementSize(layer.inputs[0].type));
  }
  void run(const backend::RunArgs& args) override {
    launchStridedCopy(plan_, tiled_, args.inputs[0], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  bool tiled_;
  StridedCopyPlan plan_;
};

//! Concat (inputs -> one output) and Split (one input -> outputs): rows of bytes.
class RowCopyKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<RowCopyKernel>(*this); }
  explicit RowCopyKernel(const backend::LayerView& layer) : name_(layerName(layer)), concat_(layer.node->op == "Concat") {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& whole = concat_ ? layer.outputs[0].shape : layer.inputs[0].shape;
    size_t axis = static_cast<size_t>(normalizedAxis(layer.attrs().i("axis", 0), whole.size()));
    int64_t es = static_cast<int64_t>(elementSize(concat_ ? layer.outputs[0].type : layer.inputs[0].type));
    rows_ = product(whole, 0, axis);
    int64_t whole_row = product(whole, axis, whole.size()) * es;
    pieces_.clear();
    offsets_.clear();
    int64_t offset = 0;
    const auto& parts = concat_ ? layer.inputs : layer.outputs;
    for (const backend::TensorDesc& part : parts) {
      int64_t row = part.present ? product(part.shape, axis, part.shape.size()) * es : 0;
      RowCopy c;
      c.row_bytes = row;
      c.src_pitch = concat_ ? row : whole_row;
      c.dst_pitch = concat_ ? whole_row : row;
      pieces_.push_back(c);
      offsets_.push_back(offset);
      offset += row;
    }
    launch_ = pieces_;
  }
  void run(const backend::RunArgs& args) override {
    // Only addresses change from run to run: fill them into the plan (no allocation).
    for (size_t i = 0; i < pieces_.size(); ++i) {
      RowCopy& c = launch_[i];
      c = pieces_[i];
      if (concat_) {
        c.src = args.inputs[i];
        c.dst = static_cast<std::byte*>(args.outputs[0]) + offsets_[i];
      } else {
        c.src = static_cast<const std::byte*>(args.inputs[0]) + offsets_[i];
        c.dst = i < args.outputs.size() ? args.outputs[i] : nullptr;
        if (!c.dst) c.row_bytes = 0;  // an output nobody wants
      }
    }
    launchRowCopies(launch_.data(), static_cast<int>(launch_.size()), rows_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  bool concat_;
  int64_t rows_ = 0;
  std::vector<RowCopy> pieces_;  //!< sizes and pitches; addresses are filled into launch_ per run
  std::vector<RowCopy> launch_;
  std::vector<int64_t> offsets_;
};

class GatherKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<GatherKernel>(*this); }
  explicit GatherKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& data = layer.inputs[0].shape;
    size_t axis = static_cast<size_t>(normalizedAxis(layer.attrs().i("axis", 0), data.size()));
    outer_ = product(data, 0, axis);
    axis_dim_ = data[axis];
    inner_bytes_ = product(data, axis + 1, data.size()) * static_cast<int64_t>(elementSize(layer.inputs[0].type));
    num_indices_ = volume(layer.inputs[1].shape);
    int64_ = layer.inputs[1].type == DataType::kINT64;
  }
  void run(const backend::RunArgs& args) override {
    launchGather(args.inputs[0], args.inputs[1], int64_, args.outputs[0], outer_, axis_dim_, num_indices_, inner_bytes_,
                 streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  int64_t outer_ = 0, axis_dim_ = 0, num_indices_ = 0, inner_bytes_ = 0;
  bool int64_ = true;
};

PadMode padMode(const std::string& name) {
  return name == "edge" ? PadMode::kEdge : name == "reflect" ? PadMode::kReflect : name == "wrap" ? PadMode::kWrap : PadMode::kConstant;
}

class PadKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<PadKernel>(*this); }
  explicit PadKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    const ir::Shape& in = layer.inputs[0].shape;
    const ir::Shape& out = layer.outputs[0].shape;
    size_t rank = in.size();
    std::vector<int64_t> axes(rank);
    std::iota(axes.begin(), axes.end(), 0);
    if (hasInput(layer, 3)) {
      axes = hostInts(layer, 3, "axes");
      for (int64_t& a : axes) a = normalizedAxis(a, rank);
    }
    std::vector<int64_t> pads = hostInts(layer, 1, "pads");
    plan_ = PadPlan{};
    plan_.rank = static_cast<int>(rank);
    plan_.n = volume(out);
    plan_.element_size = elementSize(layer.inputs[0].type);
    plan_.mode = padMode(layer.attrs().s("mode", "constant"));
    std::vector<int64_t> strides = ir::contiguousStrides(in);
    for (size_t d = 0; d < rank; ++d) {
      plan_.out_dims[d] = out[d];
      plan_.in_dims[d] = in[d];
      plan_.in_strides[d] = strides[d];
    }
    for (size_t i = 0; i < axes.size() && i < pads.size(); ++i) plan_.before[axes[i]] = pads[i];
    has_value_ = hasInput(layer, 2) && volume(layer.inputs[2].shape) > 0;
  }
  void run(const backend::RunArgs& args) override {
    const void* value = has_value_ && args.inputs.size() > 2 ? args.inputs[2] : nullptr;
    launchPad(plan_, args.inputs[0], value, args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  PadPlan plan_;
  bool has_value_ = false;
};

bool parseTransform(const std::string& name, ResizeTransform& t) {
  if (name == "half_pixel") t = ResizeTransform::kHalfPixel;
  else if (name == "asymmetric") t = ResizeTransform::kAsymmetric;
  else if (name == "align_corners") t = ResizeTransform::kAlignCorners;
  else if (name == "pytorch_half_pixel") t = ResizeTransform::kPytorchHalfPixel;
  else if (name == "tf_half_pixel_for_nn") t = ResizeTransform::kTfHalfPixelForNn;
  else if (name == "half_pixel_symmetric") t = ResizeTransform::kHalfPixelSymmetric;
  else return false;
  return true;
}

bool parseNearest(const std::string& name, NearestMode& m) {
  if (name == "round_prefer_floor") m = NearestMode::kRoundPreferFloor;
  else if (name == "round_prefer_ceil") m = NearestMode::kRoundPreferCeil;
  else if (name == "floor") m = NearestMode::kFloor;
  else if (name == "ceil") m = NearestMode::kCeil;
  else return false;
  return true;
}

//! The Resize plan at the layer's shapes, or an empty string on success / a reason why the
//! kernel does not apply.
std::string planResize(const backend::LayerView& layer, ResizePlan& plan) {
  const ir::Attributes& a = layer.attrs();
  const ir::Shape& in = layer.inputs[0].shape;
  const ir::Shape& out = layer.outputs[0].shape;
  if (in.size() != 4 || out.size() != 4) return "only 4-D NCHW";
  std::string mode = a.s("mode", "nearest");
  if (mode != "nearest" && mode != "linear") return "mode " + mode;
  plan.linear = mode == "linear";
  if (!parseTransform(a.s("coordinate_transformation_mode", "half_pixel"), plan.transform)) return "coordinate transform";
  if (!parseNearest(a.s("nearest_mode", "round_prefer_floor"), plan.nearest)) return "nearest_mode";
  if (plan.linear && plan.transform == ResizeTransform::kTfHalfPixelForNn) return "tf_half_pixel_for_nn with linear";
  if (plan.linear && a.i("antialias", 0) != 0) return "antialias";
  plan.exclude_outside = a.i("exclude_outside", 0) != 0;
  std::vector<int64_t> axes = {0, 1, 2, 3};
  if (a.has("axes")) {
    axes = a.ints("axes");
    for (int64_t& x : axes) x = normalizedAxis(x, 4);
  }
  ir::ResizeAxes r;
  std::string err = resizeAxesOnHost(layer, axes, r);
  if (!err.empty()) return err;
  if (r.scales[0] != 1.0 || r.scales[1] != 1.0 || out[0] != in[0] || out[1] != in[1]) return "resizes N or C";
  if (r.sizes[2] != out[2] || r.sizes[3] != out[3]) return "output shape differs from the scales";
  plan.type = layer.inputs[0].type;
  plan.element_size = elementSize(plan.type);
  plan.planes = in[0] * in[1];
  plan.in_h = in[2];
  plan.in_w = in[3];
  plan.out_h = out[2];
  plan.out_w = out[3];
  plan.scale_h = r.scales[2];
  plan.scale_w = r.scales[3];
  return "";
}

class ResizeKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ResizeKernel>(*this); }
  explicit ResizeKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }
  void reshape(const backend::LayerView& layer) override {
    std::string why = planResize(layer, plan_);
    if (!why.empty()) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.movement Resize does not support " + why);
  }
  void run(const backend::RunArgs& args) override {
    launchResize(plan_, args.inputs[0], args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  ResizePlan plan_;
};

// ---- the provider ----------------------------------------------------------------------------

bool hostKnown(const backend::LayerView& layer, std::initializer_list<int> inputs) {
  for (int i : inputs)
    if (hasInput(layer, i) && !hostValue(layer, i)) return false;
  return true;
}

class MovementProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.movement"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }

  bool supportsOp(std::string_view op) const override {
    return isReshapeLike(op) || isStrided(op) || isOneOf(op, {"Concat", "Split", "Gather", "Pad", "Resize"});
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    const backend::LayerView& l = opt;
    const std::string& op = l.node->op;
    if (l.inputs.empty() || l.outputs.empty() || !l.inputs[0].present) return {};
    DataType type = l.inputs[0].type;
    if (!copyableElement(type)) return {};
    if (isReshapeLike(op)) return {{.name = "copy"}};
    // Index maps hold at most kMaxRank dims; Tile doubles the rank, the block ops use 6.
    size_t max_rank = op == "Tile" ? kMaxRank / 2 : op == "Pad" ? kMaxPadRank : kMaxRank;
    if (!ranksAtMost(min, max_rank) || !ranksAtMost(opt, max_rank) || !ranksAtMost(max, max_rank)) return {};
    if (op == "Transpose") return {{.name = "transpose.tiled", .params = {std::byte{1}}}, {.name = "strided"}};
    if (op == "Slice") return hostKnown(l, {1, 2, 3, 4}) ? std::vector<backend::TacticConfig>{{.name = "strided"}} : std::vector<backend::TacticConfig>{};
    if (op == "DepthToSpace" || op == "SpaceToDepth")
      return l.inputs[0].shape.size() == 4 ? std::vector<backend::TacticConfig>{{.name = "strided"}} : std::vector<backend::TacticConfig>{};
    if (isStrided(op)) return {{.name = "strided"}};
    if (op == "Concat" || op == "Split") return {{.name = "rows"}};
    if (op == "Gather") {
      DataType idx = l.inputs.size() > 1 ? l.inputs[1].type : DataType::kFLOAT;
      if (idx != DataType::kINT32 && idx != DataType::kINT64) return {};
      return {{.name = "gather"}};
    }
    if (op == "Pad") {
      std::string mode = l.attrs().s("mode", "constant");
      if (!isOneOf(mode, {"constant", "edge", "reflect", "wrap"}) || !hostKnown(l, {1, 3})) return {};
      if (hasInput(l, 2) && l.inputs[2].type != type) return {};
      return {{.name = "pad"}};
    }
    if (op == "Resize") {
      ResizePlan plan;
      for (const backend::LayerView* v : {&min, &opt, &max})
        if (!planResize(*v, plan).empty()) return {};
      if (plan.linear && type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16) return {};
      return {{.name = plan.linear ? "resize.linear" : "resize.nearest"}};
    }
    return {};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    const std::string& op = layer.node->op;
    if (isReshapeLike(op)) return std::make_unique<DeviceCopyKernel>(layer);
    if (isStrided(op)) {
      bool tiled = !config.params.empty() && config.params[0] == std::byte{1};
      return std::make_unique<StridedCopyKernel>(layer, tiled);
    }
    if (op == "Concat" || op == "Split") return std::make_unique<RowCopyKernel>(layer);
    if (op == "Gather") return std::make_unique<GatherKernel>(layer);
    if (op == "Pad") return std::make_unique<PadKernel>(layer);
    if (op == "Resize") return std::make_unique<ResizeKernel>(layer);
    throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.movement has no kernel for " + op);
  }
};

KILN_TACTIC_PROVIDER(MovementProvider);

}  // namespace
}  // namespace kiln::cuda
