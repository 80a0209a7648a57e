// cuBLASLt matmul descriptors on the stack, heuristics, algorithm checks and the run itself.
#include "backends/cuda/cublaslt/lt_matmul.h"

#include <cstring>
#include <mutex>

#include "backends/backend.h"
#include "backends/cuda/cublas/library_support.h"

namespace kiln::cuda::lt {
namespace {

//! Pointer alignment the algorithms may assume: kiln's device buffers are allocated at 256
//! bytes and sub-buffers are planned at 16 at least.
constexpr uint32_t kAlignment = 16;

//! A failed call inside descriptor setup: which call, what status.
struct Failure {
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  const char* call = nullptr;
  explicit operator bool() const { return status != CUBLAS_STATUS_SUCCESS; }
};

#define KILN_LT_TRY(call)                                           \
  do {                                                              \
    cublasStatus_t kiln_lt_status_ = (call);                        \
    if (kiln_lt_status_ != CUBLAS_STATUS_SUCCESS) return Failure{kiln_lt_status_, #call}; \
  } while (0)

struct Descriptors {
  cublasLtMatmulDescOpaque_t op;
  cublasLtMatrixLayoutOpaque_t a, b, d;
};

template <typename T>
cublasStatus_t setLayout(cublasLtMatrixLayoutOpaque_t& l, cublasLtMatrixLayoutAttribute_t attr, T value) {
  return cublasLtMatrixLayoutSetAttribute(&l, attr, &value, sizeof(value));
}
template <typename T>
cublasStatus_t setOp(cublasLtMatmulDescOpaque_t& d, cublasLtMatmulDescAttributes_t attr, T value) {
  return cublasLtMatmulDescSetAttribute(&d, attr, &value, sizeof(value));
}

Failure initLayout(cublasLtMatrixLayoutOpaque_t& l, cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld,
                   int64_t batch, int64_t stride) {
  KILN_LT_TRY(cublasLtMatrixLayoutInit(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    KILN_LT_TRY(setLayout(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch)));
    KILN_LT_TRY(setLayout(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride));
  }
  return {};
}

bool hasBias(cublasLtEpilogue_t e) { return (static_cast<uint32_t>(e) & CUBLASLT_EPILOGUE_BIAS) != 0; }

Failure initDescriptors(const LtProblem& p, const void* bias, Descriptors& s) {
  KILN_LT_TRY(cublasLtMatmulDescInit(&s.op, p.compute, CUDA_R_32F));
  KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<int32_t>(p.op_a)));
  KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<int32_t>(p.op_b)));
  KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<uint32_t>(p.epilogue)));
  if (hasBias(p.epilogue)) {
    KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias));
    KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(p.type)));
    if (p.batch > 1) KILN_LT_TRY(setOp(s.op, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, int64_t{0}));
  }
  const bool ta = p.op_a != CUBLAS_OP_N, tb = p.op_b != CUBLAS_OP_N;
  if (Failure f = initLayout(s.a, p.type, ta ? p.k : p.rows, ta ? p.rows : p.k, p.lda, p.batch, p.stride_a)) return f;
  if (Failure f = initLayout(s.b, p.type, tb ? p.cols : p.k, tb ? p.k : p.cols, p.ldb, p.batch, p.stride_b)) return f;
  if (Failure f = initLayout(s.d, p.type, p.rows, p.cols, p.ldd, p.batch, p.stride_d)) return f;
  return {};
}

//! Stand-in for the bias pointer while querying (never dereferenced; 256-byte aligned, as
//! kiln's uploaded biases are).
const void* const kQueryBias = reinterpret_cast<const void*>(uintptr_t{256});

}  // namespace

LtProblem ltProblemFor(const blas::GemmProblem& g, DataType type, bool tf32, cublasLtEpilogue_t epilogue) {
  LtProblem p;
  p.type = library::cudaTypeOf(type);
  p.compute = type == DataType::kFLOAT && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  p.op_a = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLASLt's A is kiln's B (see the header)
  p.op_b = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  p.rows = g.n;
  p.cols = g.m;
  p.k = g.k;
  p.lda = g.ldb;
  p.ldb = g.lda;
  p.ldd = g.n;
  p.batch = g.batch;
  p.stride_a = g.b_stride;
  p.stride_b = g.a_stride;
  p.stride_d = g.m * g.n;
  p.alpha = g.alpha;
  p.beta = g.bias == blas::BiasForm::kFull ? g.beta : 0.0f;
  p.epilogue = epilogue;
  return p;
}

cublasLtHandle_t processHandle() {
  struct ProcessHandle {
    cublasLtHandle_t handle = nullptr;
    ProcessHandle() {
      if (!backend::gpuDevice() || cublasLtCreate(&handle) != CUBLAS_STATUS_SUCCESS) handle = nullptr;
    }
  };
  static const ProcessHandle instance;  // thread-safe initialization; kept until exit
  return instance.handle;
}

std::vector<LtAlgo> ltHeuristics(cublasLtHandle_t handle, const LtProblem& p, size_t workspace_limit, int max_count) {
  Descriptors s;
  if (!handle || max_count <= 0 || initDescriptors(p, kQueryBias, s)) return {};
  cublasLtMatmulPreferenceOpaque_t pref;
  if (cublasLtMatmulPreferenceInit(&pref) != CUBLAS_STATUS_SUCCESS) return {};
  const uint64_t ws = workspace_limit;
  bool ok = cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)) ==
            CUBLAS_STATUS_SUCCESS;
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    ok = ok && cublasLtMatmulPreferenceSetAttribute(&pref, attr, &kAlignment, sizeof(kAlignment)) == CUBLAS_STATUS_SUCCESS;
  if (!ok) return {};
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(max_count));
  int returned = 0;
  if (cublasLtMatmulAlgoGetHeuristic(handle, &s.op, &s.a, &s.b, &s.d, &s.d, &pref, max_count, results.data(),
                                     &returned) != CUBLAS_STATUS_SUCCESS)
    return {};
  std::vector<LtAlgo> algos;
  for (int i = 0; i < returned; ++i)
    if (results[i].state == CUBLAS_STATUS_SUCCESS) algos.push_back(LtAlgo{results[i].algo, results[i].workspaceSize});
  return algos;
}

bool ltAlgoSupports(cublasLtHandle_t handle, const LtProblem& p, const cublasLtMatmulAlgo_t& algo, size_t& workspace) {
  Descriptors s;
  if (!handle || initDescriptors(p, kQueryBias, s)) return false;
  cublasLtMatmulHeuristicResult_t result{};
  if (cublasLtMatmulAlgoCheck(handle, &s.op, &s.a, &s.b, &s.d, &s.d, &algo, &result) != CUBLAS_STATUS_SUCCESS ||
      result.state != CUBLAS_STATUS_SUCCESS)
    return false;
  workspace = result.workspaceSize;
  return true;
}

void ltMatmul(cublasLtHandle_t handle, const LtProblem& p, const cublasLtMatmulAlgo_t& algo, const LtOperands& ops,
              void* workspace, size_t workspace_size, cudaStream_t stream, const std::string& context) {
  Descriptors s;
  if (Failure f = initDescriptors(p, ops.bias, s)) library::throwBlasError(f.status, f.call, context);
  const void* c = p.beta != 0.0f ? ops.c : ops.d;  // C is not read when beta == 0
  KILN_CUBLAS_CHECK(cublasLtMatmul(handle, &s.op, &p.alpha, ops.a, &s.a, ops.b, &s.b, &p.beta, c, &s.d, ops.d, &s.d,
                                   &algo, workspace, workspace ? workspace_size : 0, stream),
                    context);
}

std::string describeAlgo(const cublasLtMatmulAlgo_t& algo) {
  auto get = [&](cublasLtMatmulAlgoConfigAttributes_t attr) -> int64_t {
    uint32_t v = 0;  // every attribute read here is a 32-bit integer
    size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &v, sizeof(v), &written) != CUBLAS_STATUS_SUCCESS) return -1;
    return static_cast<int32_t>(v);
  };
  return "a" + std::to_string(get(CUBLASLT_ALGO_CONFIG_ID)) + ".t" + std::to_string(get(CUBLASLT_ALGO_CONFIG_TILE_ID)) +
         ".s" + std::to_string(get(CUBLASLT_ALGO_CONFIG_STAGES_ID)) + ".k" +
         std::to_string(get(CUBLASLT_ALGO_CONFIG_SPLITK_NUM)) + ".r" +
         std::to_string(get(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME)) + ".w" +
         std::to_string(get(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING)) + ".c" +
         std::to_string(get(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION));
}

namespace {
constexpr uint8_t kParamsVersion = 1;
constexpr size_t kParamsSize = 2 + sizeof(uint32_t) + sizeof(cublasLtMatmulAlgo_t);
}  // namespace

std::vector<std::byte> encodeParams(const LtParams& p) {
  std::vector<std::byte> bytes(kParamsSize);
  bytes[0] = std::byte{kParamsVersion};
  bytes[1] = std::byte{p.tf32 ? uint8_t{1} : uint8_t{0}};
  const auto epilogue = static_cast<uint32_t>(p.epilogue);
  std::memcpy(bytes.data() + 2, &epilogue, sizeof(epilogue));
  std::memcpy(bytes.data() + 2 + sizeof(epilogue), &p.algo, sizeof(p.algo));
  return bytes;
}

LtParams decodeParams(const std::vector<std::byte>& params, const std::string& tactic, const std::string& layer,
                      const char* provider) {
  if (params.size() != kParamsSize || params[0] != std::byte{kParamsVersion})
    throw Error(ErrorCode::kInvalidArgument,
                layer + ": tactic '" + tactic + "' has malformed " + provider + " parameters");
  LtParams p;
  p.tf32 = params[1] != std::byte{0};
  uint32_t epilogue = 0;
  std::memcpy(&epilogue, params.data() + 2, sizeof(epilogue));
  p.epilogue = static_cast<cublasLtEpilogue_t>(epilogue);
  std::memcpy(&p.algo, params.data() + 2 + sizeof(epilogue), sizeof(p.algo));
  return p;
}

}  // namespace kiln::cuda::lt
