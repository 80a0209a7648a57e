// "cuda.misc": kiln's CUDA kernels for ops no other GPU provider covers: unary math (Sign,
// Round, Softsign, ThresholdedRelu, Celu, Acos, Acosh, Asin, Asinh, Atan, Atanh, Cosh, Sinh,
// Tan), IsNaN, IsInf, Trilu, CumSum, TopK, OneHot, Range and ConstantOfShape, as tactics.
// Host-known parameters (Trilu's k, CumSum's axis, TopK's K, OneHot's depth, Range's
// scalars, ConstantOfShape's value) are read from LayerView constants / host_values in
// Kernel::reshape; run() only launches.
#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/misc.h"
#include "backends/cuda/layer_view.h"
#include "ir/tensor.h"

namespace kiln::cuda {
namespace {

const std::map<std::string, MiscUnary, std::less<>>& unaryOps() {
  static const std::map<std::string, MiscUnary, std::less<>> ops = {
      {"Sign", MiscUnary::kSign},   {"Round", MiscUnary::kRound}, {"Softsign", MiscUnary::kSoftsign},
      {"ThresholdedRelu", MiscUnary::kThresholdedRelu},           {"Celu", MiscUnary::kCelu},
      {"Acos", MiscUnary::kAcos},   {"Acosh", MiscUnary::kAcosh}, {"Asin", MiscUnary::kAsin},
      {"Asinh", MiscUnary::kAsinh}, {"Atan", MiscUnary::kAtan},   {"Atanh", MiscUnary::kAtanh},
      {"Cosh", MiscUnary::kCosh},   {"Sinh", MiscUnary::kSinh},   {"Tan", MiscUnary::kTan},
      {"IsNaN", MiscUnary::kIsNaN}, {"IsInf", MiscUnary::kIsInf}};
  return ops;
}

bool isFloat(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }
bool isInt(DataType t) { return t == DataType::kINT32 || t == DataType::kINT64 || t == DataType::kINT8 || t == DataType::kUINT8; }

int64_t product(const ir::Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

//! A scalar input known on the host, as int64 (throws naming the layer when it is not).
int64_t hostInt(const backend::LayerView& layer, int i, const char* what) {
  const ir::Tensor* t = hostValue(layer, i);
  if (!t || t->numel() < 1)
    throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.misc needs " + what + " known on the host");
  return t->intAt(0);
}

bool hostKnown(const backend::LayerView& layer, int i) { return !hasInput(layer, i) || hostValue(layer, i) != nullptr; }

//! Outer / extent / inner around `axis` of `shape`.
struct Split3 {
  int64_t outer = 1, extent = 1, inner = 1;
};
Split3 splitAt(const ir::Shape& s, int64_t axis) {
  const size_t a = static_cast<size_t>(axis);
  return {product(s, 0, a), s[a], product(s, a + 1, s.size())};
}

int64_t normalizedAxis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

class MiscKernel final : public backend::Kernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<MiscKernel>(*this); }
  explicit MiscKernel(const backend::LayerView& layer) : name_(layerName(layer)), op_(layer.node->op) { reshape(layer); }

  void reshape(const backend::LayerView& layer) override {
    const ir::Attributes& a = layer.attrs();
    type_ = layer.inputs.empty() || !layer.inputs[0].present ? layer.outputs[0].type : layer.inputs[0].type;
    const ir::Shape& in = layer.inputs.empty() ? layer.outputs[0].shape : layer.inputs[0].shape;
    n_ = volume(layer.outputs[0].shape);
    if (auto it = unaryOps().find(op_); it != unaryOps().end()) {
      unary_ = it->second;
      alpha_ = a.f("alpha", 1.0f);
      neg_ = a.i("detect_negative", 1) != 0;
      pos_ = a.i("detect_positive", 1) != 0;
    } else if (op_ == "Trilu") {
      upper_ = a.i("upper", 1) != 0;
      k_ = hasInput(layer, 1) ? hostInt(layer, 1, "k") : 0;
      cols_ = in.back();
      rows_ = in[in.size() - 2];
      outer_ = product(in, 0, in.size() - 2);
    } else if (op_ == "CumSum") {
      int64_t axis = normalizedAxis(hostInt(layer, 1, "axis"), in.size());
      if (axis < 0 || axis >= static_cast<int64_t>(in.size()))
        throw Error(ErrorCode::kInvalidModel, name_ + ": axis is out of range");
      Split3 s = splitAt(in, axis);
      outer_ = s.outer, extent_ = s.extent, inner_ = s.inner;
      exclusive_ = a.i("exclusive", 0) != 0;
      reverse_ = a.i("reverse", 0) != 0;
    } else if (op_ == "TopK") {
      Split3 s = splitAt(in, normalizedAxis(a.i("axis", -1), in.size()));
      outer_ = s.outer, extent_ = s.extent, inner_ = s.inner;
      k_ = hostInt(layer, 1, "K");
      if (k_ < 0 || k_ > extent_) throw Error(ErrorCode::kInvalidModel, name_ + ": K = " + std::to_string(k_) + " is out of range");
      upper_ = a.i("largest", 1) != 0;
    } else if (op_ == "OneHot") {
      const ir::Shape& out = layer.outputs[0].shape;
      int64_t axis = normalizedAxis(a.i("axis", -1), out.size());
      Split3 s = splitAt(out, axis);
      outer_ = s.outer, extent_ = s.extent, inner_ = s.inner;
      index_type_ = layer.inputs[0].type;
      element_size_ = elementSize(layer.outputs[0].type);
    } else if (op_ == "Range") {
      type_ = layer.outputs[0].type;
      const ir::Tensor* start = hostValue(layer, 0);
      const ir::Tensor* delta = hostValue(layer, 2);
      if (!start || !delta) throw Error(ErrorCode::kUnsupported, name_ + ": cuda.misc needs Range's start and delta on the host");
      if (isFloat(type_)) {
        start_ = start->at(0);
        delta_ = delta->at(0);
      } else {
        start_int_ = start->intAt(0);
        delta_int_ = delta->intAt(0);
      }
    } else if (op_ == "ConstantOfShape") {
      element_size_ = elementSize(layer.outputs[0].type);
      fill_ = 0;
      if (a.has("value")) std::memcpy(&fill_, a.t("value").raw(), std::min<size_t>(element_size_, sizeof(fill_)));
    }
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t s = streamOf(args);
    if (op_ == "Trilu") {
      launchTrilu(elementSize(type_), args.inputs[0], args.outputs[0], outer_, rows_, cols_, k_, upper_, s);
    } else if (op_ == "CumSum") {
      launchCumSum(type_, args.inputs[0], args.outputs[0], outer_, extent_, inner_, exclusive_, reverse_, s);
    } else if (op_ == "TopK") {
      void* values = args.outputs.size() > 0 ? args.outputs[0] : nullptr;
      int64_t* indices = args.outputs.size() > 1 ? static_cast<int64_t*>(args.outputs[1]) : nullptr;
      launchTopK(type_, args.inputs[0], values, indices, outer_, extent_, inner_, k_, upper_, s);
    } else if (op_ == "OneHot") {
      launchOneHot(index_type_, args.inputs[0], args.inputs[2], element_size_, args.outputs[0], outer_, extent_, inner_, s);
    } else if (op_ == "Range") {
      launchRange(type_, args.outputs[0], n_, start_, delta_, start_int_, delta_int_, s);
    } else if (op_ == "ConstantOfShape") {
      launchFill(args.outputs[0], n_, element_size_, fill_, s);
    } else {
      launchMiscUnary(unary_, type_, args.inputs[0], args.outputs[0], n_, alpha_, neg_, pos_, s);
    }
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_, op_;
  DataType type_ = DataType::kFLOAT, index_type_ = DataType::kINT64;
  int64_t n_ = 0, outer_ = 1, extent_ = 1, inner_ = 1, rows_ = 0, cols_ = 0, k_ = 0;
  MiscUnary unary_ = MiscUnary::kSign;
  double alpha_ = 1.0, start_ = 0, delta_ = 0;
  int64_t start_int_ = 0, delta_int_ = 0;
  bool neg_ = true, pos_ = true, upper_ = true, exclusive_ = false, reverse_ = false;
  size_t element_size_ = 0;
  uint64_t fill_ = 0;
};

bool copyable(DataType t) {
  size_t es = elementSize(t);
  return isDeviceType(t) && (es == 1 || es == 2 || es == 4 || es == 8);
}

//! True when the layer can run here at these shapes.
bool supported(const backend::LayerView& l) {
  const std::string& op = l.node->op;
  if (l.outputs.empty() || !l.outputs[0].present) return false;
  const DataType out = l.outputs[0].type;
  const bool has_in = !l.inputs.empty() && l.inputs[0].present;
  const DataType in = has_in ? l.inputs[0].type : out;
  if (unaryOps().count(op)) {
    if (!has_in) return false;
    if (op == "Sign") return isFloat(in) || isInt(in);
    return isFloat(in);
  }
  if (op == "Trilu") return has_in && copyable(in) && l.inputs[0].shape.size() >= 2 && hostKnown(l, 1);
  if (op == "CumSum") return has_in && (isFloat(in) || isInt(in)) && hasInput(l, 1) && hostKnown(l, 1) && !l.inputs[0].shape.empty();
  if (op == "TopK")
    return has_in && (isFloat(in) || isInt(in)) && hostKnown(l, 1) && hasInput(l, 1) && !l.inputs[0].shape.empty() &&
           (l.outputs.size() < 2 || !l.outputs[1].present || l.outputs[1].type == DataType::kINT64);
  if (op == "OneHot")
    return has_in && l.inputs.size() >= 3 && (isFloat(in) || in == DataType::kINT32 || in == DataType::kINT64) &&
           copyable(out) && l.inputs[2].type == out;
  if (op == "Range") return (isFloat(out) || out == DataType::kINT32 || out == DataType::kINT64) && hostKnown(l, 0) && hostKnown(l, 2);
  if (op == "ConstantOfShape") return copyable(out);
  return false;
}

class MiscProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.misc"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    return unaryOps().count(op) || op == "Trilu" || op == "CumSum" || op == "TopK" || op == "OneHot" || op == "Range" ||
           op == "ConstantOfShape";
  }

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
                                               backend::Device&) const override {
    if (!supported(layer))
      throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.misc does not support this layer's types or inputs");
    return std::make_unique<MiscKernel>(layer);
  }
};

KILN_TACTIC_PROVIDER(MiscProvider);

}  // namespace
}  // namespace kiln::cuda
