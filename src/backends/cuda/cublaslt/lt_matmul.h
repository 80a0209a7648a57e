// One cuBLASLt matmul, described once and run with any epilogue: the cublaslt tactic provider
// uses it for MatMul/Gemm (with the BIAS epilogue for Gemm's row bias), and fusion passes
// reuse it for GEMM + bias + activation (RELU_BIAS, GELU_BIAS).
//
// Descriptors are initialized in caller-provided opaque structs (cublasLt*Init), so running a
// matmul allocates nothing: ltMatmul() is safe on the enqueue path.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/cublas/gemm_problem.h"
#include "kiln/types.h"

namespace kiln::cuda::lt {

//! Column-major D[rows, cols] = epilogue(alpha op(A) op(B) + beta C), batched by strides.
//! C, when used (beta != 0), has D's layout.
struct LtProblem {
  cudaDataType_t type = CUDA_R_32F;  //!< A, B, C, D (and the bias)
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasOperation_t op_a = CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  int64_t rows = 0, cols = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldd = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_d = 0;
  float alpha = 1.0f, beta = 0.0f;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;  //!< BIAS variants add a vector of `rows`
};

struct LtOperands {
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;  //!< read when beta != 0
  void* d = nullptr;
  const void* bias = nullptr;  //!< for BIAS epilogues: `rows` elements of `type`
};

//! kiln's row-major Y = op(A) op(B) (GemmProblem, without outer batch dims) as the
//! column-major problem Y^T = op(B)^T op(A)^T: LtOperands::a is kiln's B, ::b is kiln's A, and a
//! bias over Y's columns (Gemm's row C) is a bias over D's rows. beta is taken from `g` only
//! for a full C; pass `epilogue` BIAS for a row C.
LtProblem ltProblemFor(const blas::GemmProblem& g, DataType type, bool tf32, cublasLtEpilogue_t epilogue);

//! A cuBLASLt handle for this process (build-time queries), created on first use; nullptr when
//! there is no GPU or creation failed. Thread-safe; never destroyed.
cublasLtHandle_t processHandle();

struct LtAlgo {
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

//! Up to `max_count` algorithms for `p` from cuBLASLt's heuristics, assuming every pointer is
//! 16-byte aligned and at most `workspace_limit` bytes of workspace. Empty on any failure.
std::vector<LtAlgo> ltHeuristics(cublasLtHandle_t handle, const LtProblem& p, size_t workspace_limit, int max_count);

//! Whether `algo` runs `p` (cublasLtMatmulAlgoCheck); its workspace there in `workspace`.
bool ltAlgoSupports(cublasLtHandle_t handle, const LtProblem& p, const cublasLtMatmulAlgo_t& algo, size_t& workspace);

//! Enqueues the matmul on `stream`. Throws kiln::Error naming `context` (evaluated only on
//! failure) with the cuBLAS status. No allocation, no synchronization.
void ltMatmul(cublasLtHandle_t handle, const LtProblem& p, const cublasLtMatmulAlgo_t& algo, const LtOperands& ops,
              void* workspace, size_t workspace_size, cudaStream_t stream, const std::string& context);

//! "a<id>.t<tile>.s<stages>.k<splitk>.r<reduction>.w<swizzle>.c<custom>" for tactic names.
std::string describeAlgo(const cublasLtMatmulAlgo_t& algo);

//! A cuBLASLt tactic's parameters as stored in plans (both cuBLASLt providers use them):
//! version, TF32, the epilogue and the serialized algorithm.
struct LtParams {
  bool tf32 = false;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  cublasLtMatmulAlgo_t algo{};
};
std::vector<std::byte> encodeParams(const LtParams& p);
//! Throws kInvalidArgument naming `layer`, the tactic and `provider` on malformed bytes.
LtParams decodeParams(const std::vector<std::byte>& params, const std::string& tactic, const std::string& layer,
                      const char* provider);

}  // namespace kiln::cuda::lt
