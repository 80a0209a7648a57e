// Broadcasting elementwise kernels: the binary arithmetic, comparison and logic ops on float,
// half, bf16, int32, int64 and bool, and Where. The other element types go to
// elementwise_wide.cu.
//
// Two shapes of work: "flat" (every operand is the output's shape or one element: no index
// arithmetic, 16-byte accesses when aligned) and "broadcast" (numpy broadcasting through a
// collapsed index map, 32-bit indices when they fit). Integer arithmetic wraps (two's
// complement), integer division by zero gives 0, Min/Max propagate NaN: as the reference does
// (the functions are in elementwise_ops.cuh).
#include "backends/cuda/kernels/elementwise_ops.cuh"

namespace kiln::cuda {
namespace {

//! Which element types each op has vectorized kernels for (the others: elementwise_wide.cu).
template <BinaryOp kOp, typename T>
constexpr bool binaryHas() {
  constexpr bool is_float = kIsFloat16<T> || std::is_same_v<T, float>;
  constexpr bool is_int = std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;
  switch (kOp) {
    case BinaryOp::kPow:
    case BinaryOp::kPRelu: return is_float;
    case BinaryOp::kEqual: return is_float || is_int || std::is_same_v<T, bool>;
    case BinaryOp::kAnd:
    case BinaryOp::kOr: return std::is_same_v<T, bool>;
    case BinaryOp::kMod:
    case BinaryOp::kFmod:
    case BinaryOp::kShiftLeft:
    case BinaryOp::kShiftRight:
    case BinaryOp::kBitAnd:
    case BinaryOp::kBitOr:
    case BinaryOp::kBitXor: return false;
    default: return is_float || is_int;
  }
}

template <typename Fn, typename T, typename TOut, int N>
__global__ void flatBinaryKernel(const T* __restrict__ a, const T* __restrict__ b, TOut* __restrict__ out, int64_t n,
                                 bool a_scalar, bool b_scalar, Fn fn) {
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t chunks = n / N;
  for (int64_t c = tid; c < chunks; c += stride) {
    Vec<T, N> va, vb;
    if (a_scalar) {
#pragma unroll
      for (int k = 0; k < N; ++k) va.v[k] = a[0];
    } else {
      va = reinterpret_cast<const Vec<T, N>*>(a)[c];
    }
    if (b_scalar) {
#pragma unroll
      for (int k = 0; k < N; ++k) vb.v[k] = b[0];
    } else {
      vb = reinterpret_cast<const Vec<T, N>*>(b)[c];
    }
    Vec<TOut, N> r;
#pragma unroll
    for (int k = 0; k < N; ++k) r.v[k] = convertTo<TOut>(fn(toCompute(va.v[k]), toCompute(vb.v[k])));
    reinterpret_cast<Vec<TOut, N>*>(out)[c] = r;
  }
  const int64_t t = chunks * N + tid;  // the last n % N elements
  if (t < n) out[t] = convertTo<TOut>(fn(toCompute(a[a_scalar ? 0 : t]), toCompute(b[b_scalar ? 0 : t])));
}

template <typename Fn, typename T, typename TOut, typename I>
__global__ void broadcastBinaryKernel(const T* __restrict__ a, const T* __restrict__ b, TOut* __restrict__ out,
                                      int64_t n, const __grid_constant__ IndexMap<I, 3> m, Fn fn) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I off[3];
    mapOffsets(m, static_cast<I>(i), off);
    out[i] = convertTo<TOut>(fn(toCompute(a[off[0]]), toCompute(b[off[1]])));
  }
}

template <typename T, int N>
__global__ void flatWhereKernel(const bool* __restrict__ c, const T* __restrict__ x, const T* __restrict__ y,
                                T* __restrict__ out, int64_t n, bool c_scalar, bool x_scalar, bool y_scalar) {
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t chunks = n / N;
  for (int64_t q = tid; q < chunks; q += stride) {
    Vec<bool, N> vc;
    Vec<T, N> vx, vy, r;
    if (c_scalar) {
#pragma unroll
      for (int k = 0; k < N; ++k) vc.v[k] = c[0];
    } else {
      vc = reinterpret_cast<const Vec<bool, N>*>(c)[q];
    }
    if (x_scalar) {
#pragma unroll
      for (int k = 0; k < N; ++k) vx.v[k] = x[0];
    } else {
      vx = reinterpret_cast<const Vec<T, N>*>(x)[q];
    }
    if (y_scalar) {
#pragma unroll
      for (int k = 0; k < N; ++k) vy.v[k] = y[0];
    } else {
      vy = reinterpret_cast<const Vec<T, N>*>(y)[q];
    }
#pragma unroll
    for (int k = 0; k < N; ++k) r.v[k] = vc.v[k] ? vx.v[k] : vy.v[k];
    reinterpret_cast<Vec<T, N>*>(out)[q] = r;
  }
  const int64_t t = chunks * N + tid;
  if (t < n) out[t] = c[c_scalar ? 0 : t] ? x[x_scalar ? 0 : t] : y[y_scalar ? 0 : t];
}

template <typename T, typename I>
__global__ void broadcastWhereKernel(const bool* __restrict__ c, const T* __restrict__ x, const T* __restrict__ y,
                                     T* __restrict__ out, int64_t n, const __grid_constant__ IndexMap<I, 3> m) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I off[3];
    mapOffsets(m, static_cast<I>(i), off);
    out[i] = c[off[0]] ? x[off[1]] : y[off[2]];
  }
}

template <BinaryOp kOp, typename T>
void launchTyped(const BroadcastPlan& plan, const void* a, const void* b, void* out, bool vectorize,
                 cudaStream_t stream) {
  using TOut = std::conditional_t<(kOp >= BinaryOp::kEqual), bool, T>;
  const T* pa = static_cast<const T*>(a);
  const T* pb = static_cast<const T*>(b);
  TOut* po = static_cast<TOut*>(out);
  BinaryFn<kOp> fn;
  if (plan.flat) {
    constexpr int N = vecWidth<T, TOut>();
    const size_t in_bytes = sizeof(T) * N, out_bytes = sizeof(TOut) * N;
    bool vec = vectorize && N > 1 && aligned(a, in_bytes) && aligned(b, in_bytes) && aligned(out, out_bytes);
    if (vec)
      flatBinaryKernel<BinaryFn<kOp>, T, TOut, N>
          <<<gridFor(plan.n / N + 1), kThreads, 0, stream>>>(pa, pb, po, plan.n, plan.scalar[0], plan.scalar[1], fn);
    else
      flatBinaryKernel<BinaryFn<kOp>, T, TOut, 1>
          <<<gridFor(plan.n), kThreads, 0, stream>>>(pa, pb, po, plan.n, plan.scalar[0], plan.scalar[1], fn);
  } else if (plan.use32) {
    broadcastBinaryKernel<BinaryFn<kOp>, T, TOut, int32_t>
        <<<gridFor(plan.n), kThreads, 0, stream>>>(pa, pb, po, plan.n, plan.m32, fn);
  } else {
    broadcastBinaryKernel<BinaryFn<kOp>, T, TOut, int64_t>
        <<<gridFor(plan.n), kThreads, 0, stream>>>(pa, pb, po, plan.n, plan.m64, fn);
  }
}

template <BinaryOp kOp>
void launchOp(DataType type, const BroadcastPlan& plan, const void* a, const void* b, void* out, bool vectorize,
              cudaStream_t stream) {
  dispatchDeviceType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (binaryHas<kOp, T>()) launchTyped<kOp, T>(plan, a, b, out, vectorize, stream);
    else throw Error(ErrorCode::kInternal, "no binary kernel for " + std::string(toString(type)));
  });
}

template <BinaryOp kOp>
bool hasType(DataType type) {
  switch (type) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kBOOL: break;
    default: return false;
  }
  return dispatchDeviceType(type, [&](auto tag) { return binaryHas<kOp, typename decltype(tag)::type>(); });
}

}  // namespace

bool isComparison(BinaryOp op) { return op >= BinaryOp::kEqual; }

bool binaryVectorizes(BinaryOp op, DataType in) {
  return dispatchBinary(op, [&](auto tag) { return hasType<decltype(tag)::value>(in); });
}

bool binarySupported(BinaryOp op, DataType in) { return binaryVectorizes(op, in) || wideBinarySupported(op, in); }

BroadcastPlan planBroadcast(const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& ins) {
  BroadcastPlan plan;
  plan.n = volume(out);
  plan.flat = true;
  for (size_t k = 0; k < ins.size(); ++k) {
    int64_t v = volume(ins[k]);
    plan.scalar[k] = v == 1;
    if (v != 1 && v != plan.n) plan.flat = false;
  }
  HostIndexMap map = broadcastMap(out, ins);
  while (map.strides.size() < 3) {  // kernels take three operands; unused ones stay at 0
    map.strides.emplace_back(map.dims.size(), 0);
    map.base.push_back(0);
  }
  if (map.dims.size() > static_cast<size_t>(kMaxRank))
    throw Error(ErrorCode::kUnsupported, "broadcast of rank " + std::to_string(map.dims.size()) + " is too large");
  plan.use32 = map.fits32();
  if (plan.use32) plan.m32 = map.narrow<int32_t, 3>();
  plan.m64 = map.narrow<int64_t, 3>();
  return plan;
}

void launchBinary(BinaryOp op, DataType in_type, const BroadcastPlan& plan, const void* a, const void* b, void* out,
                  bool vectorize, cudaStream_t stream) {
  if (plan.n == 0) return;
  if (!binaryVectorizes(op, in_type)) {
    launchWideBinary(op, in_type, plan, a, b, out, stream);
    return;
  }
  dispatchBinary(op, [&](auto tag) { launchOp<decltype(tag)::value>(in_type, plan, a, b, out, vectorize, stream); });
}

void launchWhere(size_t element_size, const BroadcastPlan& plan, const void* cond, const void* x, const void* y,
                 void* out, bool vectorize, cudaStream_t stream) {
  if (plan.n == 0) return;
  const bool* c = static_cast<const bool*>(cond);
  dispatchUnit(element_size, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (sizeof(T) <= 8) {
      const T* px = static_cast<const T*>(x);
      const T* py = static_cast<const T*>(y);
      T* po = static_cast<T*>(out);
      if (plan.flat) {
        constexpr int N = vecWidth<T, T>();
        bool vec = vectorize && aligned(cond, N) && aligned(x, sizeof(T) * N) && aligned(y, sizeof(T) * N) &&
                   aligned(out, sizeof(T) * N);
        if (vec)
          flatWhereKernel<T, N><<<gridFor(plan.n / N + 1), kThreads, 0, stream>>>(c, px, py, po, plan.n, plan.scalar[0],
                                                                                  plan.scalar[1], plan.scalar[2]);
        else
          flatWhereKernel<T, 1><<<gridFor(plan.n), kThreads, 0, stream>>>(c, px, py, po, plan.n, plan.scalar[0],
                                                                          plan.scalar[1], plan.scalar[2]);
      } else if (plan.use32) {
        broadcastWhereKernel<T, int32_t><<<gridFor(plan.n), kThreads, 0, stream>>>(c, px, py, po, plan.n, plan.m32);
      } else {
        broadcastWhereKernel<T, int64_t><<<gridFor(plan.n), kThreads, 0, stream>>>(c, px, py, po, plan.n, plan.m64);
      }
    } else {
      throw Error(ErrorCode::kInternal, "Where on 16-byte elements");
    }
  });
}

}  // namespace kiln::cuda
