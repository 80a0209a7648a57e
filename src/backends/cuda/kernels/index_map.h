// Index maps: a flat output index -> operand offsets (numpy broadcasting, transposes, slices).
// Built on the host (in Kernel::reshape) with dims collapsed as far as the strides allow, and
// passed to kernels by value; a 32-bit index type is used when every offset fits, because
// 64-bit division is several times slower on the GPU. Plain C++17: included by the kernel
// files (nvcc) and by the providers.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/errors.h"

namespace kiln::cuda {

// ---- index maps ------------------------------------------------------------------------------

constexpr int kMaxRank = 12;

//! Output dims (row-major) and, per operand k, the stride (in elements) that each output
//! coordinate moves it by; stride 0 broadcasts. base[k] is operand k's offset at index 0.
template <typename I, int K>
struct IndexMap {
  int rank = 0;
  I dims[kMaxRank];
  I strides[K][kMaxRank];
  I base[K];
};

//! Offsets of output element `i` in each operand.
#ifdef __CUDACC__
template <typename I, int K>
__device__ __forceinline__ void mapOffsets(const IndexMap<I, K>& m, I i, I (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) off[k] = m.base[k];
  for (int d = m.rank - 1; d >= 0; --d) {
    I dim = m.dims[d];
    I q = i / dim;
    I r = i - q * dim;
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] += r * m.strides[k][d];
    i = q;
  }
}
#endif

//! The host form of an IndexMap (any rank, int64), before it is collapsed and narrowed.
struct HostIndexMap {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;  //!< [operand][dim]
  std::vector<int64_t> base;                  //!< [operand]

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }

  //! Drops dims of size 1 and merges neighbours that every operand walks contiguously.
  void collapse() {
    std::vector<int64_t> nd;
    std::vector<std::vector<int64_t>> ns(strides.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] == 1) continue;
      bool merge = !nd.empty();
      for (size_t k = 0; merge && k < strides.size(); ++k) merge = ns[k].back() == strides[k][d] * dims[d];
      if (merge) {
        nd.back() *= dims[d];
        for (size_t k = 0; k < strides.size(); ++k) ns[k].back() = strides[k][d];
      } else {
        nd.push_back(dims[d]);
        for (size_t k = 0; k < strides.size(); ++k) ns[k].push_back(strides[k][d]);
      }
    }
    dims = std::move(nd);
    strides = std::move(ns);
  }

  //! True when the element count and every operand offset fit a signed 32-bit index.
  bool fits32() const {
    if (numel() >= INT32_MAX) return false;
    for (size_t k = 0; k < strides.size(); ++k) {
      int64_t lo = base[k], hi = base[k];
      for (size_t d = 0; d < dims.size(); ++d) {
        int64_t span = (dims[d] - 1) * strides[k][d];
        (span < 0 ? lo : hi) += span;
      }
      if (lo < INT32_MIN || hi >= INT32_MAX) return false;
    }
    return true;
  }

  template <typename I, int K>
  IndexMap<I, K> narrow() const {
    if (dims.size() > static_cast<size_t>(kMaxRank) || strides.size() != static_cast<size_t>(K))
      throw Error(ErrorCode::kInternal, "index map of rank " + std::to_string(dims.size()) + " is too large");
    IndexMap<I, K> m{};
    m.rank = static_cast<int>(dims.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      m.dims[d] = static_cast<I>(dims[d]);
      for (int k = 0; k < K; ++k) m.strides[k][d] = static_cast<I>(strides[k][d]);
    }
    for (int k = 0; k < K; ++k) m.base[k] = static_cast<I>(base[k]);
    return m;
  }
};

//! Strides (elements) of `in` broadcast numpy-style to `out` (right-aligned; 0 where broadcast).
inline std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    size_t d_in = in.size() - 1 - i, d_out = out.size() - 1 - i;
    if (in[d_in] != 1) s[d_out] = stride;
    stride *= in[d_in];
  }
  return s;
}

//! The map from an output of shape `out` to operands of shapes `ins` broadcast to it, collapsed.
inline HostIndexMap broadcastMap(const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& ins) {
  HostIndexMap m;
  m.dims = out;
  for (const std::vector<int64_t>& s : ins) {
    m.strides.push_back(broadcastStrides(s, out));
    m.base.push_back(0);
  }
  m.collapse();
  return m;
}

}  // namespace kiln::cuda
