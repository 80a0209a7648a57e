// Device-side helpers shared by kiln's CUDA kernel files: element types (half and bfloat16
// compute in float), ONNX conversion rules, vector access, launch sizes, type dispatch, and
// the index maps of index_map.h.
//
// Kernel files are compiled by nvcc as C++17 (CMake 3.25 cannot ask nvcc for C++20), so they
// include no IR or backend header: providers (.cpp) do the host-side checks and call the
// launchers declared in the kernels' .h files, which take a cudaStream_t.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "backends/cuda/kernels/index_map.h"
#include "kiln/errors.h"
#include "kiln/types.h"

namespace kiln::cuda {

// ---- launch ----------------------------------------------------------------------------------

constexpr int kThreads = 256;

//! Blocks for `work` items at `threads` per block; kernels use grid-stride loops, so the grid
//! is capped (2^20 blocks keep every SM busy many times over).
inline unsigned gridFor(int64_t work, int threads = kThreads) {
  int64_t blocks = (work + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, int64_t{1} << 20));
}

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// ---- element types ---------------------------------------------------------------------------

//! The type arithmetic happens in: float for the 16-bit floats, the type itself otherwise.
template <typename T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<__half> {
  using type = float;
};
template <>
struct ComputeOf<__nv_bfloat16> {
  using type = float;
};
template <typename T>
using Compute = typename ComputeOf<T>::type;

template <typename T>
constexpr bool kIsFloat16 = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
constexpr bool kIsFloating = kIsFloat16<T> || std::is_floating_point_v<T>;

template <typename T>
__device__ __forceinline__ Compute<T> toCompute(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

//! Conversion with ONNX Cast semantics (as ir::Tensor::cast): float -> integer truncates
//! toward zero and gives 0 for NaN / inf; anything -> bool is "!= 0"; 16-bit floats round to
//! nearest even from float.
template <typename To, typename From>
__device__ __forceinline__ To convertTo(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (kIsFloat16<From>) {
    return convertTo<To>(toCompute(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if (!isfinite(v)) return To(0);
    return static_cast<To>(static_cast<long long>(v));
  } else {
    return static_cast<To>(v);
  }
}

//! Element i as double, and a double stored with the element type's rounding (16-bit floats
//! through float): the kernels that compute in double as the CPU reference does.
template <typename T>
__device__ __forceinline__ double loadDouble(const T* p, int64_t i) {
  return static_cast<double>(toCompute(p[i]));
}
template <typename T>
__device__ __forceinline__ void storeDouble(T* p, int64_t i, double v) {
  if constexpr (kIsFloat16<T>) p[i] = convertTo<T>(static_cast<float>(v));
  else p[i] = static_cast<T>(v);
}

//! Element i of `p`, of run-time type `t`, as double (as ir::Tensor::toDouble reads it).
__device__ __forceinline__ double loadAsDouble(const void* p, int64_t i, DataType t) {
  switch (t) {
    case DataType::kFLOAT: return static_cast<const float*>(p)[i];
    case DataType::kHALF: return __half2float(static_cast<const __half*>(p)[i]);
    case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DataType::kDOUBLE: return static_cast<const double*>(p)[i];
    case DataType::kINT8: return static_cast<const int8_t*>(p)[i];
    case DataType::kUINT8: return static_cast<const uint8_t*>(p)[i];
    case DataType::kINT16: return static_cast<const int16_t*>(p)[i];
    case DataType::kUINT16: return static_cast<const uint16_t*>(p)[i];
    case DataType::kINT32: return static_cast<const int32_t*>(p)[i];
    case DataType::kUINT32: return static_cast<const uint32_t*>(p)[i];
    case DataType::kINT64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DataType::kUINT64: return static_cast<double>(static_cast<const uint64_t*>(p)[i]);
    case DataType::kBOOL: return static_cast<const bool*>(p)[i] ? 1.0 : 0.0;
  }
  return 0.0;
}

//! N elements at an address aligned to their total size: one vector load or store.
template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

//! Elements per 16-byte access for the wider of two element types (at least 1).
template <typename A, typename B>
constexpr int vecWidth() {
  constexpr size_t wide = sizeof(A) > sizeof(B) ? sizeof(A) : sizeof(B);
  return wide >= 16 ? 1 : static_cast<int>(16 / wide);
}

// ---- type dispatch (C++17: the callee gets a TypeTag and reads ::type) ----------------------

template <typename T>
struct TypeTag {
  using type = T;
};

//! Calls f(TypeTag<T>{}) with the device element type of `type` (float, __half,
//! __nv_bfloat16, int32_t, int64_t, bool, int8_t, uint8_t); throws kUnsupported for others.
template <typename F>
decltype(auto) dispatchDeviceType(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(TypeTag<float>{});
    case DataType::kHALF: return f(TypeTag<__half>{});
    case DataType::kBF16: return f(TypeTag<__nv_bfloat16>{});
    case DataType::kINT32: return f(TypeTag<int32_t>{});
    case DataType::kINT64: return f(TypeTag<int64_t>{});
    case DataType::kBOOL: return f(TypeTag<bool>{});
    case DataType::kINT8: return f(TypeTag<int8_t>{});
    case DataType::kUINT8: return f(TypeTag<uint8_t>{});
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, "the CUDA kernels have no " + std::string(toString(type)) + " elements");
}

//! Calls f(TypeTag<T>{}) with the device element type of any kiln DataType: the types of
//! dispatchDeviceType and double, int16_t, uint16_t, uint32_t, uint64_t. For kernels that
//! cover every numeric type the CPU reference covers; instantiate only what a kernel needs.
template <typename F>
decltype(auto) dispatchAnyType(DataType type, F&& f) {
  switch (type) {
    case DataType::kDOUBLE: return f(TypeTag<double>{});
    case DataType::kINT16: return f(TypeTag<int16_t>{});
    case DataType::kUINT16: return f(TypeTag<uint16_t>{});
    case DataType::kUINT32: return f(TypeTag<uint32_t>{});
    case DataType::kUINT64: return f(TypeTag<uint64_t>{});
    default: return dispatchDeviceType(type, std::forward<F>(f));
  }
}

//! Calls f(TypeTag<T>{}) for the floating-point types float, __half, __nv_bfloat16 and double;
//! throws kInternal naming `what` for any other (callers check types in candidates()).
template <typename F>
decltype(auto) dispatchFloatingType(DataType type, const char* what, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(TypeTag<float>{});
    case DataType::kHALF: return f(TypeTag<__half>{});
    case DataType::kBF16: return f(TypeTag<__nv_bfloat16>{});
    case DataType::kDOUBLE: return f(TypeTag<double>{});
    default: break;
  }
  throw Error(ErrorCode::kInternal, std::string(what) + " has no kernel for " + std::string(toString(type)));
}

//! Calls f(TypeTag<U>{}) with an unsigned unit of `bytes` bytes (1, 2, 4, 8 or 16), for
//! kernels that only move bits.
template <typename F>
void dispatchUnit(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(TypeTag<uint8_t>{}); return;
    case 2: f(TypeTag<uint16_t>{}); return;
    case 4: f(TypeTag<uint32_t>{}); return;
    case 8: f(TypeTag<unsigned long long>{}); return;
    case 16: f(TypeTag<uint4>{}); return;
    default: throw Error(ErrorCode::kInternal, "no copy unit of " + std::to_string(bytes) + " bytes");
  }
}

}  // namespace kiln::cuda
