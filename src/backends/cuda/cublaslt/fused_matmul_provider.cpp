// Tactic provider "cublaslt.epilogue" (source kCUBLAS_LT): FusedMatMul as one cublasLtMatmul
// whose epilogue does the rest: BIAS, RELU(_BIAS), GELU(_BIAS), and the residual as C with
// beta = 1. Each algorithm cuBLASLt's heuristics propose at the opt, min or max shape is a
// tactic, kept only when cublasLtMatmulAlgoCheck accepts it at all three (the builder then
// also runs the chosen one at min, max and an odd size).
//
// What it leaves to "cublas.epilogue":
//  - a residual with an activation: cuBLASLt applies the activation after adding C, i.e. it
//    computes act(AB + bias + residual), not act(AB + bias) + residual;
//  - gelu_erf in fp32: cuBLASLt's GELU is the tanh approximation, which differs from the erf
//    form by up to ~5e-4 absolute (near |x| ~ 2.7). In fp16/bf16 that is below the precision's
//    own rounding (fp16's step there is ~2e-3, bf16's ~1.6e-2) and its 1e-2 tolerance, so it is
//    allowed there; in fp32 it would break the 1e-5 contract.
//
// Portability: as the "cublaslt" provider, algorithms are chosen for this GPU's architecture;
// every config is marked portable = false.
#include <cstring>
#include <memory>

#include "backends/cuda/cublas/fused_gemm.h"
#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/cublaslt/lt_matmul.h"

namespace kiln::cuda {
namespace {

using library::LayerConstants;

constexpr int kMaxCandidates = 8;
using lt::LtParams;

LtParams decode(const backend::TacticConfig& config, const std::string& layer) {
  return lt::decodeParams(config.params, config.name, layer, "cublaslt.epilogue");
}

//! The cuBLASLt epilogue that computes the layer, or false when none does (see the file comment).
bool epilogueFor(const blas::FusedGemm& f, DataType type, cublasLtEpilogue_t& epilogue) {
  if (f.residual && f.activation != blas::FusedActivation::kNone) return false;
  switch (f.activation) {
    case blas::FusedActivation::kNone:
      epilogue = f.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
      return true;
    case blas::FusedActivation::kRelu:
      epilogue = f.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
      return true;
    case blas::FusedActivation::kGeluErf:
      if (type == DataType::kFLOAT) return false;
      [[fallthrough]];
    case blas::FusedActivation::kGeluTanh:
      epilogue = f.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
      return true;
  }
  return false;
}

//! The whole layer as one cuBLASLt problem: the residual is C (D's layout) with beta = 1.
lt::LtProblem problemFor(const blas::FusedGemm& f, DataType type, bool tf32, cublasLtEpilogue_t epilogue) {
  lt::LtProblem p = lt::ltProblemFor(f.gemm(), type, tf32, epilogue);
  p.beta = f.residual ? 1.0f : 0.0f;
  return p;
}

const char* epilogueName(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_BIAS: return "bias";
    case CUBLASLT_EPILOGUE_RELU: return "relu";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "relu_bias";
    case CUBLASLT_EPILOGUE_GELU: return "gelu";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "gelu_bias";
    default: return "none";
  }
}

bool sameShape(const lt::LtProblem& a, const lt::LtProblem& b) {
  return a.rows == b.rows && a.cols == b.cols && a.k == b.k && a.lda == b.lda && a.ldb == b.ldb && a.ldd == b.ldd;
}

class LtEpilogueKernel final : public backend::Kernel {
 public:
  LtEpilogueKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        type_(layer.outputs[0].type),
        params_(decode(config, layer.node->describe())),
        workspace_(config.workspace),
        device_(device) {
    reshape(layer);
    KILN_CUBLAS_CHECK(cublasLtCreate(&handle_), context_);
    try {
      constants_.upload(device_, layer);
    } catch (...) {
      cublasLtDestroy(handle_);
      throw;
    }
  }
  //! A clone: the same weights and problem, its own handle.
  LtEpilogueKernel(const LtEpilogueKernel& other)
      : context_(other.context_),
        type_(other.type_),
        params_(other.params_),
        workspace_(other.workspace_),
        device_(other.device_),
        constants_(other.constants_),
        f_(other.f_),
        problem_(other.problem_) {
    KILN_CUBLAS_CHECK(cublasLtCreate(&handle_), context_);
  }
  LtEpilogueKernel& operator=(const LtEpilogueKernel&) = delete;
  ~LtEpilogueKernel() override {
    if (handle_) cublasLtDestroy(handle_);
  }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<LtEpilogueKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  void reshape(const backend::LayerView& layer) override {
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    if (!blas::describeFusedGemm(layer, f_) || !epilogueFor(f_, type_, epilogue) || epilogue != params_.epilogue)
      throw Error(ErrorCode::kRuntime, context_ + ": shapes outside what the tactic was built for");
    problem_ = problemFor(f_, type_, params_.tf32, params_.epilogue);
  }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (f_.m == 0 || f_.n == 0) return;
    lt::LtOperands ops;
    ops.a = constants_.input(args, 1);  // column-major swap: cuBLASLt's A is kiln's B
    ops.b = constants_.input(args, 0);
    ops.d = args.outputs[0];
    if (f_.bias) ops.bias = constants_.input(args, 2);
    if (f_.residual) ops.c = constants_.input(args, 3);
    lt::ltMatmul(handle_, problem_, params_.algo, ops, args.workspace, args.workspace_size,
                 static_cast<cudaStream_t>(args.stream), context_);
  }

 private:
  std::string context_;
  DataType type_;
  LtParams params_;
  size_t workspace_ = 0;
  backend::Device& device_;
  cublasLtHandle_t handle_ = nullptr;
  LayerConstants constants_;
  blas::FusedGemm f_;
  lt::LtProblem problem_;
};

class LtEpilogueProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cublaslt.epilogue"; }
  TacticSource source() const override { return TacticSource::kCUBLAS_LT; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "FusedMatMul"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    if (!backend::gpuDevice() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!library::isLibraryType(t) || !library::allOfType(opt, t)) return {};
    const bool tf32 = t == DataType::kFLOAT && options.tf32;
    cublasLtHandle_t handle = lt::processHandle();
    if (!handle) return {};

    lt::LtProblem problems[3];
    const backend::LayerView* views[3] = {&opt, &min, &max};
    for (int i = 0; i < 3; ++i) {
      blas::FusedGemm f;
      cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
      if (!blas::describeFusedGemm(*views[i], f) || !epilogueFor(f, t, epilogue)) return {};
      if (f.m == 0 || f.n == 0) return {};
      problems[i] = problemFor(f, t, tf32, epilogue);
    }
    const size_t limit = library::blasWorkspace(options);
    const std::string precision = library::precisionName(t, tf32);
    const std::string residual = problems[0].beta != 0.0f ? "+residual" : "";
    // Algorithms proposed for opt, then for min and max (see the "cublaslt" provider).
    std::vector<lt::LtAlgo> proposed;
    for (int i = 0; i < 3; ++i) {
      if (i > 0 && sameShape(problems[i], problems[0])) continue;
      for (const lt::LtAlgo& found : lt::ltHeuristics(handle, problems[i], limit, kMaxCandidates)) {
        bool seen = false;
        for (const lt::LtAlgo& p : proposed) seen = seen || std::memcmp(&p.algo, &found.algo, sizeof(found.algo)) == 0;
        if (!seen) proposed.push_back(found);
      }
    }
    std::vector<backend::TacticConfig> configs;
    for (const lt::LtAlgo& found : proposed) {
      size_t workspace = 0;
      bool valid = true;
      for (int i = 0; i < 3 && valid; ++i) {
        if (i > 0 && sameShape(problems[i], problems[0])) continue;
        size_t ws = 0;
        valid = lt::ltAlgoSupports(handle, problems[i], found.algo, ws) && ws <= limit;
        workspace = std::max(workspace, ws);
      }
      if (!valid) continue;
      backend::TacticConfig config;
      config.name = "cublaslt.epilogue." + precision + "." + epilogueName(problems[0].epilogue) + residual + "." +
                    lt::describeAlgo(found.algo);
      for (const auto& other : configs)
        if (other.name == config.name) config.name += "#" + std::to_string(configs.size());
      config.params = lt::encodeParams(LtParams{.tf32 = tf32, .epilogue = problems[0].epilogue, .algo = found.algo});
      config.workspace = workspace;
      config.formats = precision + " linear";
      config.portable = false;  // see the file comment
      configs.push_back(std::move(config));
    }
    return configs;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return std::make_unique<LtEpilogueKernel>(layer, config, device);
  }
};

KILN_TACTIC_PROVIDER(LtEpilogueProvider);

}  // namespace
}  // namespace kiln::cuda
