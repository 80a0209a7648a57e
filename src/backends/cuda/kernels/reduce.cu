// kiln's CUDA reductions: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare}
// over any set of axes, and ArgMax/ArgMin. Accumulation is in float for float, half and
// bfloat16; double, the integer types and bool reduce as the reference does ("wide").
//
// The input is seen as two interleaved index spaces after merging adjacent dims of the same
// kind: kept dims (one output element each) and reduced dims (summed over). Three tactics
// differ only in how many threads share one output element (a thread, a warp, a block); all
// are valid for every shape and the autotuner picks by timing.
#include <cstring>
#include <limits>

#include "backends/cuda/kernels/compute_common.cuh"

namespace kiln::cuda {
namespace {

constexpr int kMaxDims = 8;

//! An index space of up to kMaxDims dims (innermost last) with the input stride of each.
struct IndexSpace {
  int n = 0;
  int size[kMaxDims] = {};
  int stride[kMaxDims] = {};
  __device__ __forceinline__ int offset(int index) const {
    int off = 0;
    for (int d = n - 1; d >= 0; --d) {
      const int q = index / size[d];
      off += (index - q * size[d]) * stride[d];
      index = q;
    }
    return off;
  }
};

enum class ReduceOp : int { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

bool reduceOpOf(std::string_view op, ReduceOp& out) {
  static constexpr std::pair<std::string_view, ReduceOp> kOps[] = {{"ReduceSum", ReduceOp::kSum},
                                                                   {"ReduceMean", ReduceOp::kMean},
                                                                   {"ReduceMax", ReduceOp::kMax},
                                                                   {"ReduceMin", ReduceOp::kMin},
                                                                   {"ReduceProd", ReduceOp::kProd},
                                                                   {"ReduceL1", ReduceOp::kL1},
                                                                   {"ReduceL2", ReduceOp::kL2},
                                                                   {"ReduceLogSum", ReduceOp::kLogSum},
                                                                   {"ReduceLogSumExp", ReduceOp::kLogSumExp},
                                                                   {"ReduceSumSquare", ReduceOp::kSumSquare}};
  for (const auto& [name, value] : kOps)
    if (name == op) {
      out = value;
      return true;
    }
  return false;
}

template <typename F>
void dispatchReduceOp(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::kSum: return f.template operator()<ReduceOp::kSum>();
    case ReduceOp::kMean: return f.template operator()<ReduceOp::kMean>();
    case ReduceOp::kMax: return f.template operator()<ReduceOp::kMax>();
    case ReduceOp::kMin: return f.template operator()<ReduceOp::kMin>();
    case ReduceOp::kProd: return f.template operator()<ReduceOp::kProd>();
    case ReduceOp::kL1: return f.template operator()<ReduceOp::kL1>();
    case ReduceOp::kL2: return f.template operator()<ReduceOp::kL2>();
    case ReduceOp::kLogSum: return f.template operator()<ReduceOp::kLogSum>();
    case ReduceOp::kLogSumExp: return f.template operator()<ReduceOp::kLogSumExp>();
    case ReduceOp::kSumSquare: return f.template operator()<ReduceOp::kSumSquare>();
  }
}

// ---- the per-op arithmetic (all in float) ----------------------------------------------------

template <ReduceOp kOp>
__device__ __forceinline__ float initial() {
  if constexpr (kOp == ReduceOp::kProd) return 1.0f;
  if constexpr (kOp == ReduceOp::kMax) return -INFINITY;
  if constexpr (kOp == ReduceOp::kMin) return INFINITY;
  return 0.0f;
}

//! One element into the accumulator; `shift` is LogSumExp's max.
template <ReduceOp kOp>
__device__ __forceinline__ float step(float acc, float x, float shift) {
  switch (kOp) {
    case ReduceOp::kMax: return nanMax(acc, x);
    case ReduceOp::kMin: return nanMin(acc, x);
    case ReduceOp::kProd: return acc * x;
    case ReduceOp::kL1: return acc + fabsf(x);
    case ReduceOp::kL2:
    case ReduceOp::kSumSquare: return fmaf(x, x, acc);
    case ReduceOp::kLogSumExp: return acc + expf(x - shift);
    default: return acc + x;
  }
}

template <ReduceOp kOp>
__device__ __forceinline__ float combine(float a, float b) {
  if constexpr (kOp == ReduceOp::kMax) return nanMax(a, b);
  if constexpr (kOp == ReduceOp::kMin) return nanMin(a, b);
  if constexpr (kOp == ReduceOp::kProd) return a * b;
  return a + b;
}

template <ReduceOp kOp>
__device__ __forceinline__ float finish(float acc, int count, float shift) {
  switch (kOp) {
    case ReduceOp::kMean: return acc / static_cast<float>(count);
    case ReduceOp::kL2: return sqrtf(acc);
    case ReduceOp::kLogSum: return logf(acc);
    case ReduceOp::kLogSumExp: return logf(acc) + shift;
    default: return acc;
  }
}

template <ReduceOp kOp>
__device__ __forceinline__ float warpCombine(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = combine<kOp>(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

template <ReduceOp kOp>
__device__ __forceinline__ float blockCombine(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpCombine<kOp>(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : initial<kOp>();
  return warpCombine<kOp>(v);
}

__device__ __forceinline__ float finiteOrZero(float shift) { return isfinite(shift) ? shift : 0.0f; }

//! The geometry of one reduction: output elements over `kept`, each reducing `count`
//! elements over `reduced`.
struct ReduceGeometry {
  IndexSpace kept, reduced;
  int outputs = 0, count = 0;
};

//! One thread per output element.
template <typename T, ReduceOp kOp>
__global__ void reducePerThread(const T* __restrict__ x, T* __restrict__ y, ReduceGeometry g) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= g.outputs) return;
  const T* base = x + g.kept.offset(o);
  float shift = 0.0f;
  if constexpr (kOp == ReduceOp::kLogSumExp) {
    float m = -INFINITY;
    for (int r = 0; r < g.count; ++r) m = nanMax(m, toFloat(base[g.reduced.offset(r)]));
    shift = finiteOrZero(m);
  }
  float acc = initial<kOp>();
  for (int r = 0; r < g.count; ++r) acc = step<kOp>(acc, toFloat(base[g.reduced.offset(r)]), shift);
  y[o] = fromFloat<T>(finish<kOp>(acc, g.count, shift));
}

//! One warp per output element (blocks of 8 warps).
template <typename T, ReduceOp kOp>
__global__ void reducePerWarp(const T* __restrict__ x, T* __restrict__ y, ReduceGeometry g) {
  const int o = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (o >= g.outputs) return;  // whole warps leave together
  const T* base = x + g.kept.offset(o);
  float shift = 0.0f;
  if constexpr (kOp == ReduceOp::kLogSumExp) {
    float m = -INFINITY;
    for (int r = lane; r < g.count; r += 32) m = nanMax(m, toFloat(base[g.reduced.offset(r)]));
    shift = finiteOrZero(warpMax(m));
  }
  float acc = initial<kOp>();
  for (int r = lane; r < g.count; r += 32) acc = step<kOp>(acc, toFloat(base[g.reduced.offset(r)]), shift);
  acc = warpCombine<kOp>(acc);
  if (lane == 0) y[o] = fromFloat<T>(finish<kOp>(acc, g.count, shift));
}

//! One block per output element, for long reductions over few outputs.
template <typename T, ReduceOp kOp>
__global__ void reducePerBlock(const T* __restrict__ x, T* __restrict__ y, ReduceGeometry g) {
  __shared__ float scratch[32];
  const int o = blockIdx.x;
  const T* base = x + g.kept.offset(o);
  float shift = 0.0f;
  if constexpr (kOp == ReduceOp::kLogSumExp) {
    float m = -INFINITY;
    for (int r = threadIdx.x; r < g.count; r += blockDim.x) m = nanMax(m, toFloat(base[g.reduced.offset(r)]));
    shift = finiteOrZero(blockMax(m, scratch));
  }
  float acc = initial<kOp>();
  for (int r = threadIdx.x; r < g.count; r += blockDim.x)
    acc = step<kOp>(acc, toFloat(base[g.reduced.offset(r)]), shift);
  acc = blockCombine<kOp>(acc, scratch);
  if (threadIdx.x == 0) y[o] = fromFloat<T>(finish<kOp>(acc, g.count, shift));
}

// ---- every other type: one thread per output, the reference's accumulation ---------------------

//! Whether Reduce* runs exactly in the integer accumulator (the reference's rule): the ops
//! that stay integral on integer inputs. The others go through double and round.
template <typename T, ReduceOp kOp>
constexpr bool kExactIntegral =
    std::is_integral_v<T>&& kOp != ReduceOp::kL2&& kOp != ReduceOp::kLogSum&& kOp != ReduceOp::kLogSumExp;

template <typename T>
using WideAccumulator =
    std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;

//! double, the integer types and bool, as the CPU reference reduces them: integers exactly
//! in 64 bits for Sum/Mean/Max/Min/Prod/L1/SumSquare, everything else in double (integers
//! rounded to nearest at the end).
template <typename T, ReduceOp kOp>
__global__ void reduceWide(const T* __restrict__ x, T* __restrict__ y, ReduceGeometry g) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= g.outputs) return;
  const T* base = x + g.kept.offset(o);
  if constexpr (kExactIntegral<T, kOp>) {
    using Acc = WideAccumulator<T>;
    Acc acc = 0;
    if constexpr (kOp == ReduceOp::kProd) acc = 1;
    if constexpr (kOp == ReduceOp::kMax) acc = static_cast<Acc>(std::numeric_limits<T>::lowest());
    if constexpr (kOp == ReduceOp::kMin) acc = static_cast<Acc>(std::numeric_limits<T>::max());
    for (int r = 0; r < g.count; ++r) {
      const Acc v = static_cast<Acc>(base[g.reduced.offset(r)]);
      switch (kOp) {
        case ReduceOp::kMax: acc = v > acc ? v : acc; break;
        case ReduceOp::kMin: acc = v < acc ? v : acc; break;
        case ReduceOp::kProd: acc *= v; break;
        case ReduceOp::kL1:
          if constexpr (std::is_signed_v<Acc>) acc += v < 0 ? -v : v;
          else acc += v;
          break;
        case ReduceOp::kSumSquare: acc += v * v; break;
        default: acc += v; break;
      }
    }
    if constexpr (kOp == ReduceOp::kMean) acc = g.count ? acc / static_cast<Acc>(g.count) : 0;
    y[o] = static_cast<T>(acc);
  } else {
    double shift = 0.0;
    if constexpr (kOp == ReduceOp::kLogSumExp) {
      shift = -INFINITY;
      for (int r = 0; r < g.count; ++r) {
        const double v = static_cast<double>(base[g.reduced.offset(r)]);
        if (v > shift) shift = v;
      }
      if (!isfinite(shift)) shift = 0.0;
    }
    double acc = 0.0;
    if constexpr (kOp == ReduceOp::kProd) acc = 1.0;
    if constexpr (kOp == ReduceOp::kMax) acc = -INFINITY;
    if constexpr (kOp == ReduceOp::kMin) acc = INFINITY;
    for (int r = 0; r < g.count; ++r) {
      const double v = static_cast<double>(base[g.reduced.offset(r)]);
      switch (kOp) {
        case ReduceOp::kMax: acc = (v > acc || v != v) ? v : acc; break;
        case ReduceOp::kMin: acc = (v < acc || v != v) ? v : acc; break;
        case ReduceOp::kProd: acc *= v; break;
        case ReduceOp::kL1: acc += fabs(v); break;
        case ReduceOp::kL2:
        case ReduceOp::kSumSquare: acc += v * v; break;
        case ReduceOp::kLogSumExp: acc += exp(v - shift); break;
        default: acc += v; break;
      }
    }
    switch (kOp) {
      case ReduceOp::kMean: acc /= static_cast<double>(g.count); break;
      case ReduceOp::kL2: acc = sqrt(acc); break;
      case ReduceOp::kLogSum: acc = log(acc); break;
      case ReduceOp::kLogSumExp: acc = log(acc) + shift; break;
      default: break;
    }
    if constexpr (std::is_integral_v<T>) y[o] = static_cast<T>(llround(acc));
    else y[o] = static_cast<T>(acc);
  }
}

//! The types reduceWide takes: double, every integer type and bool.
bool isWideType(DataType t) { return !isComputeType(t); }

template <typename F>
void dispatchWide(DataType t, F&& f) {
  switch (t) {
    case DataType::kDOUBLE: return f.template operator()<double>();
    case DataType::kINT8: return f.template operator()<int8_t>();
    case DataType::kUINT8: return f.template operator()<uint8_t>();
    case DataType::kINT16: return f.template operator()<int16_t>();
    case DataType::kUINT16: return f.template operator()<uint16_t>();
    case DataType::kINT32: return f.template operator()<int32_t>();
    case DataType::kUINT32: return f.template operator()<uint32_t>();
    case DataType::kINT64: return f.template operator()<int64_t>();
    case DataType::kUINT64: return f.template operator()<uint64_t>();
    case DataType::kBOOL: return f.template operator()<bool>();
    default: throw Error(ErrorCode::kInternal, "cuda.reduce.wide: no kernel for " + std::string(toString(t)));
  }
}

enum class Spread : uint8_t { kThread = 0, kWarp = 1, kBlock = 2, kWide = 3 };
constexpr const char* kSpreadNames[] = {"thread", "warp", "block", "wide"};

//! The axes a Reduce* layer reduces, or false when they are not known on the host.
bool reducedAxes(const backend::LayerView& layer, std::vector<bool>& reduced, bool& noop) {
  const int64_t rank = static_cast<int64_t>(layer.inputs[0].shape.size());
  std::vector<int64_t> axes;
  if (hasInput(layer, 1) && volume(layer.inputs[1].shape) != 0) {  // an empty axes input needs no values
    const ir::Tensor* v = hostValue(layer, 1);
    if (!v) return false;
    axes = v->toInt64();
  } else if (layer.attrs().has("axes")) {  // a layer not normalized to the axes input
    axes = layer.attrs().ints("axes");
  }
  noop = false;
  if (axes.empty()) {
    noop = layer.attrs().i("noop_with_empty_axes", 0) != 0;
    reduced.assign(rank, true);
    return true;
  }
  reduced.assign(rank, false);
  for (int64_t a : axes) {
    const int64_t axis = a < 0 ? a + rank : a;
    if (axis < 0 || axis >= rank) return false;
    reduced[axis] = true;
  }
  return true;
}

//! Splits `shape` into merged kept and reduced index spaces. False when either needs more
//! than kMaxDims dims.
bool makeGeometry(const ir::Shape& shape, const std::vector<bool>& reduced, ReduceGeometry& g) {
  g = {};
  // Innermost first while merging; reversed at the end.
  struct Dim {
    int64_t size, stride;
    bool reduced;
  };
  std::vector<Dim> dims;
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t s = shape[d];
    if (s != 1) {
      if (!dims.empty() && dims.back().reduced == reduced[d] && dims.back().stride * dims.back().size == stride)
        dims.back().size *= s;
      else dims.push_back({s, stride, reduced[d]});
    }
    stride *= s;
  }
  int64_t outputs = 1, count = 1;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    IndexSpace& space = it->reduced ? g.reduced : g.kept;
    if (space.n == kMaxDims) return false;
    space.size[space.n] = static_cast<int>(it->size);
    space.stride[space.n] = static_cast<int>(it->stride);
    ++space.n;
    (it->reduced ? count : outputs) *= it->size;
  }
  g.outputs = static_cast<int>(outputs);
  g.count = static_cast<int>(count);
  return true;
}

class ReduceKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ReduceKernel>(*this); }
  ReduceKernel(const backend::LayerView& layer, backend::Device& device, ReduceOp op, Spread spread)
      : ComputeKernel(layer, device), op_(op), spread_(spread) {
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    std::vector<bool> reduced;
    if (!reducedAxes(layer, reduced, noop_) || !makeGeometry(layer.inputs[0].shape, reduced, geometry_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.reduce cannot reduce these axes at these shapes");
    bytes_ = static_cast<size_t>(numel(layer.inputs[0].shape)) * elementSize(type_);
  }

  void run(const backend::RunArgs& args) override {
    cudaStream_t stream = streamOf(args);
    if (noop_) {
      if (bytes_)
        KILN_CUDA_CHECK(cudaMemcpyAsync(args.outputs[0], args.inputs[0], bytes_, cudaMemcpyDeviceToDevice, stream),
                        name_);
      return;
    }
    if (geometry_.outputs == 0) return;
    if (spread_ == Spread::kWide) {
      dispatchWide(type_, [&]<typename T>() {
        dispatchReduceOp(op_, [&]<ReduceOp kOp>() {
          reduceWide<T, kOp><<<gridFor(geometry_.outputs, 256), 256, 0, stream>>>(
              static_cast<const T*>(args.inputs[0]), static_cast<T*>(args.outputs[0]), geometry_);
        });
      });
      checkLaunch();
      return;
    }
    dispatchCompute(type_, [&]<typename T>() {
      dispatchReduceOp(op_, [&]<ReduceOp kOp>() {
        const T* x = static_cast<const T*>(args.inputs[0]);
        T* y = static_cast<T*>(args.outputs[0]);
        switch (spread_) {
          case Spread::kThread:
            reducePerThread<T, kOp><<<gridFor(geometry_.outputs, 256), 256, 0, stream>>>(x, y, geometry_);
            break;
          case Spread::kWarp:
            reducePerWarp<T, kOp><<<gridFor(geometry_.outputs, 8), 256, 0, stream>>>(x, y, geometry_);
            break;
          case Spread::kBlock: reducePerBlock<T, kOp><<<geometry_.outputs, 256, 0, stream>>>(x, y, geometry_); break;
        }
      });
    });
    checkLaunch();
  }

  bool refit(const backend::LayerView&) override { return true; }  // no weights

 private:
  ReduceOp op_;
  Spread spread_;
  DataType type_ = DataType::kFLOAT;
  bool noop_ = false;
  size_t bytes_ = 0;
  ReduceGeometry geometry_;
};

// ---- ArgMax / ArgMin -------------------------------------------------------------------------

//! (value, index) ordering of the reference: strictly better values win; equal values go to
//! the lower index, or the higher one with select_last_index.
template <bool kMax>
__device__ __forceinline__ bool better(float v, int i, float best, int best_i, bool last) {
  if (kMax ? v > best : v < best) return true;
  return v == best && (last ? i > best_i : i < best_i);
}

struct ArgGeometry {
  int outer = 1, extent = 1, inner = 1;
  bool last = false;
};

//! One thread per output; reads coalesce across `inner`.
template <typename T, bool kMax>
__global__ void argPerThread(const T* __restrict__ x, int64_t* __restrict__ y, ArgGeometry g) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= g.outer * g.inner) return;
  const int outer = o / g.inner, inner = o - outer * g.inner;
  const T* base = x + static_cast<int64_t>(outer) * g.extent * g.inner + inner;
  float best = toFloat(base[0]);
  int best_i = 0;
  for (int k = 1; k < g.extent; ++k) {
    const float v = toFloat(base[static_cast<int64_t>(k) * g.inner]);
    if (better<kMax>(v, k, best, best_i, g.last)) {
      best = v;
      best_i = k;
    }
  }
  y[o] = best_i;
}

//! One warp per output along a contiguous axis (inner == 1).
template <typename T, bool kMax>
__global__ void argPerWarp(const T* __restrict__ x, int64_t* __restrict__ y, ArgGeometry g) {
  const int o = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (o >= g.outer) return;
  const T* base = x + static_cast<int64_t>(o) * g.extent;
  float best = 0.0f;
  int best_i = -1;  // -1: nothing seen yet by this lane
  for (int k = lane; k < g.extent; k += 32) {
    const float v = toFloat(base[k]);
    if (best_i < 0 || better<kMax>(v, k, best, best_i, g.last)) {
      best = v;
      best_i = k;
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, best, offset);
    const int i = __shfl_xor_sync(0xffffffffu, best_i, offset);
    if (i >= 0 && (best_i < 0 || better<kMax>(v, i, best, best_i, g.last))) {
      best = v;
      best_i = i;
    }
  }
  if (lane == 0) y[o] = best_i;
}

class ArgKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<ArgKernel>(*this); }
  ArgKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    is_max_ = layer.node->op == "ArgMax";
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.inputs[0].type;
    const ir::Shape& s = layer.inputs[0].shape;
    const int64_t rank = static_cast<int64_t>(s.size());
    int64_t axis = layer.attrs().i("axis", 0);
    if (axis < 0) axis += rank;
    g_ = {};
    for (int64_t d = 0; d < rank; ++d) {
      if (d < axis) g_.outer *= static_cast<int>(s[d]);
      else if (d == axis) g_.extent = static_cast<int>(s[d]);
      else g_.inner *= static_cast<int>(s[d]);
    }
    g_.last = layer.attrs().i("select_last_index", 0) != 0;
  }

  void run(const backend::RunArgs& args) override {
    if (g_.outer == 0 || g_.inner == 0 || g_.extent == 0) return;
    cudaStream_t stream = streamOf(args);
    int64_t* y = static_cast<int64_t*>(args.outputs[0]);
    dispatchCompute(type_, [&]<typename T>() {
      const T* x = static_cast<const T*>(args.inputs[0]);
      const bool per_warp = g_.inner == 1 && g_.extent >= 64;
      if (per_warp) {
        if (is_max_) argPerWarp<T, true><<<gridFor(g_.outer, 8), 256, 0, stream>>>(x, y, g_);
        else argPerWarp<T, false><<<gridFor(g_.outer, 8), 256, 0, stream>>>(x, y, g_);
      } else {
        const int64_t outputs = static_cast<int64_t>(g_.outer) * g_.inner;
        if (is_max_) argPerThread<T, true><<<gridFor(outputs, 256), 256, 0, stream>>>(x, y, g_);
        else argPerThread<T, false><<<gridFor(outputs, 256), 256, 0, stream>>>(x, y, g_);
      }
    });
    checkLaunch();
  }

  bool refit(const backend::LayerView&) override { return true; }

 private:
  bool is_max_ = true;
  DataType type_ = DataType::kFLOAT;
  ArgGeometry g_;
};

//! One provider for the whole family: Reduce* (three spreads) and ArgMax/ArgMin.
class ReduceProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.reduce"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override {
    ReduceOp r;
    return reduceOpOf(op, r) || isArg(op);
  }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || opt.outputs.empty()) return {};
    const bool wide = isWideType(opt.inputs[0].type);
    if (wide && isArg(opt.node->op)) return {};
    for (const backend::LayerView* l : {&min, &opt, &max})
      if (!allFitInt32(*l)) return {};
    if (isArg(opt.node->op)) {
      if (opt.outputs[0].type != DataType::kINT64) return {};
      return {backend::TacticConfig{.name = "cuda.reduce.arg"}};
    }
    ReduceOp op;
    if (!reduceOpOf(opt.node->op, op) || opt.inputs[0].type != opt.outputs[0].type) return {};
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      std::vector<bool> reduced;
      bool noop = false;
      ReduceGeometry g;
      if (!reducedAxes(*l, reduced, noop) || !makeGeometry(l->inputs[0].shape, reduced, g)) return {};
    }
    if (wide) return {{.name = "cuda.reduce.wide", .params = {std::byte{3}}}};
    std::vector<backend::TacticConfig> out;
    for (uint8_t s = 0; s < 3; ++s)
      out.push_back({.name = std::string("cuda.reduce.") + kSpreadNames[s], .params = {std::byte{s}}});
    return out;
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    if (isArg(layer.node->op)) return std::make_unique<ArgKernel>(layer, device);
    ReduceOp op;
    if (!reduceOpOf(layer.node->op, op) || config.params.size() != 1 || static_cast<uint8_t>(config.params[0]) > 3)
      throw Error(ErrorCode::kInvalidPlan, layer.node->describe() + ": bad cuda.reduce tactic '" + config.name + "'");
    return std::make_unique<ReduceKernel>(layer, device, op, static_cast<Spread>(config.params[0]));
  }

 private:
  static bool isArg(std::string_view op) { return op == "ArgMax" || op == "ArgMin"; }
};

KILN_TACTIC_PROVIDER(ReduceProvider);

}  // namespace
}  // namespace kiln::cuda
