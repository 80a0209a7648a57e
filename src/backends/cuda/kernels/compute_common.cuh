// Shared pieces of kiln's own compute kernels (reduce, softmax, normalization, pool, conv,
// gemm): element conversion to and from float (every kernel accumulates in float), warp
// reductions, host-side type dispatch, device buffers for weights, a kernel base class that
// checks its launches, and the shared-memory tiled GEMM core that conv and gemm both use.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "backends/backend.h"
#include "backends/cuda/check.h"

namespace kiln::cuda {

// ---- element types -------------------------------------------------------------------------

__device__ __forceinline__ float toFloat(float x) { return x; }
__device__ __forceinline__ float toFloat(__half x) { return __half2float(x); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T fromFloat(float x);
template <>
__device__ __forceinline__ float fromFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

//! The element types these kernels compute in: fp32, fp16, bf16 (accumulating in float).
inline bool isComputeType(DataType t) {
  return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16;
}

//! Calls f.template operator()<T>() with T = float, __half or __nv_bfloat16 for `t`.
template <typename F>
decltype(auto) dispatchCompute(DataType t, F&& f) {
  switch (t) {
    case DataType::kHALF: return f.template operator()<__half>();
    case DataType::kBF16: return f.template operator()<__nv_bfloat16>();
    default: return f.template operator()<float>();
  }
}

//! Number of elements of a concrete shape.
inline int64_t numel(const ir::Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

//! Index math in the kernels is 32-bit; larger tensors get no candidate.
inline bool fitsInt32(const ir::Shape& s) { return numel(s) < std::numeric_limits<int32_t>::max(); }

inline bool allFitInt32(const backend::LayerView& layer) {
  for (const auto& t : layer.inputs)
    if (t.present && !fitsInt32(t.shape)) return false;
  for (const auto& t : layer.outputs)
    if (t.present && !fitsInt32(t.shape)) return false;
  return true;
}

inline bool hasInput(const backend::LayerView& layer, int i) {
  return i < static_cast<int>(layer.inputs.size()) && layer.inputs[i].present;
}
inline bool hasOutput(const backend::LayerView& layer, int o) {
  return o < static_cast<int>(layer.outputs.size()) && layer.outputs[o].present;
}

//! The layer's value of input `i` known on the host (a constant, else a host-computed value).
inline const ir::Tensor* hostValue(const backend::LayerView& layer, int i) {
  if (layer.isConstant(i)) return layer.constants[i];
  if (i < static_cast<int>(layer.host_values.size())) return layer.host_values[i];
  return nullptr;
}

// ---- warp and block reductions ---------------------------------------------------------------

__device__ __forceinline__ float warpSum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

//! Max that propagates NaN (as the reference does).
__device__ __forceinline__ float nanMax(float a, float b) { return (b > a || isnan(b)) ? b : a; }
__device__ __forceinline__ float nanMin(float a, float b) { return (b < a || isnan(b)) ? b : a; }

__device__ __forceinline__ float warpMax(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = nanMax(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

//! Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets
//! the result. `scratch` holds 32 floats of shared memory; the call synchronizes the block.
__device__ __forceinline__ float blockSum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpSum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return warpSum(v);
}

__device__ __forceinline__ float blockMax(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpMax(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warpMax(v);
}

inline unsigned gridFor(int64_t work, int per_block) {
  return static_cast<unsigned>((work + per_block - 1) / per_block);
}

// ---- host side: weights and the kernel base --------------------------------------------------

//! Device memory holding a copy of host bytes (weights, folded constants). Uploads are
//! synchronous (instantiate and refit are off the enqueue path). Freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  void upload(backend::Device& device, const void* host, size_t bytes) {
    if (bytes != bytes_ || device_ != &device) {
      release();
      device_ = &device;
      data_ = device.allocate(bytes ? bytes : 1);
      bytes_ = bytes;
    }
    if (bytes) device.copyToDevice(data_, host, bytes, nullptr);
    device.synchronize(nullptr);
  }
  void upload(backend::Device& device, const ir::Tensor& t) { upload(device, t.raw(), t.byteSize()); }
  void release() noexcept {
    if (device_) device_->free(data_);
    device_ = nullptr;
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

 private:
  backend::Device* device_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

//! An input that is uploaded once when it is a constant (weights) and read from the run's
//! input pointers otherwise. Copies share the upload (a kernel's clones share its weights);
//! prepare() makes a new one, so re-preparing never changes what a copy reads.
class ConstantOrInput {
 public:
  void prepare(backend::Device& device, const backend::LayerView& layer, int index) {
    index_ = index;
    buffer_.reset();
    if (!layer.isConstant(index)) return;
    auto fresh = std::make_shared<DeviceBuffer>();
    fresh->upload(device, *layer.constants[index]);
    buffer_ = std::move(fresh);
  }
  const void* get(const backend::RunArgs& args) const {
    if (buffer_) return buffer_->data();
    return index_ < static_cast<int>(args.inputs.size()) ? args.inputs[index_] : nullptr;
  }

 private:
  int index_ = -1;
  std::shared_ptr<const DeviceBuffer> buffer_;
};

//! Base of the compute kernels: keeps the device and the layer's name for messages.
class ComputeKernel : public backend::Kernel {
 protected:
  ComputeKernel(const backend::LayerView& layer, backend::Device& device)
      : device_(device), name_(layer.node->describe()) {}
  //! After each launch: a bad launch configuration becomes an error naming the layer.
  void checkLaunch() const { KILN_CUDA_CHECK(cudaGetLastError(), name_); }
  static cudaStream_t streamOf(const backend::RunArgs& args) { return static_cast<cudaStream_t>(args.stream); }

  backend::Device& device_;
  std::string name_;
};

// ---- the tiled GEMM core ---------------------------------------------------------------------

//! C tile (kTileM x kTileN) of C = A[M,K] x B[K,N] for one thread block of kGemmThreads
//! threads; each thread accumulates a 4x4 register block (rows ty + 16 i, columns tx + 16 j,
//! so that shared-memory reads and global stores stay conflict-free and coalesced).
constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

//! loadA(m, k) / loadB(k, n) return the element as float (callers bound-check, returning 0
//! outside); store(m, n, acc) writes one result (called only inside M x N). a_k_fast /
//! b_n_fast choose the thread-to-element map of the tile loads so that consecutive threads
//! read consecutive addresses.
template <typename LoadA, typename LoadB, typename Store>
__device__ __forceinline__ void tiledGemm(int M, int N, int K, int m0, int n0, const LoadA& loadA, const LoadB& loadB,
                                          const Store& store, bool a_k_fast, bool b_n_fast) {
  __shared__ float as[kTileK][kTileM + 4];
  __shared__ float bs[kTileK][kTileN + 4];
  const int tid = threadIdx.x;
  const int tx = tid & 15, ty = tid >> 4;
  constexpr int kPer = kTileM * kTileK / kGemmThreads;  // 4 elements per thread per tile
  float ra[kPer], rb[kPer];
  float acc[4][4] = {};

  auto fetch = [&](int k0) {
#pragma unroll
    for (int r = 0; r < kPer; ++r) {
      const int e = tid + r * kGemmThreads;
      const int am = a_k_fast ? e / kTileK : e % kTileM, ak = a_k_fast ? e % kTileK : e / kTileM;
      const int m = m0 + am, k = k0 + ak;
      ra[r] = (m < M && k < K) ? loadA(m, k) : 0.0f;
      const int bn = b_n_fast ? e % kTileN : e / kTileK, bk = b_n_fast ? e / kTileN : e % kTileK;
      const int n = n0 + bn, kb = k0 + bk;
      rb[r] = (n < N && kb < K) ? loadB(kb, n) : 0.0f;
    }
  };
  auto stash = [&] {
#pragma unroll
    for (int r = 0; r < kPer; ++r) {
      const int e = tid + r * kGemmThreads;
      const int am = a_k_fast ? e / kTileK : e % kTileM, ak = a_k_fast ? e % kTileK : e / kTileM;
      as[ak][am] = ra[r];
      const int bn = b_n_fast ? e % kTileN : e / kTileK, bk = b_n_fast ? e / kTileN : e % kTileK;
      bs[bk][bn] = rb[r];
    }
  };

  fetch(0);
  for (int k0 = 0; k0 < K; k0 += kTileK) {
    stash();
    __syncthreads();
    if (k0 + kTileK < K) fetch(k0 + kTileK);  // the next tile's loads overlap this tile's math
#pragma unroll
    for (int k = 0; k < kTileK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = as[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n < N) store(m, n, acc[i][j]);
    }
  }
}

}  // namespace kiln::cuda
