// Tactic sources and the description of a tactic as users see it (algorithm selector, build
// report, inspection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

//! Where a tactic comes from. Values are stable (plans and caches store them).
enum class TacticSource : int32_t {
  kREFERENCE = 0,  //!< kiln's CPU reference kernels (the oracle)
  kCPU = 1,        //!< kiln's faster CPU kernels (blocked GEMM, im2col convolution)
  kOPENBLAS = 2,   //!< OpenBLAS GEMM on the CPU
  kKILN_CUDA = 3,  //!< kiln's own CUDA kernels
  kCUBLAS = 4,
  kCUBLAS_LT = 5,
  kCUDNN = 6,
};
constexpr int32_t kNumTacticSources = 7;

//! "reference", "cpu", "openblas", "kiln", "cublas", "cublaslt", "cudnn".
std::string_view toString(TacticSource source);
//! Inverse of toString (case-insensitive; "cuda" is accepted for kKILN_CUDA). False if unknown.
bool parseTacticSource(std::string_view name, TacticSource& source);

//! One candidate tactic for one layer.
struct TacticInfo {
  TacticSource source = TacticSource::kREFERENCE;
  uint64_t id = 0;         //!< stable: hash of source, kernel and configuration
  std::string name;        //!< kernel and configuration, human readable
  std::string formats;     //!< tensor formats and precision, e.g. "fp32 linear"
  size_t workspace = 0;    //!< bytes of scratch memory it needs
  double time_ms = -1.0;   //!< measured median time at the profile's opt shape; < 0 if untimed
};

}  // namespace kiln
