// "cuda.elementwise": kiln's CUDA kernels for the elementwise family, as tactics. The host
// side (which layers, which types, per-shape plans) lives here; the kernels and their
// launchers in kernels/elementwise*.cu.
//
// Every type the reference covers is taken (double and every integer width too), but only
// float / half / bf16 / int32 / int64 / bool have vectorized kernels: those layers get two
// candidates, so the autotuner has a choice: "vec" (16 bytes per access when the pointers are
// aligned, checked at each run) and "plain" (one element per access); the others get "plain"
// alone. Every candidate handles every shape, so it is valid over a whole profile. Binary ops
// take two inputs (Min / Max of another count are left to "cuda.extra"); SwiGLU is one of
// them. Identity, BitCast and Dropout without random dropout are copies. run() only launches.
#include <map>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/layer_view.h"

namespace kiln::cuda {
namespace {

// ---- the provider ----------------------------------------------------------------------------

// clang-format off
const std::map<std::string, UnaryOp, std::less<>>& unaryOps() {
  static const std::map<std::string, UnaryOp, std::less<>> ops = {
      {"Relu", UnaryOp::kRelu},       {"Sigmoid", UnaryOp::kSigmoid},     {"Tanh", UnaryOp::kTanh},
      {"Exp", UnaryOp::kExp},         {"Log", UnaryOp::kLog},             {"Sqrt", UnaryOp::kSqrt},
      {"Abs", UnaryOp::kAbs},         {"Neg", UnaryOp::kNeg},             {"Reciprocal", UnaryOp::kReciprocal},
      {"Erf", UnaryOp::kErf},         {"Gelu", UnaryOp::kGeluErf},        {"LeakyRelu", UnaryOp::kLeakyRelu},
      {"Elu", UnaryOp::kElu},         {"Selu", UnaryOp::kSelu},           {"HardSigmoid", UnaryOp::kHardSigmoid},
      {"HardSwish", UnaryOp::kHardSwish}, {"Softplus", UnaryOp::kSoftplus}, {"Clip", UnaryOp::kClip},
      {"Floor", UnaryOp::kFloor},     {"Ceil", UnaryOp::kCeil},           {"Sin", UnaryOp::kSin},
      {"Cos", UnaryOp::kCos},         {"Not", UnaryOp::kNot},             {"Cast", UnaryOp::kCast},
      {"CastLike", UnaryOp::kCast},   {"BitwiseNot", UnaryOp::kBitwiseNot}, {"Shrink", UnaryOp::kShrink},
      {"Swish", UnaryOp::kSwish},     {"Mish", UnaryOp::kMish},
  };
  return ops;
}

//! BitShift maps to kShiftLeft and Mod to kMod here; binaryOpOf picks the variant.
const std::map<std::string, BinaryOp, std::less<>>& binaryOps() {
  static const std::map<std::string, BinaryOp, std::less<>> ops = {
      {"Add", BinaryOp::kAdd},     {"Sub", BinaryOp::kSub},         {"Mul", BinaryOp::kMul},
      {"Div", BinaryOp::kDiv},     {"Pow", BinaryOp::kPow},         {"Min", BinaryOp::kMin},
      {"Max", BinaryOp::kMax},     {"PRelu", BinaryOp::kPRelu},     {"Equal", BinaryOp::kEqual},
      {"Less", BinaryOp::kLess},   {"Greater", BinaryOp::kGreater}, {"LessOrEqual", BinaryOp::kLessOrEqual},
      {"GreaterOrEqual", BinaryOp::kGreaterOrEqual}, {"And", BinaryOp::kAnd}, {"Or", BinaryOp::kOr},
      {"Mod", BinaryOp::kMod},     {"BitShift", BinaryOp::kShiftLeft}, {"BitwiseAnd", BinaryOp::kBitAnd},
      {"BitwiseOr", BinaryOp::kBitOr}, {"BitwiseXor", BinaryOp::kBitXor},
  };
  return ops;
}
// clang-format on

//! The kernel's op for a binary layer: Mod's fmod and BitShift's direction pick the variant.
//! False when the attributes name none (BitShift without a valid direction).
bool binaryOpOf(const backend::LayerView& layer, BinaryOp& op) {
  auto it = binaryOps().find(layer.node->op);
  if (it == binaryOps().end()) return false;
  op = it->second;
  const ir::Attributes& a = layer.attrs();
  if (op == BinaryOp::kMod && a.i("fmod", 0) != 0) op = BinaryOp::kFmod;
  if (op == BinaryOp::kShiftLeft) {
    const std::string direction = a.s("direction", "");
    if (direction != "LEFT" && direction != "RIGHT") return false;
    if (direction == "RIGHT") op = BinaryOp::kShiftRight;
  }
  return true;
}

//! Pow whose exponent type differs from the base's, or whose base has no same-type kernel,
//! runs the any-type kernel (launchPow).
bool powAnyType(BinaryOp op, DataType base, DataType exponent) {
  return op == BinaryOp::kPow && (exponent != base || !binaryVectorizes(op, base));
}

//! Identity, BitCast and Dropout (inference, or training with ratio 0): a device-to-device
//! copy; Dropout's mask is all true.
class CopyKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CopyKernel>(*this); }
  explicit CopyKernel(std::string name) : name_(std::move(name)) {}
  void reshape(const backend::LayerView& layer) override {
    bytes_ = static_cast<size_t>(volume(layer.inputs[0].shape)) * elementSize(layer.inputs[0].type);
    mask_bytes_ =
        layer.outputs.size() > 1 && layer.outputs[1].present ? static_cast<size_t>(volume(layer.outputs[1].shape)) : 0;
  }
  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (bytes_ && args.outputs[0] != args.inputs[0])
      KILN_CUDA_CHECK(cudaMemcpyAsync(args.outputs[0], args.inputs[0], bytes_, cudaMemcpyDeviceToDevice, stream),
                      name_);
    if (mask_bytes_ && args.outputs.size() > 1 && args.outputs[1])
      KILN_CUDA_CHECK(cudaMemsetAsync(args.outputs[1], 1, mask_bytes_, stream), name_);  // bool true is byte 1
  }

 private:
  std::string name_;
  size_t bytes_ = 0;
  size_t mask_bytes_ = 0;
};

class UnaryKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<UnaryKernel>(*this); }
  UnaryKernel(const backend::LayerView& layer, UnaryOp op, bool vectorize)
      : name_(layerName(layer)), op_(op), vectorize_(vectorize) {
    const ir::Attributes& a = layer.attrs();
    const std::string& type = layer.node->op;
    if (type == "LeakyRelu") params_.alpha = a.f("alpha", 0.01f);
    if (type == "Elu") params_.alpha = a.f("alpha", 1.0f);
    if (type == "Selu") {
      params_.alpha = a.f("alpha", 1.67326319217681884765625f);
      params_.gamma = a.f("gamma", 1.05070102214813232421875f);
    }
    if (type == "HardSigmoid") {
      params_.alpha = a.f("alpha", 0.2f);
      params_.beta = a.f("beta", 0.5f);
    }
    if (type == "Swish") params_.alpha = a.f("alpha", 1.0f);
    if (type == "Shrink") {
      params_.alpha = a.f("lambd", 0.5f);
      params_.beta = a.f("bias", 0.0f);
    }
    if (type == "Gelu" && a.s("approximate", "none") == "tanh") op_ = UnaryOp::kGeluTanh;
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    in_type_ = layer.inputs[0].type;
    out_type_ = layer.outputs[0].type;
    n_ = volume(layer.outputs[0].shape);
    if (op_ == UnaryOp::kClip) {
      const ir::Tensor* lo = hasInput(layer, 1) ? hostValue(layer, 1) : nullptr;
      const ir::Tensor* hi = hasInput(layer, 2) ? hostValue(layer, 2) : nullptr;
      params_.has_lo = lo && lo->numel() > 0;
      params_.has_hi = hi && hi->numel() > 0;
      if (params_.has_lo) params_.lo = lo->at(0);
      if (params_.has_hi) params_.hi = hi->at(0);
      clip_device_lo_ = hasInput(layer, 1) && !params_.has_lo;
      clip_device_hi_ = hasInput(layer, 2) && !params_.has_hi;
    }
  }

  void run(const backend::RunArgs& args) override {
    UnaryParams p = params_;
    if (clip_device_lo_) p.lo_ptr = args.inputs[1];
    if (clip_device_hi_) p.hi_ptr = args.inputs[2];
    launchUnary(op_, in_type_, out_type_, p, args.inputs[0], args.outputs[0], n_, vectorize_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  UnaryOp op_;
  bool vectorize_;
  UnaryParams params_;
  DataType in_type_ = DataType::kFLOAT;
  DataType out_type_ = DataType::kFLOAT;
  int64_t n_ = 0;
  bool clip_device_lo_ = false;
  bool clip_device_hi_ = false;
};

class BinaryKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<BinaryKernel>(*this); }
  BinaryKernel(const backend::LayerView& layer, BinaryOp op, bool vectorize)
      : name_(layerName(layer)), op_(op), vectorize_(vectorize) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    type_b_ = layer.inputs[1].type;
    plan_ = planBroadcast(layer.outputs[0].shape, {layer.inputs[0].shape, layer.inputs[1].shape});
  }
  void run(const backend::RunArgs& args) override {
    if (powAnyType(op_, type_, type_b_)) {
      launchPow(type_, type_b_, plan_, args.inputs[0], args.inputs[1], args.outputs[0], streamOf(args));
    } else {
      launchBinary(op_, type_, plan_, args.inputs[0], args.inputs[1], args.outputs[0], vectorize_, streamOf(args));
    }
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  BinaryOp op_;
  bool vectorize_;
  DataType type_ = DataType::kFLOAT;
  DataType type_b_ = DataType::kFLOAT;  //!< Pow's exponent may have another type
  BroadcastPlan plan_;
};

//! SwiGLU (opset 28): A * sigmoid(alpha * A) * B with numpy broadcasting.
class SwiGluKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<SwiGluKernel>(*this); }
  explicit SwiGluKernel(const backend::LayerView& layer)
      : name_(layerName(layer)), alpha_(layer.attrs().f("alpha", 1.0f)) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    plan_ = planBroadcast(layer.outputs[0].shape, {layer.inputs[0].shape, layer.inputs[1].shape});
  }
  void run(const backend::RunArgs& args) override {
    launchSwiGlu(type_, plan_, args.inputs[0], args.inputs[1], args.outputs[0], alpha_, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  float alpha_;
  DataType type_ = DataType::kFLOAT;
  BroadcastPlan plan_;
};

class WhereKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<WhereKernel>(*this); }
  WhereKernel(const backend::LayerView& layer, bool vectorize) : name_(layerName(layer)), vectorize_(vectorize) {
    reshape(layer);
  }
  void reshape(const backend::LayerView& layer) override {
    element_size_ = elementSize(layer.inputs[1].type);
    plan_ =
        planBroadcast(layer.outputs[0].shape, {layer.inputs[0].shape, layer.inputs[1].shape, layer.inputs[2].shape});
  }
  void run(const backend::RunArgs& args) override {
    launchWhere(element_size_, plan_, args.inputs[0], args.inputs[1], args.inputs[2], args.outputs[0], vectorize_,
                streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  bool vectorize_;
  size_t element_size_ = 4;
  BroadcastPlan plan_;
};

bool ranksFit(const backend::LayerView& layer) { return ranksAtMost(layer, kMaxRank); }

//! "vec" and "plain" when the kernel has a vectorized form, else "plain" alone.
std::vector<backend::TacticConfig> vecAndPlain(const std::string& family, bool vectorizes = true) {
  backend::TacticConfig plain{.name = family + ".plain", .params = {std::byte{0}}};
  if (!vectorizes) return {plain};
  return {backend::TacticConfig{.name = family + ".vec", .params = {std::byte{1}}}, plain};
}

//! Dropout that can run as a copy: training_mode absent or known on the host to be false, or
//! true with a ratio known on the host to be 0. Random dropout (training with a ratio above
//! 0, or values known only at run time) is refused, as the reference refuses it.
bool dropoutIsCopy(const backend::LayerView& layer) {
  if (!hasInput(layer, 2)) return true;
  const ir::Tensor* training = hostValue(layer, 2);
  if (!training || training->numel() != 1) return false;
  if (training->at(0) == 0.0) return true;
  if (!hasInput(layer, 1)) return false;  // the default ratio is 0.5
  const ir::Tensor* ratio = hostValue(layer, 1);
  return ratio && ratio->numel() == 1 && ratio->at(0) == 0.0;
}

//! BitCast: the bits stay, the type changes; the shape rule has checked the widths.
bool bitCastIsCopy(const backend::LayerView& layer) {
  return elementSize(layer.inputs[0].type) == elementSize(layer.outputs[0].type) &&
         layer.inputs[0].shape == layer.outputs[0].shape;
}

class ElementwiseProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.elementwise"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }

  bool supportsOp(std::string_view op) const override {
    return op == "Identity" || op == "Dropout" || op == "BitCast" || op == "Where" || op == "SwiGLU" ||
           unaryOps().count(op) || binaryOps().count(op);
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    const backend::LayerView& l = opt;
    const std::string& op = l.node->op;
    if (l.inputs.empty() || l.outputs.empty() || !l.inputs[0].present || !l.outputs[0].present) return {};
    if (!ranksFit(min) || !ranksFit(opt) || !ranksFit(max)) return {};
    DataType in = l.inputs[0].type, out = l.outputs[0].type;
    if (op == "Identity" || op == "Dropout" || op == "BitCast") {
      if (op == "Dropout" && !dropoutIsCopy(l)) return {};
      if (op == "BitCast" && !bitCastIsCopy(l)) return {};
      return {backend::TacticConfig{.name = "copy"}};
    }
    if (op == "Where") {
      if (l.inputs.size() != 3 || l.inputs[0].type != DataType::kBOOL || l.inputs[1].type != l.inputs[2].type)
        return {};
      size_t es = elementSize(l.inputs[1].type);
      if (es != 1 && es != 2 && es != 4 && es != 8) return {};
      return vecAndPlain("where");
    }
    if (op == "SwiGLU") {
      if (l.inputs.size() != 2 || !hasInput(l, 1) || !isFloatingPoint(in) || l.inputs[1].type != in || out != in)
        return {};
      return vecAndPlain("swiglu", false);
    }
    if (auto u = unaryOps().find(op); u != unaryOps().end()) {
      if (u->second == UnaryOp::kClip) {
        for (int i = 1; i < 3; ++i)
          if (hasInput(l, i) && l.inputs[i].type != in) return {};
      }
      if (!unarySupported(u->second, in, out)) return {};
      return vecAndPlain("unary", unaryVectorizes(u->second, in, out));
    }
    BinaryOp b;
    if (!binaryOpOf(l, b) || l.inputs.size() != 2 || !l.inputs[1].present) return {};
    const DataType in_b = l.inputs[1].type;
    if (out != (isComparison(b) ? DataType::kBOOL : in)) return {};
    if (powAnyType(b, in, in_b))
      return powSupported(in, in_b) ? vecAndPlain("pow", false) : std::vector<backend::TacticConfig>{};
    if (in_b != in || !binarySupported(b, in)) return {};
    return vecAndPlain("binary", binaryVectorizes(b, in));
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    const std::string& op = layer.node->op;
    bool vectorize = !config.params.empty() && config.params[0] == std::byte{1};
    if (op == "Identity" || op == "Dropout" || op == "BitCast") {
      auto k = std::make_unique<CopyKernel>(layerName(layer));
      k->reshape(layer);
      return k;
    }
    if (op == "Where") return std::make_unique<WhereKernel>(layer, vectorize);
    if (op == "SwiGLU") return std::make_unique<SwiGluKernel>(layer);
    if (auto u = unaryOps().find(op); u != unaryOps().end())
      return std::make_unique<UnaryKernel>(layer, u->second, vectorize);
    if (BinaryOp b; binaryOpOf(layer, b)) return std::make_unique<BinaryKernel>(layer, b, vectorize);
    throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.elementwise has no kernel for " + op);
  }
};

KILN_TACTIC_PROVIDER(ElementwiseProvider);

}  // namespace
}  // namespace kiln::cuda
