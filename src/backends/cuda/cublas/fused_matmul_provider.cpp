// Tactic provider "cublas.epilogue" (source kCUBLAS): FusedMatMul as cublasGemmEx writing
// alpha * A op(B) into Y, then kiln's epilogue kernel (kernels/gemm_epilogue.cu) applying
// bias, activation and residual to Y in place. Runs every combination of activation, bias and
// residual in fp32 (tf32 when the build allows it), fp16 and bf16: the fallback behind the
// cuBLASLt epilogues, which cover only some. alpha rides in the GEMM, where it costs nothing
// and the 16-bit types round once less. A layer with a folded Cast (float16 or bfloat16 inputs,
// float32 Y: output_type) runs too: cublasGemmEx writes float32 C from 16-bit A and B with
// float32 compute, and the epilogue reads the 16-bit bias and residual. No other pair.
//
// One cublasHandle_t per kernel object (a handle binds a stream and a workspace), so every
// execution context runs its own clone; the uploaded weights are shared.
#include <cuda_runtime.h>

#include "backends/cuda/check.h"
#include "backends/cuda/cublas/fused_gemm.h"
#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/kernels/gemm_epilogue.h"

namespace kiln::cuda {
namespace {

using library::LayerConstants;

std::vector<std::byte> encode(bool tf32) { return {std::byte{1}, std::byte{tf32 ? uint8_t{1} : uint8_t{0}}}; }

bool decodeTf32(const backend::TacticConfig& config, const std::string& layer) {
  if (config.params.size() != 2 || config.params[0] != std::byte{1})
    throw Error(ErrorCode::kInvalidArgument,
                layer + ": tactic '" + config.name + "' has malformed cublas.epilogue parameters");
  return config.params[1] != std::byte{0};
}

EpilogueActivation epilogueActivation(blas::FusedActivation a) {
  switch (a) {
    case blas::FusedActivation::kRelu: return EpilogueActivation::kRelu;
    case blas::FusedActivation::kGeluErf: return EpilogueActivation::kGeluErf;
    case blas::FusedActivation::kGeluTanh: return EpilogueActivation::kGeluTanh;
    default: return EpilogueActivation::kNone;
  }
}

class CublasEpilogueKernel final : public backend::Kernel {
 public:
  CublasEpilogueKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        type_(layer.inputs[0].type),
        out_type_(layer.outputs[0].type),
        tf32_(decodeTf32(config, layer.node->describe())),
        workspace_(config.workspace),
        device_(&device) {
    reshape(layer);
    createHandle();
    try {
      constants_.upload(device, layer);
    } catch (...) {
      cublasDestroy(handle_);
      throw;
    }
  }
  //! A clone: the same weights and shapes, its own handle.
  CublasEpilogueKernel(const CublasEpilogueKernel& other)
      : context_(other.context_),
        type_(other.type_),
        out_type_(other.out_type_),
        tf32_(other.tf32_),
        workspace_(other.workspace_),
        device_(other.device_),
        constants_(other.constants_),
        f_(other.f_) {
    createHandle();
  }
  CublasEpilogueKernel& operator=(const CublasEpilogueKernel&) = delete;
  ~CublasEpilogueKernel() override { cublasDestroy(handle_); }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CublasEpilogueKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  void reshape(const backend::LayerView& layer) override {
    if (!blas::describeFusedGemm(layer, f_))
      throw Error(ErrorCode::kRuntime, context_ + ": shapes outside what the tactic was built for");
  }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(*device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (f_.m == 0 || f_.n == 0) return;
    cudaStream_t stream = static_cast<cudaStream_t>(args.stream);
    const void* a = constants_.input(args, 0);
    const void* b = constants_.input(args, 1);
    void* y = args.outputs[0];
    // cublasSetStream resets the workspace to cuBLAS's own pool: set ours after it.
    KILN_CUBLAS_CHECK(cublasSetStream(handle_, stream), context_);
    KILN_CUBLAS_CHECK(cublasSetWorkspace(handle_, args.workspace, args.workspace ? args.workspace_size : 0), context_);
    const cudaDataType_t t = library::cudaTypeOf(type_);
    const cudaDataType_t out = library::cudaTypeOf(out_type_);
    const float beta = 0.0f;
    // Column-major Y^T[n, m] = op(B)^T A^T: B first.
    KILN_CUBLAS_CHECK(cublasGemmEx(handle_, f_.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(f_.n),
                                   static_cast<int>(f_.m), static_cast<int>(f_.k), &f_.alpha, b, t,
                                   static_cast<int>(f_.trans_b ? f_.k : f_.n), a, t, static_cast<int>(f_.k), &beta, y,
                                   out, static_cast<int>(f_.n),
                                   tf32_ ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                      context_);
    launchGemmEpilogue(out_type_, type_, y, f_.bias ? constants_.input(args, 2) : nullptr,
                       f_.residual ? constants_.input(args, 3) : nullptr, f_.m, f_.n, epilogueActivation(f_.activation),
                       stream);
    KILN_CUDA_CHECK_LAUNCH(context_);
  }

 private:
  void createHandle() {
    KILN_CUBLAS_CHECK(cublasCreate(&handle_), context_);
    // Reduced-precision reductions stay off for fp16/bf16: accuracy first, as the reference.
    const cublasMath_t math = tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    const cublasStatus_t status =
        cublasSetMathMode(handle_, static_cast<cublasMath_t>(math | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (status != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle_);
      handle_ = nullptr;
      library::throwBlasError(status, "cublasSetMathMode", context_);
    }
  }

  std::string context_;
  DataType type_;      //!< A, B, bias and residual
  DataType out_type_;  //!< Y: type_, or float32 from 16-bit inputs
  bool tf32_ = false;
  size_t workspace_ = 0;
  backend::Device* device_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  LayerConstants constants_;
  blas::FusedGemm f_;
};

class CublasEpilogueProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cublas.epilogue"; }
  TacticSource source() const override { return TacticSource::kCUBLAS; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "FusedMatMul"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    if (!backend::gpuDevice() || opt.outputs.empty()) return {};
    if (opt.inputs.empty() || !opt.inputs[0].present) return {};
    const DataType t = opt.inputs[0].type;
    const DataType out = opt.outputs[0].type;
    if (!library::isLibraryType(t) || !writes(t, out)) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      blas::FusedGemm f;
      if (!blas::describeFusedGemm(*l, f) || !inputsOfType(*l, t) || l->outputs[0].type != out) return {};
    }
    const bool tf32 = t == DataType::kFLOAT && options.tf32;
    const std::string precision =
        library::precisionName(t, tf32) + (out == t ? "" : "_to_" + library::precisionName(out, false));
    // cuBLAS picks its kernel at run time for the GPU it runs on: valid on every sm >= 80.
    return {backend::TacticConfig{.name = "cublas.epilogue." + precision,
                                  .params = encode(tf32),
                                  .workspace = library::blasWorkspace(options),
                                  .formats = precision + " linear",
                                  .portable = true}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return std::make_unique<CublasEpilogueKernel>(layer, config, device);
  }

 private:
  //! The (inputs, Y) type pairs cublasGemmEx and the epilogue kernel write: equal, or 16-bit
  //! inputs with float32 Y (float32 compute in both).
  static bool writes(DataType in, DataType out) {
    return in == out || (out == DataType::kFLOAT && (in == DataType::kHALF || in == DataType::kBF16));
  }
  static bool inputsOfType(const backend::LayerView& layer, DataType t) {
    for (const auto& d : layer.inputs)
      if (d.present && d.type != t) return false;
    return true;
  }
};

KILN_TACTIC_PROVIDER(CublasEpilogueProvider);

}  // namespace
}  // namespace kiln::cuda
