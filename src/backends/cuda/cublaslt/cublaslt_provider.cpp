// Tactic provider "cublaslt" (source kCUBLAS_LT): MatMul/Gemm through cublasLtMatmul. Each
// algorithm that cuBLASLt's heuristics propose at the profile's opt, min or max shape is its
// own tactic (params: the serialized cublasLtMatmulAlgo_t, the epilogue and the precision),
// kept only when cublasLtMatmulAlgoCheck accepts it at all three. AlgoCheck is not the last
// word (on an H200 it accepts BIAS-epilogue algorithms chosen for M = 8 that cublasLtMatmul
// then refuses at M = 1), so the builder also runs the chosen tactic at min, max and an odd
// size before it keeps it. Gemm's C of [N] (or
// [1,N]) rides in the BIAS epilogue; a full [M,N] C is cuBLASLt's C matrix.
//
// Portability: cuBLASLt algorithms (tile, stages, cluster shape, split-K) are chosen for and
// checked on this GPU's architecture and may not exist on another, so every config is marked
// portable = false and `ampere+` builds leave this source out.
#include <cstring>
#include <memory>

#include "backends/cuda/cublas/gemm_problem.h"
#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/cublaslt/lt_matmul.h"

namespace kiln::cuda {
namespace {

using library::LayerConstants;

constexpr int kMaxCandidates = 8;
using lt::LtParams;

LtParams decode(const backend::TacticConfig& config, const std::string& layer) {
  return lt::decodeParams(config.params, config.name, layer, "cublaslt");
}

//! The epilogue a layer needs, or false when cuBLASLt cannot take its C: a row C goes to the
//! BIAS epilogue (unscaled, so beta must be 1 unless C is a constant that we pre-scale).
bool epilogueFor(const backend::LayerView& layer, const blas::GemmProblem& g, cublasLtEpilogue_t& epilogue) {
  epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  if (g.bias != blas::BiasForm::kRow) return true;
  if (g.beta != 1.0f && !layer.isConstant(2)) return false;
  epilogue = CUBLASLT_EPILOGUE_BIAS;
  return true;
}

bool sameShape(const lt::LtProblem& a, const lt::LtProblem& b) {
  return a.rows == b.rows && a.cols == b.cols && a.k == b.k && a.lda == b.lda && a.ldb == b.ldb && a.ldd == b.ldd &&
         a.batch == b.batch && a.stride_a == b.stride_a && a.stride_b == b.stride_b && a.stride_d == b.stride_d;
}

class CublasLtKernel final : public backend::Kernel {
 public:
  CublasLtKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        type_(layer.outputs[0].type),
        params_(decode(config, layer.node->describe())),
        workspace_(config.workspace),
        device_(device) {
    KILN_CUBLAS_CHECK(cublasLtCreate(&handle_), context_);
    try {
      prepare(layer);
    } catch (...) {
      cublasLtDestroy(handle_);
      throw;
    }
  }
  //! A clone: the same weights, its own handle.
  CublasLtKernel(const CublasLtKernel& other)
      : context_(other.context_),
        type_(other.type_),
        params_(other.params_),
        workspace_(other.workspace_),
        device_(other.device_),
        constants_(other.constants_),
        scaled_bias_(other.scaled_bias_) {
    KILN_CUBLAS_CHECK(cublasLtCreate(&handle_), context_);
  }
  CublasLtKernel& operator=(const CublasLtKernel&) = delete;
  ~CublasLtKernel() override {
    if (handle_) cublasLtDestroy(handle_);
  }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<CublasLtKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  bool refit(const backend::LayerView& layer) override {
    prepare(layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    blas::GemmProblem g;
    if (!blas::describeGemm(*args.layer, g) || g.outer_dims != 0)
      throw Error(ErrorCode::kRuntime, context_ + ": shapes outside what the tactic was built for");
    if (g.m == 0 || g.n == 0 || g.batch == 0) return;
    const lt::LtProblem p = lt::ltProblemFor(g, type_, params_.tf32, params_.epilogue);
    lt::LtOperands ops;
    ops.a = constants_.input(args, 1);  // column-major swap: cuBLASLt's A is kiln's B
    ops.b = constants_.input(args, 0);
    ops.d = args.outputs[0];
    if (g.bias == blas::BiasForm::kFull) ops.c = constants_.input(args, 2);
    if (g.bias == blas::BiasForm::kRow) ops.bias = scaled_bias_ ? scaled_bias_.get() : constants_.input(args, 2);
    lt::ltMatmul(handle_, p, params_.algo, ops, args.workspace, args.workspace_size, static_cast<cudaStream_t>(args.stream),
                 context_);
  }

 private:
  //! Uploads the constants; a constant row bias with beta != 1 is uploaded pre-scaled, since
  //! the BIAS epilogue adds it unscaled.
  void prepare(const backend::LayerView& layer) {
    constants_.upload(device_, layer);
    scaled_bias_.reset();
    const float beta = layer.attrs().f("beta", 1.0f);
    if (params_.epilogue == CUBLASLT_EPILOGUE_BIAS && beta != 1.0f && layer.isConstant(2)) {
      const ir::Tensor& c = *layer.constants[2];
      std::vector<double> values = c.toDouble();
      for (double& v : values) v *= beta;
      const ir::Tensor scaled = ir::Tensor::fromDouble(c.type(), c.shape(), values);
      backend::Device* device = &device_;
      std::shared_ptr<void> fresh(device_.allocate(std::max<size_t>(scaled.byteSize(), 1)),
                                  [device](void* p) { device->free(p); });
      device_.copyToDevice(fresh.get(), scaled.raw(), scaled.byteSize(), nullptr);
      device_.synchronize(nullptr);
      scaled_bias_ = std::move(fresh);
    }
  }

  std::string context_;
  DataType type_;
  LtParams params_;
  size_t workspace_ = 0;
  backend::Device& device_;
  cublasLtHandle_t handle_ = nullptr;
  LayerConstants constants_;
  std::shared_ptr<void> scaled_bias_;  //!< shared with clones
};

class CublasLtProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cublaslt"; }
  TacticSource source() const override { return TacticSource::kCUBLAS_LT; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "MatMul" || op == "Gemm"; }

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
      blas::GemmProblem g;
      cublasLtEpilogue_t epilogue;
      // Outer (non-mergeable) batch broadcasts are left to the cublas provider's host loop.
      if (!blas::describeGemm(*views[i], g) || g.outer_dims != 0 || !epilogueFor(*views[i], g, epilogue)) return {};
      if (g.m == 0 || g.n == 0 || g.batch == 0) return {};
      problems[i] = lt::ltProblemFor(g, t, tf32, epilogue);
    }
    const size_t limit = library::blasWorkspace(options);
    const std::string precision = library::precisionName(t, tf32);
    const std::string epilogue_name = problems[0].epilogue == CUBLASLT_EPILOGUE_BIAS ? ".bias" : "";
    // Algorithms proposed for the opt problem, then those for min and max: an algorithm
    // proposed for opt may not run at a very different size (e.g. a batch of 1), while one
    // proposed for min or max may run at all three.
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
      config.name = "cublaslt." + precision + epilogue_name + "." + lt::describeAlgo(found.algo);
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
    return std::make_unique<CublasLtKernel>(layer, config, device);
  }
};

KILN_TACTIC_PROVIDER(CublasLtProvider);

}  // namespace
}  // namespace kiln::cuda
