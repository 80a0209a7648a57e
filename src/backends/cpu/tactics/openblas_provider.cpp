// "openblas" (source kOPENBLAS): MatMul and Gemm in fp32 through cblas_sgemm, 1-D/2-D
// Conv and FusedConv as im2col (in the workspace) + cblas_sgemm per image and group (then
// FusedConv's residual and activation over the group's block of Y), and FusedMatMul as one
// cblas_sgemm (alpha in it) followed by the epilogue over Y in place; also a FusedMatMul
// with a folded Cast (fp16/bf16 inputs widened in the workspace, fp32 Y). Compiled only when
// CMake found OpenBLAS (KILN_WITH_OPENBLAS). OpenBLAS runs single-threaded: kiln schedules
// its own parallelism, and results stay deterministic.
#ifdef KILN_WITH_OPENBLAS

#include <cblas.h>

#include <mutex>

#include "backends/backend.h"
#include "backends/cpu/kernels/gemm_epilogue.h"
#include "backends/cpu/tactics/conv_common.h"
#include "backends/cpu/tactics/linalg_common.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace kiln::cpu::tactics {
namespace {

void singleThreaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

//! C[m x n] = alpha * op(A) op(B) + beta * C, row-major, as cblas wants it.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(std::max<int64_t>(lda, 1)), b,
              static_cast<int>(std::max<int64_t>(ldb, 1)), beta, c, static_cast<int>(std::max<int64_t>(ldc, 1)));
}

class BlasMatMulKernel final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  explicit BlasMatMulKernel(const backend::LayerView& layer) {
    gemm_op_ = layer.node->op == "Gemm";
    alpha_ = gemm_op_ ? layer.attrs().f("alpha", 1.0f) : 1.0f;
    beta_ = gemm_op_ ? layer.attrs().f("beta", 1.0f) : 1.0f;
  }

  bool refit(const backend::LayerView&) override { return true; }  // reads weights from its inputs

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    const auto* a = static_cast<const float*>(args.inputs[0]);
    const auto* b = static_cast<const float*>(args.inputs[1]);
    auto* y = static_cast<float*>(args.outputs[0]);
    if (gemm_op_) {
      const GemmShape g = describeGemm(layer);
      const float* c = g.has_c && args.inputs.size() > 2 ? static_cast<const float*>(args.inputs[2]) : nullptr;
      const bool with_c = c != nullptr && beta_ != 0.0f;
      if (with_c) fillFromC(g, static_cast<const void*>(c), DataType::kFLOAT, beta_, y);
      sgemm(g.trans_a, g.trans_b, g.m, g.n, g.k, alpha_, a, g.lda, b, g.ldb, with_c ? 1.0f : 0.0f, y, g.n);
      return;
    }
    MatMulShape s;
    if (!describeMatMul(layer.inputs[0].shape, layer.inputs[1].shape, s))
      throw Error(ErrorCode::kRuntime, layer.node->describe() + ": unsupported MatMul shapes");
    const int64_t ldb = layer.inputs[1].shape.size() >= 2 ? s.n : 1;
    if (s.foldsBatch()) {
      sgemm(false, false, s.m * s.batch, s.n, s.k, 1.0f, a, s.k, b, ldb, 0.0f, y, s.n);
      return;
    }
    for (int64_t i = 0; i < s.batch; ++i) {
      int64_t ai = 0, bi = 0;
      s.offsets(i, ai, bi);
      sgemm(false, false, s.m, s.n, s.k, 1.0f, a + ai * s.m * s.k, s.k, b + bi * s.k * s.n, ldb, 0.0f,
            y + i * s.m * s.n, s.n);
    }
  }

 private:
  bool gemm_op_ = false;
  float alpha_ = 1.0f, beta_ = 1.0f;
};

//! FusedMatMul: Y = alpha A op(B) by sgemm (A's leading dims folded into M), then
//! act(Y + bias) + residual per element, the activation in double as the reference's. A layer
//! with a folded Cast (float16/bfloat16 inputs, float32 Y) widens A and B into the workspace
//! first and reads its bias and residual widened per element.
class BlasFusedMatMulKernel final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  explicit BlasFusedMatMulKernel(const backend::LayerView& layer)
      : trans_b_(layer.attrs().i("trans_b", 0) != 0),
        alpha_(layer.attrs().f("alpha", 1.0f)),
        act_(parseGemmActivation(layer.attrs().s("activation", "none"), layer.node->describe())),
        type_(layer.inputs[0].type) {}

  //! Bytes of the widened A and B (none for float32 inputs).
  static size_t widenedBytes(const backend::LayerView& layer) {
    if (layer.inputs[0].type == DataType::kFLOAT) return 0;
    return static_cast<size_t>(volume(layer.inputs[0].shape) + volume(layer.inputs[1].shape)) * sizeof(float);
  }

  size_t workspaceSize(const backend::LayerView& layer) const override { return widenedBytes(layer); }
  bool refit(const backend::LayerView&) override { return true; }  // reads weights from its inputs

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    const ir::Shape& bs = layer.inputs[1].shape;
    const int64_t k = layer.inputs[0].shape.back();
    const int64_t n = trans_b_ ? bs[0] : bs[1];
    int64_t m = 1;
    for (size_t d = 0; d + 1 < layer.inputs[0].shape.size(); ++d) m *= layer.inputs[0].shape[d];
    const auto* a = static_cast<const float*>(args.inputs[0]);
    const auto* b = static_cast<const float*>(args.inputs[1]);
    if (type_ != DataType::kFLOAT) {
      requireWorkspace(args, widenedBytes(layer));
      auto* wide = static_cast<float*>(args.workspace);
      widen(type_, args.inputs[0], m * k, wide);
      widen(type_, args.inputs[1], volume(bs), wide + m * k);
      a = wide;
      b = wide + m * k;
    }
    const bool has_bias = layer.inputs.size() > 2 && layer.inputs[2].present;
    const bool has_residual = layer.inputs.size() > 3 && layer.inputs[3].present;
    const void* bias = has_bias ? args.inputs[2] : nullptr;
    const void* residual = has_residual ? args.inputs[3] : nullptr;
    auto* y = static_cast<float*>(args.outputs[0]);
    sgemm(false, trans_b_, m, n, k, alpha_, a, k, b, bs[1], 0.0f, y, n);
    if (!bias && !residual && act_ == GemmActivation::kNone) return;
    for (int64_t i = 0; i < m; ++i) {
      float* row = y + i * n;
      for (int64_t j = 0; j < n; ++j) {
        double v = row[j];
        if (bias) v += element(bias, j);
        v = applyGemmActivation(act_, v);
        if (residual) v += element(residual, i * n + j);
        row[j] = static_cast<float>(v);
      }
    }
  }

 private:
  double element(const void* p, int64_t i) const {
    switch (type_) {
      case DataType::kHALF: return ir::halfBitsToFloat(static_cast<const uint16_t*>(p)[i]);
      case DataType::kBF16: return ir::bf16BitsToFloat(static_cast<const uint16_t*>(p)[i]);
      default: return static_cast<const float*>(p)[i];
    }
  }

  bool trans_b_ = false;
  float alpha_ = 1.0f;
  GemmActivation act_ = GemmActivation::kNone;
  DataType type_ = DataType::kFLOAT;  //!< A, B, bias and residual; Y is float32
};

class BlasConvKernel final : public backend::Kernel {
 public:
  //! No per-shape state: run() only reads members, so every context shares this object.
  std::unique_ptr<backend::Kernel> clone() const override { return nullptr; }
  BlasConvKernel(const backend::LayerView& layer, const ConvParams& params) : params_(params), tail_(convTail(layer)) {}

  size_t workspaceSize(const backend::LayerView& layer) const override { return im2colBytes(params_, layer); }
  bool refit(const backend::LayerView&) override { return true; }  // reads weights from its inputs

  void run(const backend::RunArgs& args) override {
    const backend::LayerView& layer = *args.layer;
    requireWorkspace(args, workspaceSize(layer));
    const ConvShape s = convShape(params_, layer);
    const auto* x = static_cast<const float*>(args.inputs[0]);
    const auto* w = static_cast<const float*>(args.inputs[1]);
    const float* bias =
        layer.inputs.size() > 2 && layer.inputs[2].present ? static_cast<const float*>(args.inputs[2]) : nullptr;
    const float* residual = tail_.residual ? static_cast<const float*>(args.inputs[3]) : nullptr;
    auto* y = static_cast<float*>(args.outputs[0]);
    auto* col = static_cast<float*>(args.workspace);
    const bool pointwise = params_.pointwise();
    const int64_t pixels = s.pixels(), in_plane = s.h * s.w;
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t g = 0; g < params_.group; ++g) {
        const float* xg = x + (n * s.c + g * s.cg) * in_plane;
        float* yg = y + (n * s.oc + g * s.ocg) * pixels;
        if (bias) fillBias(bias + g * s.ocg, s.ocg, pixels, yg);
        const float* bm = xg;
        if (!pointwise) {
          im2col(params_, s, xg, col);
          bm = col;
        }
        sgemm(false, false, s.ocg, pixels, s.kdim, 1.0f, w + g * s.ocg * s.kdim, s.kdim, bm, pixels,
              bias ? 1.0f : 0.0f, yg, pixels);
        if (tail_.any()) applyConvTail(tail_, residual ? residual + (yg - y) : nullptr, s.ocg * pixels, yg);
      }
    }
  }

 private:
  ConvParams params_;
  ConvTail tail_;
};

//! Float16 or bfloat16 inputs (all of one type) and a float32 Y.
bool widensToFloat32(const backend::LayerView& layer) {
  const DataType t = layer.inputs[0].type;
  if (t != DataType::kHALF && t != DataType::kBF16) return false;
  for (const auto& d : layer.inputs)
    if (d.present && d.type != t) return false;
  return layer.outputs.size() == 1 && layer.outputs[0].type == DataType::kFLOAT;
}

class OpenBlasProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "openblas"; }
  TacticSource source() const override { return TacticSource::kOPENBLAS; }
  DeviceKind device() const override { return DeviceKind::kCPU; }
  bool supportsOp(std::string_view op) const override {
    return op == "MatMul" || op == "Gemm" || op == "Conv" || op == "FusedConv" || op == "FusedMatMul";
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    const std::string& op = opt.node->op;
    ConvParams p;
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      if (l->inputs.size() < 2 || !l->inputs[0].present || !l->inputs[1].present) return {};
      // float32 throughout, or a FusedMatMul with a folded Cast: 16-bit inputs, float32 Y.
      if (!allFloat32(*l) && !(op == "FusedMatMul" && widensToFloat32(*l))) return {};
      for (const auto& t : l->inputs)
        if (t.present && !knownShape(t.shape)) return {};
      if (op == "Conv" || op == "FusedConv") {
        if (!parseConv(*l, p) || !knownShape(l->outputs[0].shape)) return {};
      } else if (op == "FusedMatMul") {
        if (l->inputs[0].shape.size() < 2 || l->inputs[1].shape.size() != 2) return {};
      } else if (op == "Gemm") {
        if (l->inputs[0].shape.size() != 2 || l->inputs[1].shape.size() != 2) return {};
        if (l->inputs.size() > 2 && l->inputs[2].present && l->inputs[2].shape.size() > 2) return {};
      } else {
        MatMulShape s;
        if (!describeMatMul(l->inputs[0].shape, l->inputs[1].shape, s)) return {};
      }
    }
    backend::TacticConfig c{.name = "openblas.sgemm", .formats = "fp32 linear"};
    if (op == "FusedMatMul" && opt.inputs[0].type != DataType::kFLOAT) {
      const bool half = opt.inputs[0].type == DataType::kHALF;
      c.name = half ? "openblas.sgemm.fp16_to_fp32" : "openblas.sgemm.bf16_to_fp32";
      c.formats = half ? "fp16_to_fp32 linear" : "bf16_to_fp32 linear";
      c.workspace = BlasFusedMatMulKernel::widenedBytes(max);
    }
    if (op == "Conv" || op == "FusedConv") {
      c.name = p.pointwise() ? "openblas.conv.1x1" : "openblas.conv.im2col";
      c.workspace = im2colBytes(p, max);
    }
    if (c.workspace > options.workspace_limit) return {};
    return {c};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device&) const override {
    singleThreaded();
    if (layer.node->op == "FusedMatMul") return std::make_unique<BlasFusedMatMulKernel>(layer);
    if (layer.node->op != "Conv" && layer.node->op != "FusedConv") return std::make_unique<BlasMatMulKernel>(layer);
    ConvParams p;
    std::string why;
    if (!parseConv(layer, p, &why))
      throw Error(ErrorCode::kUnsupported, layer.node->describe() + ": openblas cannot run it: " + why);
    return std::make_unique<BlasConvKernel>(layer, p);
  }
};

KILN_TACTIC_PROVIDER(OpenBlasProvider);

}  // namespace
}  // namespace kiln::cpu::tactics

#endif  // KILN_WITH_OPENBLAS
