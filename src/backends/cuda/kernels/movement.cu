// Data-movement kernels of "cuda.movement" (the provider is cuda_movement.cpp): strided copies
// (with a shared-memory tiled transpose), row copies, Gather, Pad and 4-D Resize. Copies move
// units of 1-16 bytes: contiguous runs are widened to 16-byte accesses where the sizes and the
// pointers allow, and every element type shares the same kernels.
#include <cmath>
#include <initializer_list>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/movement.h"

namespace kiln::cuda {
namespace {

// ---- strided copy ----------------------------------------------------------------------------

template <typename U, typename I>
__global__ void stridedCopyKernel(const U* __restrict__ in, U* __restrict__ out, int64_t n,
                                  const __grid_constant__ IndexMap<I, 1> m) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I off[1];
    mapOffsets(m, static_cast<I>(i), off);
    out[i] = in[off[0]];
  }
}

constexpr int kTile = 32;
constexpr int kTileRows = 8;

//! in [batch, rows, cols] -> out [batch, cols, rows] through a padded shared-memory tile, so
//! that both the reads and the writes are coalesced.
template <typename T>
__global__ void transposeTiledKernel(const T* __restrict__ in, T* __restrict__ out, int64_t batch, int64_t rows,
                                     int64_t cols) {
  __shared__ T tile[kTile][kTile + 1];
  const int64_t plane = rows * cols;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* src = in + b * plane;
    T* dst = out + b * plane;
    int64_t x = static_cast<int64_t>(blockIdx.x) * kTile + threadIdx.x;
    int64_t y0 = static_cast<int64_t>(blockIdx.y) * kTile + threadIdx.y;
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows)
      if (x < cols && y0 + j < rows) tile[threadIdx.y + j][threadIdx.x] = src[(y0 + j) * cols + x];
    __syncthreads();
    x = static_cast<int64_t>(blockIdx.y) * kTile + threadIdx.x;
    y0 = static_cast<int64_t>(blockIdx.x) * kTile + threadIdx.y;
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows)
      if (x < rows && y0 + j < cols) dst[(y0 + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
    __syncthreads();
  }
}

//! in [batch, rows, cols] -> out [batch, cols, rows] for a few rows (NCHW -> NHWC of an image
//! with 3 or 4 channels): one thread per (batch, col) reads `rows` elements, each row's reads
//! coalesced across the warp, and writes them contiguously; the tile of the kernel above would
//! be mostly empty.
template <typename T, typename I>
__global__ void transposeFewRowsKernel(const T* __restrict__ in, T* __restrict__ out, I batch, int rows, I cols) {
  const I total = batch * cols;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I b = i / cols, col = i - b * cols;
    const T* src = in + b * rows * cols + col;
    T* dst = out + i * rows;
    for (int r = 0; r < rows; ++r) dst[r] = src[static_cast<I>(r) * cols];
  }
}
constexpr int64_t kFewRows = 8;

template <typename U>
void launchLevel(const StridedCopyPlan::Level& level, int64_t n, const void* in, void* out, cudaStream_t stream) {
  const U* src = static_cast<const U*>(in);
  U* dst = static_cast<U*>(out);
  if (level.use32) stridedCopyKernel<U, int32_t><<<gridFor(n), kThreads, 0, stream>>>(src, dst, n, level.m32);
  else stridedCopyKernel<U, int64_t><<<gridFor(n), kThreads, 0, stream>>>(src, dst, n, level.m64);
}

//! The widened form of a collapsed element map whose innermost dim is contiguous in the input,
//! or false when none exists.
bool widen(const HostIndexMap& map, size_t element_size, HostIndexMap& wide, size_t& unit) {
  if (map.dims.empty() || map.strides[0].back() != 1) return false;
  for (size_t u = 16; u > element_size; u /= 2) {
    if (u % element_size) continue;
    int64_t f = static_cast<int64_t>(u / element_size);
    bool ok = map.dims.back() % f == 0 && map.base[0] % f == 0;
    for (size_t d = 0; ok && d + 1 < map.dims.size(); ++d) ok = map.strides[0][d] % f == 0;
    if (!ok) continue;
    wide = map;
    wide.dims.back() /= f;
    for (size_t d = 0; d + 1 < wide.dims.size(); ++d) wide.strides[0][d] /= f;
    wide.base[0] /= f;
    unit = u;
    return true;
  }
  return false;
}

StridedCopyPlan::Level makeLevel(const HostIndexMap& map, size_t unit) {
  StridedCopyPlan::Level level;
  level.unit = unit;
  level.use32 = map.fits32();
  if (level.use32) level.m32 = map.narrow<int32_t, 1>();
  else level.m64 = map.narrow<int64_t, 1>();
  return level;
}

// ---- row copies ------------------------------------------------------------------------------

constexpr int kMaxPieces = 8;

template <typename I>
struct RowBatch {
  int count = 0;
  I rows = 0;
  const void* src[kMaxPieces];
  void* dst[kMaxPieces];
  I src_pitch[kMaxPieces];  // in units
  I dst_pitch[kMaxPieces];
  I row_units[kMaxPieces];
};

//! blockIdx.y picks the piece; the x-grid strides over its rows * row_units units.
template <typename U, typename I>
__global__ void rowCopyKernel(const __grid_constant__ RowBatch<I> b) {
  const int p = blockIdx.y;
  const U* __restrict__ src = static_cast<const U*>(b.src[p]);
  U* __restrict__ dst = static_cast<U*>(b.dst[p]);
  const I cols = b.row_units[p];
  const int64_t n = static_cast<int64_t>(b.rows) * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I r = static_cast<I>(i) / cols;
    I c = static_cast<I>(i) - r * cols;
    dst[r * b.dst_pitch[p] + c] = src[r * b.src_pitch[p] + c];
  }
}

template <typename I>
void launchRowBatch(const RowCopy* pieces, int count, int64_t rows, size_t unit, cudaStream_t stream) {
  RowBatch<I> b;
  b.count = count;
  b.rows = static_cast<I>(rows);
  int64_t most = 0;
  for (int p = 0; p < count; ++p) {
    b.src[p] = pieces[p].src;
    b.dst[p] = pieces[p].dst;
    b.src_pitch[p] = static_cast<I>(pieces[p].src_pitch / static_cast<int64_t>(unit));
    b.dst_pitch[p] = static_cast<I>(pieces[p].dst_pitch / static_cast<int64_t>(unit));
    b.row_units[p] = static_cast<I>(pieces[p].row_bytes / static_cast<int64_t>(unit));
    most = std::max<int64_t>(most, rows * b.row_units[p]);
  }
  dim3 grid(gridFor(most), static_cast<unsigned>(count));
  dispatchUnit(unit, [&](auto tag) {
    using U = typename decltype(tag)::type;
    rowCopyKernel<U, I><<<grid, kThreads, 0, stream>>>(b);
  });
}

//! The largest unit (<= 16 bytes) that divides every value and address given.
size_t commonUnit(std::initializer_list<int64_t> values) {
  size_t unit = 16;
  for (int64_t v : values)
    while (unit > 1 && v % static_cast<int64_t>(unit) != 0) unit /= 2;
  return unit;
}

// ---- Gather ----------------------------------------------------------------------------------

template <typename U, typename Idx, typename I>
__global__ void gatherKernel(const U* __restrict__ data, const Idx* __restrict__ indices, U* __restrict__ out,
                             int64_t n, I axis_dim, I num_indices, I inner) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I t = static_cast<I>(i) / inner;
    I c = static_cast<I>(i) - t * inner;
    I o = t / num_indices;
    I j = t - o * num_indices;
    long long v = static_cast<long long>(indices[j]);
    if (v < 0) v += axis_dim;
    if (v < 0 || v >= axis_dim) out[i] = U{};
    else out[i] = data[(o * axis_dim + static_cast<I>(v)) * inner + c];
  }
}

// ---- Pad -------------------------------------------------------------------------------------

struct PadArgs {
  int rank;
  int mode;
  int64_t out_dims[kMaxPadRank];
  int64_t in_dims[kMaxPadRank];
  int64_t in_strides[kMaxPadRank];
  int64_t before[kMaxPadRank];
};

//! I: the index type, 32-bit where every offset fits (64-bit division is several times slower).
template <typename U, typename I>
__global__ void padKernel(const U* __restrict__ in, const U* __restrict__ value, U* __restrict__ out, I n,
                          const __grid_constant__ PadArgs p) {
  const U fill = value ? *value : U{};
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I rem = i, off = 0;
    bool outside = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const I out_dim = static_cast<I>(p.out_dims[d]);
      I coord = rem % out_dim;
      rem /= out_dim;
      I dim = static_cast<I>(p.in_dims[d]);
      I s = coord - static_cast<I>(p.before[d]);
      if (s < 0 || s >= dim) {
        if (p.mode == 0 || dim == 0) {
          outside = true;
          break;
        } else if (p.mode == 1) {
          s = s < 0 ? 0 : dim - 1;
        } else if (p.mode == 2) {
          if (dim == 1) {
            s = 0;
          } else {
            I period = 2 * (dim - 1), m = ((s % period) + period) % period;
            s = m < dim ? m : period - m;
          }
        } else {
          s = ((s % dim) + dim) % dim;
        }
      }
      off += s * static_cast<I>(p.in_strides[d]);
    }
    out[i] = outside ? fill : in[off];
  }
}

// ---- Resize ----------------------------------------------------------------------------------

struct ResizeAxis {
  int64_t in = 0, out = 0;
  double scale = 1;
};

struct ResizeArgs {
  int64_t planes;
  ResizeAxis h, w;
  int transform;
  int nearest;
  bool exclude_outside;
  bool linear;
};

//! The two taps (input indices, weights) of output position x along one axis, as the ONNX
//! reference computes them (see backends/cpu/kernels/resize.cpp).
__device__ void axisTaps(const ResizeArgs& a, const ResizeAxis& ax, int64_t x, int64_t& i0, int64_t& i1, float& w0,
                         float& w1) {
  const double in = static_cast<double>(ax.in), xd = static_cast<double>(x), scale = ax.scale;
  const double out_width = scale * in;
  double xo;
  switch (a.transform) {
    case 1: xo = xd / scale; break;
    case 2: xo = out_width == 1 ? 0.0 : xd * (in - 1) / (out_width - 1); break;
    case 3: xo = out_width == 1 ? -0.5 : (xd + 0.5) / scale - 0.5; break;
    case 4: xo = (xd + 0.5) / scale; break;
    case 5: {
      double adjustment = static_cast<double>(ax.out) / out_width;
      double offset = in / 2 * (1 - adjustment);
      xo = offset + (xd + 0.5) / scale - 0.5;
      break;
    }
    default: xo = (xd + 0.5) / scale - 0.5; break;
  }
  double fl = floor(xo);
  double ratio = xo - fl;
  int64_t base = static_cast<int64_t>(fl);
  if (ratio == 0) {
    ratio = 1;
    base -= 1;
  }
  double c0, c1;
  if (a.linear) {
    c0 = 1 - ratio;
    c1 = ratio;
  } else {
    bool right = ratio == 1 || (a.nearest == 0 && ratio > 0.5) || (a.nearest == 1 && ratio >= 0.5) || a.nearest == 3;
    c0 = right ? 0.0 : 1.0;
    c1 = right ? 1.0 : 0.0;
  }
  int64_t first = base;
  if (first < -1) first = -1;
  if (first > ax.in - 1) first = ax.in - 1;
  if (a.exclude_outside) {
    if (first < 0 || first >= ax.in) c0 = 0;
    if (first + 1 < 0 || first + 1 >= ax.in) c1 = 0;
    double sum = c0 + c1;
    if (sum != 0) {
      c0 /= sum;
      c1 /= sum;
    }
  }
  i0 = first < 0 ? 0 : first;
  i1 = first + 1 > ax.in - 1 ? ax.in - 1 : first + 1;
  w0 = static_cast<float>(c0);
  w1 = static_cast<float>(c1);
}

template <typename U>
__global__ void resizeNearestKernel(const U* __restrict__ in, U* __restrict__ out, int64_t n,
                                    const __grid_constant__ ResizeArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t x = i % a.w.out, t = i / a.w.out;
    int64_t y = t % a.h.out, p = t / a.h.out;
    int64_t y0, y1, x0, x1;
    float wy0, wy1, wx0, wx1;
    axisTaps(a, a.h, y, y0, y1, wy0, wy1);
    axisTaps(a, a.w, x, x0, x1, wx0, wx1);
    int64_t sy = wy0 != 0 ? y0 : y1, sx = wx0 != 0 ? x0 : x1;
    out[i] = in[(p * a.h.in + sy) * a.w.in + sx];
  }
}

template <typename T>
__global__ void resizeLinearKernel(const T* __restrict__ in, T* __restrict__ out, int64_t n,
                                   const __grid_constant__ ResizeArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t x = i % a.w.out, t = i / a.w.out;
    int64_t y = t % a.h.out, p = t / a.h.out;
    int64_t y0, y1, x0, x1;
    float wy0, wy1, wx0, wx1;
    axisTaps(a, a.h, y, y0, y1, wy0, wy1);
    axisTaps(a, a.w, x, x0, x1, wx0, wx1);
    const T* plane = in + p * a.h.in * a.w.in;
    float top = wx0 * toCompute(plane[y0 * a.w.in + x0]) + wx1 * toCompute(plane[y0 * a.w.in + x1]);
    float bottom = wx0 * toCompute(plane[y1 * a.w.in + x0]) + wx1 * toCompute(plane[y1 * a.w.in + x1]);
    out[i] = convertTo<T>(wy0 * top + wy1 * bottom);
  }
}

}  // namespace

StridedCopyPlan planStridedCopy(HostIndexMap map, size_t element_size) {
  StridedCopyPlan plan;
  plan.n = map.numel();
  map.collapse();
  plan.element = makeLevel(map, element_size);
  HostIndexMap wide;
  size_t unit = element_size;
  if (widen(map, element_size, wide, unit)) {
    plan.wide = makeLevel(wide, unit);
    plan.wide_n = wide.numel();
  } else {
    plan.wide = plan.element;
    plan.wide_n = plan.n;
  }
  // A transpose of the last two (collapsed) dims: out [.., P, Q] reads in [.., Q, P].
  const size_t r = map.dims.size();
  const auto& s = map.strides[0];
  if ((r == 2 || r == 3) && map.base[0] == 0 && s[r - 2] == 1 && s[r - 1] == map.dims[r - 2] &&
      (r == 2 || s[0] == map.dims[1] * map.dims[2])) {
    plan.is_transpose = true;
    plan.batch = r == 3 ? map.dims[0] : 1;
    plan.cols = map.dims[r - 2];  // input's innermost dim
    plan.rows = map.dims[r - 1];
  }
  return plan;
}

void launchStridedCopy(const StridedCopyPlan& plan, bool tiled, const void* in, void* out, cudaStream_t stream) {
  if (plan.n == 0) return;
  const size_t es = plan.element.unit;
  if (tiled && plan.is_transpose && plan.rows <= kFewRows) {
    const int64_t threads = plan.batch * plan.cols;
    dispatchUnit(es, [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = static_cast<const U*>(in);
      U* dst = static_cast<U*>(out);
      const int rows = static_cast<int>(plan.rows);
      if (plan.n < INT32_MAX)
        transposeFewRowsKernel<U, int32_t><<<gridFor(threads), kThreads, 0, stream>>>(
            src, dst, static_cast<int32_t>(plan.batch), rows, static_cast<int32_t>(plan.cols));
      else
        transposeFewRowsKernel<U, int64_t>
            <<<gridFor(threads), kThreads, 0, stream>>>(src, dst, plan.batch, rows, plan.cols);
    });
    return;
  }
  if (tiled && plan.is_transpose && (plan.rows + kTile - 1) / kTile <= 65535 && es <= 8) {
    dim3 grid(static_cast<unsigned>((plan.cols + kTile - 1) / kTile),
              static_cast<unsigned>((plan.rows + kTile - 1) / kTile),
              static_cast<unsigned>(std::min<int64_t>(plan.batch, 65535)));
    dim3 block(kTile, kTileRows);
    dispatchUnit(es, [&](auto tag) {
      using U = typename decltype(tag)::type;
      transposeTiledKernel<U><<<grid, block, 0, stream>>>(static_cast<const U*>(in), static_cast<U*>(out), plan.batch,
                                                          plan.rows, plan.cols);
    });
    return;
  }
  const bool wide = plan.wide.unit > es && aligned(in, plan.wide.unit) && aligned(out, plan.wide.unit);
  const StridedCopyPlan::Level& level = wide ? plan.wide : plan.element;
  const int64_t n = wide ? plan.wide_n : plan.n;
  dispatchUnit(level.unit, [&](auto tag) { launchLevel<typename decltype(tag)::type>(level, n, in, out, stream); });
}

void launchRowCopies(const RowCopy* pieces, int count, int64_t rows, cudaStream_t stream) {
  for (int first = 0; first < count; first += kMaxPieces) {
    int batch = std::min(kMaxPieces, count - first);
    size_t unit = 16;
    int64_t most = 0;
    int live = 0;
    RowCopy chosen[kMaxPieces];
    for (int p = first; p < first + batch; ++p) {
      const RowCopy& c = pieces[p];
      if (c.row_bytes == 0 || rows == 0) continue;
      unit = std::min(unit, commonUnit({c.src_pitch, c.dst_pitch, c.row_bytes,
                                        static_cast<int64_t>(reinterpret_cast<uintptr_t>(c.src)),
                                        static_cast<int64_t>(reinterpret_cast<uintptr_t>(c.dst))}));
      most = std::max<int64_t>(most, std::max(c.src_pitch, c.dst_pitch) * rows);
      chosen[live++] = c;
    }
    if (!live) continue;
    if (most / static_cast<int64_t>(unit) < INT32_MAX) launchRowBatch<int32_t>(chosen, live, rows, unit, stream);
    else launchRowBatch<int64_t>(chosen, live, rows, unit, stream);
  }
}

void launchGather(const void* data, const void* indices, bool indices_int64, void* out, int64_t outer, int64_t axis_dim,
                  int64_t num_indices, int64_t inner_bytes, cudaStream_t stream) {
  size_t unit = commonUnit({inner_bytes, static_cast<int64_t>(reinterpret_cast<uintptr_t>(data)),
                            static_cast<int64_t>(reinterpret_cast<uintptr_t>(out))});
  int64_t inner = inner_bytes / static_cast<int64_t>(unit);
  int64_t n = outer * num_indices * inner;
  if (n == 0) return;
  bool small = outer * axis_dim * inner < INT32_MAX && n < INT32_MAX;
  dispatchUnit(unit, [&](auto tag) {
    using U = typename decltype(tag)::type;
    auto go = [&](auto idx_tag, auto index_tag) {
      using Idx = typename decltype(idx_tag)::type;
      using I = typename decltype(index_tag)::type;
      gatherKernel<U, Idx, I><<<gridFor(n), kThreads, 0, stream>>>(
          static_cast<const U*>(data), static_cast<const Idx*>(indices), static_cast<U*>(out), n,
          static_cast<I>(axis_dim), static_cast<I>(num_indices), static_cast<I>(inner));
    };
    if (indices_int64) {
      if (small) go(TypeTag<int64_t>{}, TypeTag<int32_t>{});
      else go(TypeTag<int64_t>{}, TypeTag<int64_t>{});
    } else {
      if (small) go(TypeTag<int32_t>{}, TypeTag<int32_t>{});
      else go(TypeTag<int32_t>{}, TypeTag<int64_t>{});
    }
  });
}

//! A constant Pad of the innermost dim only, in [rows, in_cols] -> out [rows, out_cols] (the
//! channels-last stem's 3 -> 8 channels): 32-bit indices, no per-dim walk.
template <typename U>
__global__ void padLastDimKernel(const U* __restrict__ in, const U* __restrict__ value, U* __restrict__ out, int n,
                                 int in_cols, int out_cols, int before) {
  const U fill = value ? *value : U{};
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int row = i / out_cols;
    const int s = i - row * out_cols - before;
    out[i] = s >= 0 && s < in_cols ? in[row * in_cols + s] : fill;
  }
}

//! A constant Pad without cropping whose output rows (innermost dim) are at most 16 bytes (the
//! channels-last stem's 3 -> 8 or 3 -> 4 channels, with or without spatial pads): one thread
//! per output row, which finds its input row once and writes the row in one vector store where
//! its size allows. 32-bit indices.
template <typename U>
__global__ void padRowsKernel(const U* __restrict__ in, const U* __restrict__ value, U* __restrict__ out, int rows,
                              const __grid_constant__ PadArgs p) {
  constexpr int kMaxCols = 16 / sizeof(U) > 0 ? 16 / sizeof(U) : 1;
  const int last = p.rank - 1;
  const int out_cols = static_cast<int>(p.out_dims[last]), in_cols = static_cast<int>(p.in_dims[last]);
  const int before = static_cast<int>(p.before[last]);
  const int row_bytes = out_cols * static_cast<int>(sizeof(U));
  const U fill = value ? *value : U{};
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
    int rem = r, in_row = 0, in_row_stride = 1;
    bool inside = true;
    for (int d = last - 1; d >= 0; --d) {
      const int out_dim = static_cast<int>(p.out_dims[d]), in_dim = static_cast<int>(p.in_dims[d]);
      const int coord = rem % out_dim;
      rem /= out_dim;
      const int s = coord - static_cast<int>(p.before[d]);
      inside = inside && s >= 0 && s < in_dim;
      in_row += s * in_row_stride;
      in_row_stride *= in_dim;
    }
    alignas(16) U row[kMaxCols];
#pragma unroll
    for (int j = 0; j < kMaxCols; ++j) {
      const int s = j - before;
      row[j] = j < out_cols && inside && s >= 0 && s < in_cols ? in[in_row * in_cols + s] : fill;
    }
    U* dst = out + r * out_cols;
    if (row_bytes == 16) {
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(row);
    } else if (row_bytes == 8) {
      *reinterpret_cast<uint2*>(dst) = *reinterpret_cast<const uint2*>(row);
    } else {
      for (int j = 0; j < out_cols; ++j) dst[j] = row[j];
    }
  }
}

//! Whether padRowsKernel takes `plan`: constant, no cropping, a contiguous input, output rows
//! of at most 16 bytes, 32-bit indices, the output aligned for the row's vector store.
bool padsShortRows(const PadPlan& plan, const void* out) {
  if (plan.mode != PadMode::kConstant || plan.rank < 1 || plan.n >= INT32_MAX) return false;
  const int last = plan.rank - 1;
  const int64_t row_bytes = plan.out_dims[last] * static_cast<int64_t>(plan.element_size);
  if (row_bytes <= 0 || row_bytes > 16 || plan.element_size > 8) return false;
  if ((row_bytes == 16 || row_bytes == 8) && !aligned(out, static_cast<size_t>(row_bytes))) return false;
  int64_t stride = 1;
  for (int d = last; d >= 0; --d) {
    if (plan.in_strides[d] != stride && plan.in_dims[d] > 1) return false;
    stride *= plan.in_dims[d];
    if (plan.before[d] < 0 || plan.before[d] + plan.in_dims[d] > plan.out_dims[d]) return false;
  }
  return true;
}

//! Whether `plan` pads (constant, no cropping) only its innermost dim of a contiguous input, in
//! 32-bit indices.
bool padsLastDimOnly(const PadPlan& plan) {
  if (plan.mode != PadMode::kConstant || plan.rank < 1 || plan.n >= INT32_MAX) return false;
  const int last = plan.rank - 1;
  int64_t stride = 1;
  for (int d = last; d >= 0; --d) {
    if (plan.in_strides[d] != stride && plan.in_dims[d] > 1) return false;
    stride *= plan.in_dims[d];
    if (d < last && (plan.before[d] != 0 || plan.out_dims[d] != plan.in_dims[d])) return false;
  }
  return plan.before[last] >= 0 && plan.before[last] + plan.in_dims[last] <= plan.out_dims[last];
}

void launchPad(const PadPlan& plan, const void* in, const void* value, void* out, cudaStream_t stream) {
  if (plan.n == 0) return;
  PadArgs a{};
  a.rank = plan.rank;
  a.mode = static_cast<int>(plan.mode);
  for (int d = 0; d < plan.rank; ++d) {
    a.out_dims[d] = plan.out_dims[d];
    a.in_dims[d] = plan.in_dims[d];
    a.in_strides[d] = plan.in_strides[d];
    a.before[d] = plan.before[d];
  }
  if (padsShortRows(plan, out)) {
    const int64_t rows = plan.n / plan.out_dims[plan.rank - 1];
    dispatchUnit(plan.element_size, [&](auto tag) {
      using U = typename decltype(tag)::type;
      padRowsKernel<U><<<gridFor(rows), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<const U*>(value),
                                                               static_cast<U*>(out), static_cast<int>(rows), a);
    });
    return;
  }
  if (padsLastDimOnly(plan)) {
    const int last = plan.rank - 1;
    dispatchUnit(plan.element_size, [&](auto tag) {
      using U = typename decltype(tag)::type;
      padLastDimKernel<U><<<gridFor(plan.n), kThreads, 0, stream>>>(
          static_cast<const U*>(in), static_cast<const U*>(value), static_cast<U*>(out), static_cast<int>(plan.n),
          static_cast<int>(plan.in_dims[last]), static_cast<int>(plan.out_dims[last]),
          static_cast<int>(plan.before[last]));
    });
    return;
  }
  dispatchUnit(plan.element_size, [&](auto tag) {
    using U = typename decltype(tag)::type;
    // 32-bit indices where the output and every input offset fit (signed: pads may be negative).
    int64_t in_span = 1;
    for (int d = 0; d < plan.rank; ++d) in_span += (plan.in_dims[d] > 0 ? plan.in_dims[d] - 1 : 0) * plan.in_strides[d];
    if (plan.n < INT32_MAX && in_span < INT32_MAX)
      padKernel<U, int32_t>
          <<<gridFor(plan.n), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<const U*>(value),
                                                     static_cast<U*>(out), static_cast<int32_t>(plan.n), a);
    else
      padKernel<U, int64_t><<<gridFor(plan.n), kThreads, 0, stream>>>(
          static_cast<const U*>(in), static_cast<const U*>(value), static_cast<U*>(out), plan.n, a);
  });
}

void launchResize(const ResizePlan& plan, const void* in, void* out, cudaStream_t stream) {
  const int64_t n = plan.planes * plan.out_h * plan.out_w;
  if (n == 0) return;
  ResizeArgs a{};
  a.planes = plan.planes;
  a.h = {plan.in_h, plan.out_h, plan.scale_h};
  a.w = {plan.in_w, plan.out_w, plan.scale_w};
  a.transform = static_cast<int>(plan.transform);
  a.nearest = static_cast<int>(plan.nearest);
  a.exclude_outside = plan.exclude_outside;
  a.linear = plan.linear;
  if (!plan.linear) {
    dispatchUnit(plan.element_size, [&](auto tag) {
      using U = typename decltype(tag)::type;
      resizeNearestKernel<U>
          <<<gridFor(n), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<U*>(out), n, a);
    });
    return;
  }
  dispatchDeviceType(plan.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloating<T>)
      resizeLinearKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), n, a);
    else throw Error(ErrorCode::kUnsupported, "linear Resize needs a floating-point type");
  });
}

}  // namespace kiln::cuda
