// "cpu.gemm" (source kCPU): MatMul and Gemm on kiln's blocked, packed fp32 GEMM
// (gemm_kernel.h). One candidate per block configuration. A constant B (or, failing that, a
// constant A of one matrix) is packed once in instantiate() and again by refit(). fp16 and
// bf16 layers compute in fp32: their operands are widened into the workspace (constants at
// packing time) and the fp32 result is rounded into the output.
#include <cstring>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/tactics/gemm_kernel.h"
#include "backends/cpu/tactics/linalg_common.h"

namespace kiln::cpu::tactics {
namespace {

//! The sizes that bound the workspace: M counts every row of A (a MatMul whose B is shared
//! runs all of A's batch as one tall GEMM), so the bound grows with every dim.
struct Problem {
  int64_t m = 0, n = 0, k = 0;
};

Problem problemOf(const backend::LayerView& layer, bool gemm_op) {
  if (gemm_op) {
    GemmShape g = describeGemm(layer);
    return {g.m, g.n, g.k};
  }
  MatMulShape s;
  if (!describeMatMul(layer.inputs[0].shape, layer.inputs[1].shape, s))
    throw Error(ErrorCode::kRuntime, layer.node->describe() + ": shapes " + toString(layer.inputs[0].shape) + " x " +
                                         toString(layer.inputs[1].shape) + " are not a MatMul these tactics run");
  return {s.m * s.a_matrices, s.n, s.k};
}

size_t panelBytesA(const Blocking& b, const Problem& p) {
  const int64_t kc = std::min<int64_t>(b.kc, std::max<int64_t>(p.k, 1));
  const int64_t mc = std::min<int64_t>(b.mc, (std::max<int64_t>(p.m, 1) + b.mr - 1) / b.mr * b.mr);
  return alignBytes(static_cast<size_t>(mc * kc) * sizeof(float));
}

size_t panelBytesB(const Blocking& b, const Problem& p) {
  const int64_t kc = std::min<int64_t>(b.kc, std::max<int64_t>(p.k, 1));
  const int64_t nc = std::min<int64_t>(b.nc, (std::max<int64_t>(p.n, 1) + b.nr - 1) / b.nr * b.nr);
  return alignBytes(static_cast<size_t>(kc * nc) * sizeof(float));
}

int64_t numel(const ir::Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= std::max<int64_t>(d, 0);
  return n;
}

size_t floatBytes(int64_t count) { return alignBytes(static_cast<size_t>(count) * sizeof(float)); }

//! Panels, then for 16-bit layers fp32 copies of the operands not packed in advance and of Y.
size_t workspaceFor(const Blocking& b, const backend::LayerView& layer, bool gemm_op, bool pre_a, bool pre_b) {
  const Problem p = problemOf(layer, gemm_op);
  size_t bytes = (pre_a ? 0 : panelBytesA(b, p)) + (pre_b ? 0 : panelBytesB(b, p));
  if (layer.inputs[0].type != DataType::kFLOAT) {
    if (!pre_a) bytes += floatBytes(numel(layer.inputs[0].shape));
    if (!pre_b) bytes += floatBytes(numel(layer.inputs[1].shape));
    bytes += floatBytes(numel(layer.outputs[0].shape));
  }
  return bytes;
}

//! The constant's values as fp32 (`scratch` holds widened 16-bit values).
const float* floatValues(const ir::Tensor& t, std::vector<float>& scratch) {
  if (t.type() == DataType::kFLOAT) return t.values<float>().data();
  scratch = t.toFloat();
  return scratch.data();
}

//! Which operand a kernel packs once: B when constant, else A when constant and one matrix.
void prepackChoice(const backend::LayerView& layer, bool gemm_op, bool& pre_a, bool& pre_b) {
  pre_b = layer.isConstant(1);
  pre_a = !pre_b && layer.isConstant(0) && (gemm_op || layer.inputs[0].shape.size() <= 2);
}

class GemmKernel final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  GemmKernel(const backend::LayerView& layer, const Blocking& blocking) : blocking_(blocking) {
    gemm_op_ = layer.node->op == "Gemm";
    type_ = layer.inputs[0].type;
    alpha_ = gemm_op_ ? layer.attrs().f("alpha", 1.0f) : 1.0f;
    beta_ = gemm_op_ ? layer.attrs().f("beta", 1.0f) : 1.0f;
    prepackChoice(layer, gemm_op_, pre_a_, pre_b_);
    if (!pack(layer))
      throw Error(ErrorCode::kInternal, layer.node->describe() + ": cpu.gemm could not pack its constant operand");
  }

  size_t workspaceSize(const backend::LayerView& layer) const override {
    return workspaceFor(blocking_, layer, gemm_op_, pre_a_, pre_b_);
  }

  bool refit(const backend::LayerView& layer) override { return pack(layer); }

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    requireWorkspace(args, workspaceSize(layer));
    auto* ws = static_cast<std::byte*>(args.workspace);
    auto carve = [&ws](size_t bytes) {
      auto* p = reinterpret_cast<float*>(ws);
      ws += bytes;
      return p;
    };
    const Problem p = problemOf(layer, gemm_op_);
    float* ws_a = pre_a_ ? nullptr : carve(panelBytesA(blocking_, p));
    float* ws_b = pre_b_ ? nullptr : carve(panelBytesB(blocking_, p));
    const DataType type = layer.inputs[0].type;
    const auto* a = static_cast<const float*>(args.inputs[0]);
    const auto* b = static_cast<const float*>(args.inputs[1]);
    auto* y = static_cast<float*>(args.outputs[0]);
    if (type != DataType::kFLOAT) {
      // 16-bit layer: widen the operands read at run time, compute into an fp32 Y.
      if (!pre_a_) {
        const int64_t n = numel(layer.inputs[0].shape);
        float* wide = carve(floatBytes(n));
        widen(type, args.inputs[0], n, wide);
        a = wide;
      }
      if (!pre_b_) {
        const int64_t n = numel(layer.inputs[1].shape);
        float* wide = carve(floatBytes(n));
        widen(type, args.inputs[1], n, wide);
        b = wide;
      }
      y = carve(floatBytes(numel(layer.outputs[0].shape)));
    }
    if (gemm_op_) {
      runGemm(layer, args, a, b, y, ws_a, ws_b);
    } else {
      runMatMul(layer, a, b, y, ws_a, ws_b);
    }
    if (type != DataType::kFLOAT) narrow(type, y, numel(layer.outputs[0].shape), args.outputs[0]);
  }

 private:
  //! (Re)packs the constant operand from the layer's constants; false if it does not fit.
  bool pack(const backend::LayerView& layer) {
    if (pre_b_) {
      const ir::Tensor* t = layer.isConstant(1) ? layer.constants[1] : nullptr;
      if (!t || t->type() != type_ || (!b_shape_.empty() && t->shape() != b_shape_)) return false;
      b_shape_ = t->shape();
      std::vector<float> scratch;
      const float* data = floatValues(*t, scratch);
      int64_t k = 0, n = 0, matrices = 1, rs = 0, cs = 1;
      if (gemm_op_) {
        const GemmShape g = describeGemm(layer);
        k = g.k;
        n = g.n;
        rs = g.trans_b ? 1 : g.ldb;
        cs = g.trans_b ? g.ldb : 1;
      } else {
        const ir::Shape& s = t->shape();
        k = s.size() >= 2 ? s[s.size() - 2] : s[0];
        n = s.size() >= 2 ? s.back() : 1;
        for (size_t d = 0; d + 2 < s.size(); ++d) matrices *= s[d];
        rs = n;
      }
      packed_stride_ = packedSizeB(blocking_, k, n);
      packed_.assign(packed_stride_ * static_cast<size_t>(std::max<int64_t>(matrices, 1)), 0.0f);
      for (int64_t i = 0; i < matrices; ++i)
        packAllB(blocking_, MatrixView{data + i * k * n, rs, cs}, k, n, packed_.data() + i * packed_stride_);
    } else if (pre_a_) {
      const ir::Tensor* t = layer.isConstant(0) ? layer.constants[0] : nullptr;
      if (!t || t->type() != type_ || (!a_shape_.empty() && t->shape() != a_shape_)) return false;
      a_shape_ = t->shape();
      std::vector<float> scratch;
      const float* data = floatValues(*t, scratch);
      int64_t m = 0, k = 0, rs = 0, cs = 1;
      if (gemm_op_) {
        const GemmShape g = describeGemm(layer);
        m = g.m;
        k = g.k;
        rs = g.trans_a ? 1 : g.lda;
        cs = g.trans_a ? g.lda : 1;
      } else {
        const ir::Shape& s = t->shape();
        m = s.size() == 2 ? s[0] : 1;
        k = s.back();
        rs = k;
      }
      packed_stride_ = packedSizeA(blocking_, m, k);
      packed_.assign(packed_stride_, 0.0f);
      packAllA(blocking_, MatrixView{data, rs, cs}, m, k, alpha_, packed_.data());
    }
    return true;
  }

  void runGemm(const backend::LayerView& layer, const backend::RunArgs& args, const float* a, const float* b, float* y,
               float* ws_a, float* ws_b) {
    const GemmShape g = describeGemm(layer);
    const void* c = g.has_c && args.inputs.size() > 2 ? args.inputs[2] : nullptr;
    const bool with_c = c != nullptr && beta_ != 0.0f;
    if (with_c) fillFromC(g, c, type_, beta_, y);
    Operand oa{.view = {a, g.trans_a ? 1 : g.lda, g.trans_a ? g.lda : 1}};
    Operand ob{.view = {b, g.trans_b ? 1 : g.ldb, g.trans_b ? g.ldb : 1}};
    if (pre_a_) oa.packed = packed_.data();
    if (pre_b_) ob.packed = packed_.data();
    gemm(blocking_, g.m, g.n, g.k, alpha_, oa, ob, y, g.n, with_c, ws_a, ws_b);
  }

  void runMatMul(const backend::LayerView& layer, const float* a, const float* b, float* y, float* ws_a, float* ws_b) {
    MatMulShape s;
    if (!describeMatMul(layer.inputs[0].shape, layer.inputs[1].shape, s))
      throw Error(ErrorCode::kRuntime, layer.node->describe() + ": unsupported MatMul shapes");
    const int64_t a_size = s.m * s.k, b_size = s.k * s.n, y_size = s.m * s.n;
    const int64_t b_rs = layer.inputs[1].shape.size() >= 2 ? s.n : 1;
    if (s.foldsBatch() && !pre_a_) {
      Operand oa{.view = {a, s.k, 1}};
      Operand ob{.view = {b, b_rs, 1}, .packed = pre_b_ ? packed_.data() : nullptr};
      // A's batch may be broadcast against B's unit dims only; a folded A is contiguous.
      gemm(blocking_, s.m * s.batch, s.n, s.k, 1.0f, oa, ob, y, s.n, false, ws_a, ws_b);
      return;
    }
    for (int64_t i = 0; i < s.batch; ++i) {
      int64_t ai = 0, bi = 0;
      s.offsets(i, ai, bi);
      Operand oa{.view = {a + ai * a_size, s.k, 1}, .packed = pre_a_ ? packed_.data() : nullptr};
      Operand ob{.view = {b + bi * b_size, b_rs, 1},
                 .packed = pre_b_ ? packed_.data() + static_cast<size_t>(bi) * packed_stride_ : nullptr};
      gemm(blocking_, s.m, s.n, s.k, 1.0f, oa, ob, y + i * y_size, s.n, false, ws_a, ws_b);
    }
  }

  Blocking blocking_;
  bool gemm_op_ = false;
  DataType type_ = DataType::kFLOAT;
  float alpha_ = 1.0f, beta_ = 1.0f;
  bool pre_a_ = false, pre_b_ = false;
  ir::Shape a_shape_, b_shape_;
  std::vector<float> packed_;
  size_t packed_stride_ = 0;
};

class CpuGemmProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cpu.gemm"; }
  TacticSource source() const override { return TacticSource::kCPU; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override { return op == "MatMul" || op == "Gemm"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    const bool gemm_op = opt.node->op == "Gemm";
    const DataType type = opt.outputs.empty() ? DataType::kFLOAT : opt.outputs[0].type;
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      if (!allOfType(*l, type) || l->inputs.size() < 2 || !l->inputs[0].present || !l->inputs[1].present) return {};
      for (const auto& t : l->inputs)
        if (t.present && !knownShape(t.shape)) return {};
      if (gemm_op) {
        if (l->inputs[0].shape.size() != 2 || l->inputs[1].shape.size() != 2) return {};
        if (l->inputs.size() > 2 && l->inputs[2].present && l->inputs[2].shape.size() > 2) return {};
      } else {
        MatMulShape s;
        if (!describeMatMul(l->inputs[0].shape, l->inputs[1].shape, s)) return {};
      }
    }
    bool pre_a = false, pre_b = false;
    prepackChoice(max, gemm_op, pre_a, pre_b);
    const std::string formats = std::string(type == DataType::kFLOAT ? "fp32" : type == DataType::kHALF ? "fp16" : "bf16") +
                                " linear";
    std::vector<backend::TacticConfig> out;
    for (const Blocking& b : standardBlockings()) {
      backend::TacticConfig c{.name = "cpu.gemm." + b.name(), .params = encodeBlocking(b),
                              .workspace = workspaceFor(b, max, gemm_op, pre_a, pre_b), .formats = formats};
      if (c.workspace <= options.workspace_limit) out.push_back(std::move(c));
    }
    return out;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    Blocking b;
    int32_t variant = 0;
    if (!decodeBlocking(config.params, b, variant))
      throw Error(ErrorCode::kInvalidPlan, layer.node->describe() + ": malformed cpu.gemm tactic '" + config.name + "'");
    return std::make_unique<GemmKernel>(layer, b);
  }
};

KILN_TACTIC_PROVIDER(CpuGemmProvider);

}  // namespace
}  // namespace kiln::cpu::tactics
