// "cuda.extra": kiln's CUDA kernels for ops that had only the CPU reference: Mod, Xor,
// BitShift and the variadic Sum / Mean / Min / Max (numpy broadcasting, up to 8 inputs), and
// 2-D NCHW ConvTranspose (direct gather, weights uploaded in instantiate()), and Einsum of
// one to three floating-point operands, double too (one thread per output element); LRN, Hardmax,
// MeanVarianceNormalization and GroupNormalization (statistics in double, a block per slot);
// LpPool (2-D), GlobalLpPool and MaxUnpool (zeroes the output, then scatters).
// Min / Max with exactly two inputs are left to "cuda.elementwise": this provider offers
// them only for another input count. Broadcast strides are built in Kernel::reshape; run()
// only launches.
#include <algorithm>
#include <map>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/kernels/extra.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/einsum.h"
#include "ir/ops/window.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

bool isFloat(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }
bool isInt(DataType t) { return t == DataType::kINT32 || t == DataType::kINT64 || t == DataType::kINT8 || t == DataType::kUINT8; }

bool isElementwiseOp(std::string_view op) {
  return op == "Mod" || op == "Xor" || op == "BitShift" || op == "Sum" || op == "Mean" || op == "Min" || op == "Max";
}

//! Broadcast strides of every input against the output shape.
ExtraBroadcast broadcastMap(const backend::LayerView& layer) {
  const ir::Shape& out = layer.outputs[0].shape;
  ExtraBroadcast m{};
  m.rank = static_cast<int>(out.size());
  m.inputs = static_cast<int>(layer.inputs.size());
  for (size_t d = 0; d < out.size(); ++d) m.dims[d] = out[d];
  for (size_t k = 0; k < layer.inputs.size(); ++k) {
    const ir::Shape& s = layer.inputs[k].shape;
    const size_t lead = out.size() - s.size();
    int64_t stride = 1;
    for (size_t d = out.size(); d-- > 0;) {
      if (d < lead) {
        m.strides[k][d] = 0;
        continue;
      }
      const int64_t dim = s[d - lead];
      m.strides[k][d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  return m;
}

class ElementwiseKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ElementwiseKernel>(*this); }
  explicit ElementwiseKernel(const backend::LayerView& layer) : name_(layerName(layer)) {
    const std::string& op = layer.node->op;
    const ir::Attributes& a = layer.attrs();
    if (op == "Mod") op_ = a.i("fmod", 0) != 0 ? ExtraOp::kFmod : ExtraOp::kMod;
    else if (op == "Xor") op_ = ExtraOp::kXor;
    else if (op == "BitShift") op_ = a.s("direction") == "LEFT" ? ExtraOp::kShiftLeft : ExtraOp::kShiftRight;
    else if (op == "Sum") op_ = ExtraOp::kSum;
    else if (op == "Mean") op_ = ExtraOp::kMean;
    else if (op == "Min") op_ = ExtraOp::kMin;
    else op_ = ExtraOp::kMax;
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    map_ = broadcastMap(layer);
    n_ = volume(layer.outputs[0].shape);
  }

  void run(const backend::RunArgs& args) override {
    launchExtraElementwise(op_, type_, map_, args.inputs.data(), args.outputs[0], n_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  ExtraOp op_ = ExtraOp::kSum;
  DataType type_ = DataType::kFLOAT;
  ExtraBroadcast map_{};
  int64_t n_ = 0;
};

// ---- ConvTranspose (2-D NCHW, direct gather) ------------------------------------------------

//! The geometry of a 2-D ConvTranspose layer as the reference resolves it; false when it is not one.
bool convTransposeGeometry(const backend::LayerView& l, ConvTransposeGeometry& g) {
  if (l.inputs.size() < 2 || !hasInput(l, 0) || !hasInput(l, 1) || l.outputs.empty() || !l.outputs[0].present) return false;
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& w = l.inputs[1].shape;
  const ir::Shape& y = l.outputs[0].shape;
  if (x.size() != 4 || w.size() != 4 || y.size() != 4) return false;
  const DataType t = l.inputs[0].type;
  if (!isFloat(t) || l.inputs[1].type != t || l.outputs[0].type != t) return false;
  const bool bias = hasInput(l, 2);
  if (bias && (l.inputs[2].type != t || volume(l.inputs[2].shape) != y[1])) return false;
  const int64_t group = l.attrs().i("group", 1);
  if (group < 1 || x[1] % group != 0 || w[0] != x[1]) return false;
  ir::TransposedWindow tw;
  try {
    tw = ir::resolveTransposedWindow(l.attrs(), ir::Shape{x[2], x[3]}, {w[2], w[3]});
  } catch (const Error&) {
    return false;
  }
  const ir::Window& win = tw.window;
  if (win.out.size() != 2 || win.out[0] != y[2] || win.out[1] != y[3]) return false;
  if (y[0] != x[0] || y[1] != w[1] * group) return false;
  g.batch = x[0], g.channels = x[1], g.in_h = x[2], g.in_w = x[3];
  g.out_channels = y[1], g.out_h = y[2], g.out_w = y[3];
  g.kernel_h = w[2], g.kernel_w = w[3];
  g.stride_h = win.strides[0], g.stride_w = win.strides[1];
  g.pad_h = win.pads_begin[0], g.pad_w = win.pads_begin[1];
  g.dil_h = win.dilations[0], g.dil_w = win.dilations[1];
  g.group = group;
  return g.stride_h > 0 && g.stride_w > 0 && g.dil_h > 0 && g.dil_w > 0;
}

class ConvTransposeKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ConvTransposeKernel>(*this); }
  ConvTransposeKernel(const backend::LayerView& layer, backend::Device& device) : name_(layerName(layer)), device_(device) {
    type_ = layer.inputs[0].type;
    has_bias_ = hasInput(layer, 2);
    constants_.upload(device_, layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    if (!convTransposeGeometry(layer, geometry_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.extra cannot take this ConvTranspose at these shapes");
  }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    launchConvTranspose(type_, geometry_, args.inputs[0], constants_.input(args, 1),
                        has_bias_ ? constants_.input(args, 2) : nullptr, args.outputs[0], streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  backend::Device& device_;
  library::LayerConstants constants_;
  DataType type_ = DataType::kFLOAT;
  bool has_bias_ = false;
  ConvTransposeGeometry geometry_{};
};

// ---- Einsum (general loops, one thread per output element) ---------------------------------

//! The loops of an Einsum layer as the reference builds them; false when it cannot run here.
bool einsumLoops(const backend::LayerView& l, EinsumLoops& loops) {
  const int num_inputs = static_cast<int>(l.inputs.size());
  if (num_inputs < 1 || num_inputs > kEinsumMaxInputs || l.outputs.empty() || !l.outputs[0].present) return false;
  const DataType t = l.inputs[0].type;
  if ((!isFloat(t) && t != DataType::kDOUBLE) || l.outputs[0].type != t) return false;
  std::vector<int64_t> ranks;
  std::vector<ir::Shape> shapes;
  for (const auto& in : l.inputs) {
    if (!in.present || in.type != t) return false;
    shapes.push_back(in.shape);
    ranks.push_back(static_cast<int64_t>(in.shape.size()));
  }
  if (!l.attrs().has("equation")) return false;
  ir::EinsumEquation eq;
  std::vector<int64_t> dims;
  try {
    eq = ir::parseEinsum(l.attrs().s("equation"), ranks, layerName(l));
    dims = ir::einsumLabelDims(eq, shapes, layerName(l));
  } catch (const Error&) {
    return false;
  }
  std::vector<int> loop = eq.output;
  std::vector<bool> used(eq.num_labels, false);
  for (int x : eq.output) used[x] = true;
  for (const auto& term : eq.inputs)
    for (int x : term)
      if (!used[x]) {
        used[x] = true;
        loop.push_back(x);
      }
  if (loop.size() > static_cast<size_t>(kEinsumMaxLabels)) return false;
  loops = EinsumLoops{};
  loops.inputs = num_inputs;
  loops.out_labels = static_cast<int>(eq.output.size());
  loops.labels = static_cast<int>(loop.size());
  for (size_t x = 0; x < loop.size(); ++x) {
    loops.extent[x] = dims[loop[x]];
    if (loops.extent[x] < 0) return false;
  }
  for (int i = 0; i < num_inputs; ++i) {
    const ir::Shape& s = shapes[i];
    std::vector<int64_t> cs(s.size(), 1);
    for (size_t d = s.size(); d-- > 1;) cs[d - 1] = cs[d] * s[d];
    for (size_t d = 0; d < eq.inputs[i].size(); ++d) {
      if (s[d] == 1) continue;
      const size_t x = std::find(loop.begin(), loop.end(), eq.inputs[i][d]) - loop.begin();
      loops.strides[i][x] += cs[d];
    }
  }
  return volume(l.outputs[0].shape) == [&] {
    int64_t n = 1;
    for (int x = 0; x < loops.out_labels; ++x) n *= loops.extent[x];
    return n;
  }();
}

class EinsumKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<EinsumKernel>(*this); }
  explicit EinsumKernel(const backend::LayerView& layer) : name_(layerName(layer)) { reshape(layer); }

  void reshape(const backend::LayerView& layer) override {
    if (!einsumLoops(layer, loops_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.extra cannot take this Einsum at these shapes");
    type_ = layer.inputs[0].type;
    n_ = volume(layer.outputs[0].shape);
  }

  void run(const backend::RunArgs& args) override {
    launchEinsum(type_, loops_, args.inputs.data(), args.outputs[0], n_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  DataType type_ = DataType::kFLOAT;
  EinsumLoops loops_{};
  int64_t n_ = 0;
};

// ---- LRN, Hardmax, MeanVarianceNormalization, GroupNormalization ----------------------------

bool isNormOp(std::string_view op) {
  return op == "LRN" || op == "Hardmax" || op == "MeanVarianceNormalization" || op == "GroupNormalization";
}

//! [batch, channels, pixels] of an (N, C, ...) shape.
struct Planes {
  int64_t batch = 0, channels = 0, pixels = 0;
};
Planes planesOf(const ir::Shape& s) {
  Planes p{s[0], s[1], 1};
  for (size_t d = 2; d < s.size(); ++d) p.pixels *= s[d];
  return p;
}

//! Hardmax's [outer, length, inner] as the reference sees it (opset < 13 flattens at the axis).
bool hardmaxView(const backend::LayerView& l, int64_t& outer, int64_t& length, int64_t& inner) {
  const ir::Shape& s = l.inputs[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  const bool legacy = l.opset < 13;
  int64_t axis = l.attrs().i("axis", legacy ? 1 : -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1)) return false;
  outer = length = inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) outer *= s[d];
    else if (d == axis || legacy) length *= s[d];
    else inner *= s[d];
  }
  return true;
}

//! MeanVarianceNormalization's slots: the dims not in `axes` are kept.
bool mvnSlots(const backend::LayerView& l, SlotMap& m) {
  const ir::Shape& s = l.inputs[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  if (rank > kExtraMaxRank) return false;
  std::vector<bool> reduced(rank, false);
  for (int64_t a : l.attrs().ints("axes", {0, 2, 3})) {
    const int64_t d = a < 0 ? a + rank : a;
    if (d < 0 || d >= rank) return false;
    reduced[d] = true;
  }
  m = SlotMap{};
  m.slots = m.count = 1;
  int64_t stride = 1;
  std::vector<int64_t> strides(rank);
  for (int64_t d = rank; d-- > 0;) {
    strides[d] = stride;
    stride *= s[d];
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      m.reduced_dims[m.reduced_rank] = s[d];
      m.reduced_strides[m.reduced_rank++] = strides[d];
      m.count *= s[d];
    } else {
      m.kept_dims[m.kept_rank] = s[d];
      m.kept_strides[m.kept_rank++] = strides[d];
      m.slots *= s[d];
    }
  }
  return true;
}

bool normSupported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (!hasInput(l, 0) || l.outputs.empty() || !l.outputs[0].present) return false;
  const DataType t = l.inputs[0].type;
  if (!isFloat(t) || l.outputs[0].type != t || l.outputs[0].shape != l.inputs[0].shape) return false;
  const ir::Shape& s = l.inputs[0].shape;
  if (op == "LRN") return s.size() >= 2 && l.attrs().has("size") && l.attrs().i("size") >= 1;
  if (op == "Hardmax") {
    int64_t o, n, i;
    return hardmaxView(l, o, n, i);
  }
  if (op == "MeanVarianceNormalization") {
    SlotMap m;
    return mvnSlots(l, m);
  }
  if (op == "GroupNormalization") {
    if (s.size() < 2 || !l.attrs().has("num_groups") || !hasInput(l, 1) || !hasInput(l, 2)) return false;
    if (l.outputs.size() > 1) return false;
    const int64_t groups = l.attrs().i("num_groups");
    if (groups < 1 || s[1] % groups != 0) return false;
    const int64_t ns = volume(l.inputs[1].shape), nb = volume(l.inputs[2].shape);
    if (l.inputs[1].type != t || l.inputs[2].type != t || ns != nb) return false;
    return ns == s[1] || ns == groups;
  }
  return false;
}

class NormKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<NormKernel>(*this); }
  NormKernel(const backend::LayerView& layer, backend::Device& device)
      : name_(layerName(layer)), op_(layer.node->op), device_(device) {
    if (op_ == "GroupNormalization") constants_.upload(device_, layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    if (!normSupported(layer)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.extra cannot take it at these shapes");
    const ir::Attributes& a = layer.attrs();
    type_ = layer.inputs[0].type;
    const ir::Shape& s = layer.inputs[0].shape;
    if (op_ == "LRN" || op_ == "GroupNormalization") planes_ = planesOf(s);
    if (op_ == "LRN") {
      size_ = a.i("size");
      alpha_ = a.f("alpha", 1e-4f);
      beta_ = a.f("beta", 0.75f);
      bias_ = a.f("bias", 1.0f);
    } else if (op_ == "Hardmax") {
      hardmaxView(layer, outer_, length_, inner_);
    } else if (op_ == "MeanVarianceNormalization") {
      mvnSlots(layer, slots_);
    } else {
      groups_ = a.i("num_groups");
      epsilon_ = a.f("epsilon", 1e-5f);
      per_group_ = volume(layer.inputs[1].shape) != s[1];
    }
  }

  bool refit(const backend::LayerView& layer) override {
    if (op_ == "GroupNormalization") constants_.upload(device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (op_ == "LRN") {
      launchLrn(type_, args.inputs[0], args.outputs[0], planes_.batch, planes_.channels, planes_.pixels, size_, alpha_,
                beta_, bias_, stream);
    } else if (op_ == "Hardmax") {
      launchHardmax(type_, args.inputs[0], args.outputs[0], outer_, length_, inner_, stream);
    } else if (op_ == "MeanVarianceNormalization") {
      launchMeanVarianceNormalization(type_, slots_, args.inputs[0], args.outputs[0], stream);
    } else {
      launchGroupNormalization(type_, args.inputs[0], constants_.input(args, 1), constants_.input(args, 2), args.outputs[0],
                               planes_.batch, planes_.channels, planes_.pixels, groups_, per_group_, epsilon_, stream);
    }
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_, op_;
  backend::Device& device_;
  library::LayerConstants constants_;
  DataType type_ = DataType::kFLOAT;
  Planes planes_{};
  int64_t size_ = 1, outer_ = 1, length_ = 1, inner_ = 1, groups_ = 1;
  double alpha_ = 1e-4, beta_ = 0.75, bias_ = 1.0, epsilon_ = 1e-5;
  bool per_group_ = false;
  SlotMap slots_{};
};

// ---- LpPool, GlobalLpPool, MaxUnpool ---------------------------------------------------------

bool isPoolOp(std::string_view op) { return op == "LpPool" || op == "GlobalLpPool" || op == "MaxUnpool"; }

bool lpPoolGeometry(const backend::LayerView& l, LpPoolGeometry& g) {
  const ir::Shape& x = l.inputs[0].shape;
  const ir::Shape& y = l.outputs[0].shape;
  if (x.size() != 4 || y.size() != 4 || !l.attrs().has("kernel_shape")) return false;
  ir::Window win;
  try {
    win = ir::resolveWindow(l.attrs(), ir::Shape{x[2], x[3]}, l.attrs().ints("kernel_shape"), true);
  } catch (const Error&) {
    return false;
  }
  if (win.rank() != 2 || win.out[0] != y[2] || win.out[1] != y[3] || y[0] != x[0] || y[1] != x[1]) return false;
  g.planes = x[0] * x[1], g.in_h = x[2], g.in_w = x[3], g.out_h = y[2], g.out_w = y[3];
  g.kernel_h = win.kernel[0], g.kernel_w = win.kernel[1];
  g.stride_h = win.strides[0], g.stride_w = win.strides[1];
  g.pad_h = win.pads_begin[0], g.pad_w = win.pads_begin[1];
  g.dil_h = win.dilations[0], g.dil_w = win.dilations[1];
  return true;
}

//! MaxUnpool's unpooled shape ((in - 1) * stride + kernel - pads); false when it does not fit the output.
bool unpooledShape(const backend::LayerView& l, std::vector<int64_t>& unpooled) {
  const ir::Shape& xs = l.inputs[0].shape;
  const ir::Shape& ys = l.outputs[0].shape;
  if (xs.size() < 3 || ys.size() != xs.size() || xs.size() > static_cast<size_t>(kExtraMaxRank)) return false;
  if (!l.attrs().has("kernel_shape")) return false;
  const size_t n = xs.size() - 2;
  const std::vector<int64_t> kernel = l.attrs().ints("kernel_shape");
  const std::vector<int64_t> strides = l.attrs().ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = l.attrs().ints("pads", std::vector<int64_t>(2 * n, 0));
  if (kernel.size() != n || strides.size() != n || pads.size() != 2 * n) return false;
  unpooled = {xs[0], xs[1]};
  for (size_t i = 0; i < n; ++i) unpooled.push_back((xs[i + 2] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]);
  for (size_t d = 0; d < ys.size(); ++d)
    if (ys[d] < unpooled[d] || unpooled[d] < 0) return false;
  return true;
}

bool poolSupported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (!hasInput(l, 0) || l.outputs.empty() || !l.outputs[0].present) return false;
  const DataType t = l.inputs[0].type;
  if (!isFloat(t) || l.outputs[0].type != t) return false;
  if (op == "LpPool") {
    LpPoolGeometry g;
    return lpPoolGeometry(l, g);
  }
  if (op == "GlobalLpPool") return l.inputs[0].shape.size() >= 2 && l.outputs[0].shape.size() == l.inputs[0].shape.size();
  if (op == "MaxUnpool") {
    std::vector<int64_t> unpooled;
    return hasInput(l, 1) && l.inputs[1].type == DataType::kINT64 && l.inputs[1].shape == l.inputs[0].shape &&
           unpooledShape(l, unpooled);
  }
  return false;
}

class PoolKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<PoolKernel>(*this); }
  explicit PoolKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) { reshape(layer); }

  void reshape(const backend::LayerView& layer) override {
    if (!poolSupported(layer)) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.extra cannot take it at these shapes");
    type_ = layer.inputs[0].type;
    p_ = static_cast<double>(layer.attrs().i("p", 2));
    const ir::Shape& x = layer.inputs[0].shape;
    if (op_ == "LpPool") {
      lpPoolGeometry(layer, lp_);
    } else if (op_ == "GlobalLpPool") {
      planes_ = x[0] * x[1];
      pixels_ = planes_ > 0 ? volume(x) / planes_ : 0;
    } else {
      std::vector<int64_t> unpooled;
      unpooledShape(layer, unpooled);
      rank_ = static_cast<int>(x.size());
      for (int d = 0; d < rank_; ++d) {
        unpooled_[d] = unpooled[d];
        out_dims_[d] = layer.outputs[0].shape[d];
      }
      n_ = volume(x);
      out_numel_ = volume(layer.outputs[0].shape);
    }
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (op_ == "LpPool") {
      launchLpPool(type_, lp_, p_, args.inputs[0], args.outputs[0], stream);
    } else if (op_ == "GlobalLpPool") {
      launchGlobalLpPool(type_, planes_, pixels_, p_, args.inputs[0], args.outputs[0], stream);
    } else {
      const size_t bytes = static_cast<size_t>(out_numel_) * elementSize(type_);
      if (bytes) KILN_CUDA_CHECK(cudaMemsetAsync(args.outputs[0], 0, bytes, stream), name_);
      launchMaxUnpool(elementSize(type_), args.inputs[0], static_cast<const int64_t*>(args.inputs[1]), args.outputs[0], n_,
                      out_numel_, rank_, unpooled_, out_dims_, stream);
    }
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_, op_;
  DataType type_ = DataType::kFLOAT;
  double p_ = 2.0;
  LpPoolGeometry lp_{};
  int64_t planes_ = 0, pixels_ = 0, n_ = 0, out_numel_ = 0;
  int rank_ = 0;
  int64_t unpooled_[kExtraMaxRank] = {}, out_dims_[kExtraMaxRank] = {};
};

// ---- provider --------------------------------------------------------------------------------

bool elementwiseSupported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.outputs.empty() || !l.outputs[0].present || l.inputs.empty()) return false;
  const int count = static_cast<int>(l.inputs.size());
  if (count > kExtraMaxInputs) return false;
  if (l.outputs[0].shape.size() > static_cast<size_t>(kExtraMaxRank)) return false;
  const DataType t = l.inputs[0].type;
  for (const auto& in : l.inputs) {
    if (!in.present || in.type != t || in.shape.size() > l.outputs[0].shape.size()) return false;
  }
  if (l.outputs[0].type != t) return false;
  if (op == "Mod") return count == 2 && (isFloat(t) || isInt(t));
  if (op == "Xor") return count == 2 && t == DataType::kBOOL;
  if (op == "BitShift") return count == 2 && t == DataType::kUINT8;
  if (op == "Min" || op == "Max") return count != 2 && (isFloat(t) || isInt(t));
  if (op == "Sum" || op == "Mean") return isFloat(t) || isInt(t);
  return false;
}

//! True when the layer can run here at these shapes.
bool supported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (isElementwiseOp(op)) return elementwiseSupported(l);
  ConvTransposeGeometry g;
  if (op == "ConvTranspose") return convTransposeGeometry(l, g);
  EinsumLoops loops;
  if (op == "Einsum") return einsumLoops(l, loops);
  if (isNormOp(op)) return normSupported(l);
  if (isPoolOp(op)) return poolSupported(l);
  return false;
}

std::unique_ptr<backend::Kernel> makeKernel(const backend::LayerView& layer, backend::Device& device) {
  if (layer.node->op == "ConvTranspose") return std::make_unique<ConvTransposeKernel>(layer, device);
  if (layer.node->op == "Einsum") return std::make_unique<EinsumKernel>(layer);
  if (isNormOp(layer.node->op)) return std::make_unique<NormKernel>(layer, device);
  if (isPoolOp(layer.node->op)) return std::make_unique<PoolKernel>(layer);
  return std::make_unique<ElementwiseKernel>(layer);
}

class ExtraProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.extra"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return isElementwiseOp(op) || op == "ConvTranspose" || op == "Einsum" ||
                                                               isNormOp(op) || isPoolOp(op); }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!supported(*l)) return {};
    std::string name = opt.node->op;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    return {backend::TacticConfig{.name = name}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device& device) const override {
    if (!supported(layer))
      throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.extra does not support this layer's types or inputs");
    return makeKernel(layer, device);
  }
};

KILN_TACTIC_PROVIDER(ExtraProvider);

}  // namespace
}  // namespace kiln::cuda
