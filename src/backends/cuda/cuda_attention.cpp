// "cuda.attention": kiln's CUDA tactics for FusedAttention (src/ir/ops/fused_attention.cpp):
//   flash_wmma_d64 / flash_wmma_d128  tensor cores (float16, bfloat16), head sizes 64 and 128
//   flash_mma_d64 / flash_mma_d128    the same with mma.sync, scores and accumulator in registers
//   generic                           any head size up to 256, float32 / float16 / bfloat16
// The builder times every one that applies. Shapes, strides, scale and mask kind are read in
// reshape(); run() only fills in the addresses and launches.
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/layer_view.h"
#include "ir/ops/attention_geometry.h"

namespace kiln::cuda {
namespace {

//! The tactic's kernel; the value is its params byte.
enum class AttentionTactic : int { kGeneric = 0, kFlashWmma = 1, kFlashMma = 2 };

bool isComputeType(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }

//! The layer's geometry at its concrete shapes.
ir::AttentionGeometry geometryOf(const backend::LayerView& layer) {
  const ir::Shape* mask = hasInput(layer, 3) ? &layer.inputs[3].shape : nullptr;
  return ir::attentionGeometry(layer.attrs(), layer.inputs[0].shape, layer.inputs[1].shape, layer.inputs[2].shape,
                               layer.outputs[0].shape, mask);
}

bool fitsInt(int64_t v) { return v >= 0 && v <= (int64_t{1} << 31) - 1; }

//! The generic kernel runs the layer at these shapes (every tactic needs this much).
bool genericSupports(const backend::LayerView& l) {
  if (l.inputs.size() < 3 || l.outputs.empty() || !isComputeType(l.inputs[0].type)) return false;
  for (int i = 0; i < 3; ++i)
    if (!hasInput(l, i) || l.inputs[i].type != l.inputs[0].type || l.inputs[i].shape.size() != 4) return false;
  if (hasInput(l, 3)) {
    const DataType m = l.inputs[3].type;
    if (m != DataType::kBOOL && m != DataType::kFLOAT && m != l.inputs[0].type) return false;
  }
  const ir::AttentionGeometry g = geometryOf(l);
  return g.head_dim <= 256 && g.value_dim <= 256 && fitsInt(g.batch * g.heads * g.q_len) && fitsInt(g.kv_len);
}

bool flashSupports(const backend::LayerView& l) {
  if (!genericSupports(l) || (l.inputs[0].type != DataType::kHALF && l.inputs[0].type != DataType::kBF16)) return false;
  const ir::AttentionGeometry g = geometryOf(l);
  // One CTA per 64 query rows along the grid's y (at most 65535 blocks).
  return flashAttentionHeadSize(static_cast<int>(g.head_dim), static_cast<int>(g.value_dim)) &&
         g.q_len <= int64_t{65535} * 64;
}

void copyStrides(int64_t (&dst)[4], const ir::AttentionStrides& src) {
  for (int i = 0; i < 4; ++i) dst[i] = src[i];
}

class AttentionKernel final : public backend::Kernel {
 public:
  AttentionKernel(const backend::LayerView& layer, AttentionTactic tactic) : name_(layerName(layer)), tactic_(tactic) {
    reshape(layer);
  }
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<AttentionKernel>(*this); }

  void reshape(const backend::LayerView& layer) override {
    const ir::AttentionGeometry g = geometryOf(layer);
    type_ = layer.inputs[0].type;
    AttentionParams p;
    p.batch = static_cast<int>(g.batch), p.heads = static_cast<int>(g.heads);
    p.q_len = static_cast<int>(g.q_len), p.kv_len = static_cast<int>(g.kv_len);
    p.head_dim = static_cast<int>(g.head_dim), p.value_dim = static_cast<int>(g.value_dim);
    copyStrides(p.q_stride, g.q), copyStrides(p.k_stride, g.k), copyStrides(p.v_stride, g.v);
    copyStrides(p.out_stride, g.out), copyStrides(p.mask_stride, g.mask);
    has_mask_ = g.has_mask;
    if (has_mask_) {
      const DataType m = layer.inputs[3].type;
      p.mask_kind = m == DataType::kBOOL ? AttentionMaskKind::kBool
                    : m == type_         ? AttentionMaskKind::kAdditive
                                         : AttentionMaskKind::kAdditiveFloat;
    }
    p.scale = layer.attrs().f("scale", 1.0f);
    p.causal = layer.attrs().i("causal", 0) != 0;
    p.zero_masked_rows = layer.attrs().i("zero_masked_rows", 0) != 0;
    params_ = p;
    empty_ = static_cast<int64_t>(p.batch) * p.heads * p.q_len == 0 || p.value_dim == 0;
    if (tactic_ != AttentionTactic::kGeneric) {
      if (!flashAttentionHeadSize(p.head_dim, p.value_dim))
        throw Error(ErrorCode::kUnsupported, name_ + ": cuda.attention's flash kernels need head sizes 64 or 128");
      KILN_CUDA_CHECK(tactic_ == AttentionTactic::kFlashMma ? prepareFlashMmaAttention(type_, p.head_dim)
                                                            : prepareFlashAttention(type_, p.head_dim),
                      name_);
    }
  }

  void run(const backend::RunArgs& args) override {
    if (empty_) return;
    AttentionParams p = params_;
    p.q = args.inputs[0], p.k = args.inputs[1], p.v = args.inputs[2];
    p.mask = has_mask_ ? args.inputs[3] : nullptr;
    p.out = args.outputs[0];
    // A view at an odd offset cannot take 16-byte loads: the generic kernel reads it instead.
    if (tactic_ == AttentionTactic::kGeneric || !flashAttentionAddressable(p))
      launchGenericAttention(type_, p, streamOf(args));
    else if (tactic_ == AttentionTactic::kFlashMma) launchFlashMmaAttention(type_, p, streamOf(args));
    else launchFlashAttention(type_, p, streamOf(args));
    KILN_CUDA_CHECK_LAUNCH(name_);
  }

 private:
  std::string name_;
  AttentionTactic tactic_;
  DataType type_ = DataType::kFLOAT;
  AttentionParams params_;
  bool has_mask_ = false, empty_ = false;
};

class AttentionProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.attention"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "FusedAttention"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    std::vector<backend::TacticConfig> out;
    if (!genericSupports(min) || !genericSupports(opt) || !genericSupports(max)) return out;
    if (flashSupports(min) && flashSupports(opt) && flashSupports(max)) {
      const int64_t d = geometryOf(opt).head_dim;
      // 110 KiB of shared memory for the WMMA kernel at d = 128: more than sm_86 / sm_89 allow
      // a block; the mma.sync kernel needs 87 KiB there.
      out.push_back({.name = "flash_mma_d" + std::to_string(d), .params = {std::byte{2}}});
      out.push_back({.name = "flash_wmma_d" + std::to_string(d), .params = {std::byte{1}}, .portable = d == 64});
    }
    out.push_back({.name = "generic", .params = {std::byte{0}}});
    return out;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    const int code = config.params.size() == 1 ? static_cast<int>(config.params[0]) : -1;
    if (code < 0 || code > 2)
      throw Error(ErrorCode::kInvalidPlan,
                  layerName(layer) + ": cuda.attention '" + config.name + "' has parameters this kiln does not know");
    const auto tactic = static_cast<AttentionTactic>(code);
    if (!(tactic == AttentionTactic::kGeneric ? genericSupports(layer) : flashSupports(layer)))
      throw Error(ErrorCode::kUnsupported, layerName(layer) + ": cuda.attention '" + config.name +
                                               "' does not support this layer's types or shapes");
    return std::make_unique<AttentionKernel>(layer, tactic);
  }
};

KILN_TACTIC_PROVIDER(AttentionProvider);

}  // namespace
}  // namespace kiln::cuda
