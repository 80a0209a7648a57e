// Tactic provider "cublas" (source kCUBLAS): MatMul (2-D, batched with broadcast batch dims
// through strided-batched calls, 1-D operands promoted) and Gemm (transA/transB, alpha/beta,
// C as [M,N] or a broadcast row) in fp32 (tf32 tensor cores only when the build allows
// them), fp16 and bf16, always accumulating in fp32 (cublasGemmStridedBatchedEx with
// CUBLAS_COMPUTE_32F).
//
// Handles: one cublasHandle_t per kernel object. A handle binds a stream and a workspace, so
// every execution context runs its own clone (own handle, shared weights) and no lock is taken.
// The workspace comes from RunArgs (declared in TacticConfig::workspace), so cuBLAS never
// allocates on the enqueue path.
#include <cuda_runtime.h>

#include "backends/cuda/check.h"
#include "backends/cuda/cublas/gemm_problem.h"
#include "backends/cuda/cublas/library_support.h"

namespace kiln::cuda {
namespace {

using library::LayerConstants;

//! Outer batch iterations that the kernel loops over on the host; beyond this the layer is
//! left to tactics that index batches on the device.
constexpr int64_t kMaxOuterIterations = 4096;

struct CublasParams {
  bool tf32 = false;
};

std::vector<std::byte> encode(const CublasParams& p) { return {std::byte{1}, std::byte{p.tf32 ? uint8_t{1} : uint8_t{0}}}; }

CublasParams decode(const backend::TacticConfig& config, const std::string& layer) {
  if (config.params.size() != 2 || config.params[0] != std::byte{1})
    throw Error(ErrorCode::kInvalidArgument, layer + ": tactic '" + config.name + "' has malformed cublas parameters");
  return CublasParams{.tf32 = config.params[1] != std::byte{0}};
}

class CublasGemmKernel final : public backend::Kernel {
 public:
  CublasGemmKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        type_(layer.outputs[0].type),
        params_(decode(config, layer.node->describe())),
        workspace_(config.workspace),
        device_(&device) {
    createHandle();
    try {
      constants_.upload(device, layer);
    } catch (...) {
      cublasDestroy(handle_);
      throw;
    }
  }
  //! A clone: the same weights, its own handle (a handle carries a stream and a workspace).
  CublasGemmKernel(const CublasGemmKernel& other)
      : context_(other.context_),
        type_(other.type_),
        params_(other.params_),
        workspace_(other.workspace_),
        device_(other.device_),
        constants_(other.constants_) {
    createHandle();
  }
  CublasGemmKernel& operator=(const CublasGemmKernel&) = delete;
  ~CublasGemmKernel() override { cublasDestroy(handle_); }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CublasGemmKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(*device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    blas::GemmProblem p;
    if (!blas::describeGemm(*args.layer, p))
      throw Error(ErrorCode::kRuntime, context_ + ": shapes outside what the tactic was built for");
    const int64_t outer = p.outerCount();
    if (p.m == 0 || p.n == 0 || p.batch == 0 || outer == 0) return;
    cudaStream_t stream = static_cast<cudaStream_t>(args.stream);
    const size_t es = elementSize(type_);
    const auto* a = static_cast<const std::byte*>(constants_.input(args, 0));
    const auto* b = static_cast<const std::byte*>(constants_.input(args, 1));
    auto* y = static_cast<std::byte*>(args.outputs[0]);

    // cublasSetStream resets the workspace to cuBLAS's own pool: set ours after it.
    KILN_CUBLAS_CHECK(cublasSetStream(handle_, stream), context_);
    KILN_CUBLAS_CHECK(cublasSetWorkspace(handle_, args.workspace, args.workspace ? args.workspace_size : 0), context_);
    if (p.bias != blas::BiasForm::kNone) copyBias(p, constants_.input(args, 2), y, es, stream);

    const cudaDataType_t t = library::cudaTypeOf(type_);
    const cublasComputeType_t compute = params_.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const float alpha = p.alpha, beta = p.bias == blas::BiasForm::kNone ? 0.0f : p.beta;
    // Column-major Y^T[n, m] = op(B)^T op(A)^T: B first.
    const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    for (int64_t i = 0; i < outer; ++i) {
      int64_t oa = 0, ob = 0, oy = 0;
      p.outerOffsets(i, oa, ob, oy);
      KILN_CUBLAS_CHECK(
          cublasGemmStridedBatchedEx(handle_, op_b, op_a, static_cast<int>(p.n), static_cast<int>(p.m),
                                     static_cast<int>(p.k), &alpha, b + ob * es, t, static_cast<int>(p.ldb),
                                     p.b_stride, a + oa * es, t, static_cast<int>(p.lda), p.a_stride, &beta,
                                     y + oy * es, t, static_cast<int>(p.n), p.m * p.n, static_cast<int>(p.batch),
                                     compute, CUBLAS_GEMM_DEFAULT),
          context_);
    }
  }

 private:
  void createHandle() {
    KILN_CUBLAS_CHECK(cublasCreate(&handle_), context_);
    // Reduced-precision reductions stay off for fp16/bf16: accuracy first, as the reference.
    const cublasMath_t math = params_.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    const cublasStatus_t status =
        cublasSetMathMode(handle_, static_cast<cublasMath_t>(math | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (status != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle_);
      handle_ = nullptr;
      library::throwBlasError(status, "cublasSetMathMode", context_);
    }
  }

  //! Y = C before the GEMM runs with beta: a plain copy for [M,N]; for a row, the row is copied
  //! once and then the filled rows are doubled (log2(M) copies, no kernel of our own).
  void copyBias(const blas::GemmProblem& p, const void* c, std::byte* y, size_t es, cudaStream_t stream) const {
    const size_t row = static_cast<size_t>(p.n) * es;
    if (p.bias == blas::BiasForm::kFull) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(y, c, row * static_cast<size_t>(p.m), cudaMemcpyDeviceToDevice, stream), context_);
      return;
    }
    KILN_CUDA_CHECK(cudaMemcpyAsync(y, c, row, cudaMemcpyDeviceToDevice, stream), context_);
    for (int64_t filled = 1; filled < p.m;) {
      const int64_t count = std::min(filled, p.m - filled);
      KILN_CUDA_CHECK(cudaMemcpyAsync(y + static_cast<size_t>(filled) * row, y, static_cast<size_t>(count) * row,
                                      cudaMemcpyDeviceToDevice, stream),
                      context_);
      filled += count;
    }
  }

  std::string context_;
  DataType type_;
  CublasParams params_;
  size_t workspace_ = 0;
  backend::Device* device_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  LayerConstants constants_;
};

class CublasProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cublas"; }
  TacticSource source() const override { return TacticSource::kCUBLAS; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "MatMul" || op == "Gemm"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    if (!backend::gpuDevice() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!library::isLibraryType(t) || !library::allOfType(opt, t)) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      blas::GemmProblem p;
      if (!blas::describeGemm(*l, p) || p.outerCount() > kMaxOuterIterations) return {};
    }
    const bool tf32 = t == DataType::kFLOAT && options.tf32;
    // cuBLAS picks its kernel at run time for the GPU it runs on: valid on every sm >= 80.
    return {backend::TacticConfig{.name = "cublas.gemm." + library::precisionName(t, tf32),
                                  .params = encode(CublasParams{.tf32 = tf32}),
                                  .workspace = library::blasWorkspace(options),
                                  .formats = library::precisionName(t, tf32) + " linear",
                                  .portable = true}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return std::make_unique<CublasGemmKernel>(layer, config, device);
  }
};

KILN_TACTIC_PROVIDER(CublasProvider);

}  // namespace
}  // namespace kiln::cuda
