// Reference kernels of the data-movement operators: Transpose, Tile, Pad, Concat, Split,
// Slice, Gather, GatherElements, GatherND, ScatterND, ScatterElements, DepthToSpace,
// SpaceToDepth, Trilu and OneHot. Pure copies work on element bytes (any type); only the
// scatter reductions look at values.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "backends/cpu/kernels/axis_map.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/movement_math.h"

namespace kiln::cpu {
namespace {

int64_t product(const ir::Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

//! Index `v` along an axis of size `dim`, negative counting from the end; throws if outside.
int64_t checkedIndex(const KernelContext& ctx, int64_t v, int64_t dim) {
  if (v < -dim || v >= dim)
    throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": index " + std::to_string(v) +
                                                 " is out of range for a dimension of size " + std::to_string(dim));
  return v < 0 ? v + dim : v;
}

// ---- Transpose / Tile / Expand-like ----------------------------------------------------------

KILN_REFERENCE_KERNEL(Transpose, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  int64_t rank = in.rank();
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.rbegin(), perm.rend(), 0);
  perm = ctx.attrs().ints("perm", perm);
  std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  AxisTables tables(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) {
    int64_t p = perm[d] < 0 ? perm[d] + rank : perm[d];
    tables[d] = stridedTable(out.shape()[d], 0, 1, strides[p]);
  }
  mapCopy(in, out, tables);
});

KILN_REFERENCE_KERNEL(Tile, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  AxisTables tables(in.shape().size());
  for (size_t d = 0; d < tables.size(); ++d) {
    int64_t n = out.shape()[d], dim = in.shape()[d];
    tables[d].resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) tables[d][i] = (i % dim) * strides[d];
  }
  mapCopy(in, out, tables);
});

// ---- Pad -------------------------------------------------------------------------------------

//! Source index of output position `i` along an axis of size `dim` padded by `before`.
int64_t padSource(int64_t i, int64_t before, int64_t dim, int mode) {
  int64_t s = i - before;
  if (s >= 0 && s < dim) return s;
  switch (mode) {
    case 0: return -1;                                          // constant
    case 1: return std::clamp<int64_t>(s, 0, dim - 1);           // edge
    case 2: {                                                    // reflect (period 2 * (dim - 1))
      if (dim == 1) return 0;
      int64_t p = 2 * (dim - 1), m = ((s % p) + p) % p;
      return m < dim ? m : p - m;
    }
    default: return ((s % dim) + dim) % dim;                     // wrap
  }
}

KILN_REFERENCE_KERNEL(Pad, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  std::string mode_name = ctx.attrs().s("mode", "constant");
  int mode = mode_name == "constant" ? 0 : mode_name == "edge" ? 1 : mode_name == "reflect" ? 2 : 3;
  size_t rank = in.shape().size();
  std::vector<int64_t> axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  if (ctx.has(3)) {
    axes = ctx.in(3).toInt64();
    for (int64_t& a : axes)
      if (a < 0) a += static_cast<int64_t>(rank);
  }
  std::vector<int64_t> pads = ctx.in(1).toInt64(), before(rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) before[axes[i]] = pads[i];
  std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  AxisTables tables(rank);
  for (size_t d = 0; d < rank; ++d) {
    int64_t n = out.shape()[d], dim = in.shape()[d];
    tables[d].resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      int64_t s = dim == 0 ? -1 : padSource(i, before[d], dim, mode);
      tables[d][i] = s < 0 ? kOutside : s * strides[d];
    }
  }
  std::vector<std::byte> fill(elementSize(in.type()), std::byte{0});
  if (ctx.has(2) && ctx.in(2).numel() > 0) std::memcpy(fill.data(), ctx.in(2).raw(), fill.size());
  mapCopy(in, out, tables, fill.data());
});

// ---- Concat / Split --------------------------------------------------------------------------

int64_t axisAttr(const KernelContext& ctx, int64_t fallback, int64_t rank) {
  int64_t axis = ctx.attrs().i("axis", fallback);
  return axis < 0 ? axis + rank : axis;
}

KILN_REFERENCE_KERNEL(Concat, [](KernelContext& ctx) {
  ir::Tensor& out = ctx.out(0);
  size_t axis = static_cast<size_t>(axisAttr(ctx, 0, out.rank()));
  size_t es = elementSize(out.type());
  int64_t outer = product(out.shape(), 0, axis);
  size_t out_row = static_cast<size_t>(product(out.shape(), axis, out.shape().size())) * es;
  size_t offset = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const ir::Tensor& in = ctx.in(static_cast<int>(i));
    size_t row = static_cast<size_t>(product(in.shape(), axis, in.shape().size())) * es;
    for (int64_t o = 0; o < outer && row; ++o) std::memcpy(out.raw() + o * out_row + offset, in.raw() + o * row, row);
    offset += row;
  }
});

KILN_REFERENCE_KERNEL(Split, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  size_t axis = static_cast<size_t>(axisAttr(ctx, 0, in.rank()));
  size_t es = elementSize(in.type());
  int64_t outer = product(in.shape(), 0, axis);
  int64_t inner = product(in.shape(), axis + 1, in.shape().size());
  size_t in_row = static_cast<size_t>(in.shape()[axis] * inner) * es;
  std::vector<int64_t> sizes = ctx.has(1) ? ctx.in(1).toInt64()
                                          : ir::splitEqually(in.shape()[axis], static_cast<int64_t>(ctx.outputs.size()));
  size_t offset = 0;
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    size_t row = static_cast<size_t>(sizes[i] * inner) * es;
    if (ctx.wants(static_cast<int>(i))) {
      ir::Tensor& out = ctx.out(static_cast<int>(i));
      for (int64_t o = 0; o < outer && row; ++o) std::memcpy(out.raw() + o * row, in.raw() + o * in_row + offset, row);
    }
    offset += row;
  }
});

// ---- Slice -----------------------------------------------------------------------------------

KILN_REFERENCE_KERNEL(Slice, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  int64_t rank = in.rank();
  std::vector<int64_t> starts = ctx.in(1).toInt64(), ends = ctx.in(2).toInt64();
  std::vector<int64_t> axes(starts.size());
  std::iota(axes.begin(), axes.end(), 0);
  if (ctx.has(3)) axes = ctx.in(3).toInt64();
  std::vector<int64_t> steps = ctx.has(4) ? ctx.in(4).toInt64() : std::vector<int64_t>(starts.size(), 1);
  std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  AxisTables tables(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) tables[d] = stridedTable(out.shape()[d], 0, 1, strides[d]);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    ir::SliceRange r = ir::sliceRange(in.shape()[a], starts[i], ends[i], steps[i]);
    tables[a] = stridedTable(out.shape()[a], r.start, r.step, strides[a]);
  }
  mapCopy(in, out, tables);
});

// ---- Gather family ---------------------------------------------------------------------------

KILN_REFERENCE_KERNEL(Gather, [](KernelContext& ctx) {
  const ir::Tensor& data = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  size_t axis = static_cast<size_t>(axisAttr(ctx, 0, data.rank()));
  std::vector<int64_t> idx = ctx.in(1).toInt64();
  int64_t dim = data.shape()[axis];
  for (int64_t& v : idx) v = checkedIndex(ctx, v, dim);
  size_t es = elementSize(data.type());
  int64_t outer = product(data.shape(), 0, axis);
  size_t block = static_cast<size_t>(product(data.shape(), axis + 1, data.shape().size())) * es;
  if (!block) return;
  std::byte* dst = out.raw();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t v : idx) {
      std::memcpy(dst, data.raw() + (o * dim + v) * block, block);
      dst += block;
    }
});

//! Calls fn(flat, base) for each element of `shape` (row-major), where base = the sum over
//! axes of coordinate * strides[axis].
template <typename Fn>
void forEachElement(const ir::Shape& shape, const std::vector<int64_t>& strides, Fn fn) {
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t base = 0;
  for (int64_t flat = 0; flat < total; ++flat) {
    fn(flat, base);
    for (size_t d = rank; d-- > 0;) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

//! Offsets of the elements of indices (shape `idx_shape`) in data: the same coordinates,
//! except the axis coordinate, which becomes the index value (normalized, checked).
std::vector<int64_t> elementOffsets(const KernelContext& ctx, const ir::Shape& data_shape, const ir::Shape& idx_shape,
                                    const std::vector<int64_t>& idx, size_t axis) {
  std::vector<int64_t> strides = ir::contiguousStrides(data_shape);
  std::vector<int64_t> walk = strides;
  walk[axis] = 0;
  for (size_t d = 0; d < data_shape.size(); ++d)
    if (d != axis && idx_shape[d] > data_shape[d])
      throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": indices are larger than data on axis " + std::to_string(d));
  std::vector<int64_t> offsets(idx.size());
  forEachElement(idx_shape, walk, [&](int64_t flat, int64_t base) {
    offsets[flat] = base + checkedIndex(ctx, idx[flat], data_shape[axis]) * strides[axis];
  });
  return offsets;
}

void copyElements(const std::byte* src, std::byte* dst, const std::vector<int64_t>& src_offsets, size_t es) {
  for (size_t i = 0; i < src_offsets.size(); ++i) std::memcpy(dst + i * es, src + src_offsets[i] * es, es);
}

KILN_REFERENCE_KERNEL(GatherElements, [](KernelContext& ctx) {
  const ir::Tensor& data = ctx.in(0);
  const ir::Tensor& indices = ctx.in(1);
  size_t axis = static_cast<size_t>(axisAttr(ctx, 0, data.rank()));
  std::vector<int64_t> offsets = elementOffsets(ctx, data.shape(), indices.shape(), indices.toInt64(), axis);
  copyElements(data.raw(), ctx.out(0).raw(), offsets, elementSize(data.type()));
});

//! Row offsets (in elements) of the index tuples of GatherND / ScatterND: indices [.., k]
//! address axes [batch, batch + k) of data; each batch of indices reads its own data batch.
std::vector<int64_t> tupleOffsets(const KernelContext& ctx, const ir::Shape& data_shape, const ir::Tensor& indices,
                                  size_t batch_dims) {
  const ir::Shape& is = indices.shape();
  size_t k = static_cast<size_t>(is.back());
  std::vector<int64_t> strides = ir::contiguousStrides(data_shape);
  std::vector<int64_t> idx = indices.toInt64();
  int64_t rows = static_cast<int64_t>(idx.size() / std::max<size_t>(k, 1));
  int64_t batches = product(is, 0, batch_dims);
  int64_t rows_per_batch = batches == 0 ? 0 : rows / batches;
  int64_t batch_stride = batch_dims ? strides[batch_dims - 1] : 0;
  std::vector<int64_t> offsets(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = (r / std::max<int64_t>(rows_per_batch, 1)) * batch_stride;
    for (size_t j = 0; j < k; ++j)
      off += checkedIndex(ctx, idx[r * k + j], data_shape[batch_dims + j]) * strides[batch_dims + j];
    offsets[r] = off;
  }
  return offsets;
}

KILN_REFERENCE_KERNEL(GatherND, [](KernelContext& ctx) {
  const ir::Tensor& data = ctx.in(0);
  const ir::Tensor& indices = ctx.in(1);
  size_t b = static_cast<size_t>(ctx.attrs().i("batch_dims", 0));
  size_t k = static_cast<size_t>(indices.shape().back());
  std::vector<int64_t> offsets = tupleOffsets(ctx, data.shape(), indices, b);
  size_t es = elementSize(data.type());
  size_t block = static_cast<size_t>(product(data.shape(), b + k, data.shape().size())) * es;
  std::byte* dst = ctx.out(0).raw();
  for (int64_t off : offsets) {
    if (block) std::memcpy(dst, data.raw() + off * es, block);
    dst += block;
  }
});

//! dst = reduce(dst, src) for the scatter reductions.
template <typename T>
T reduce(int kind, T dst, T src) {
  switch (kind) {
    case 1: if constexpr (std::is_same_v<T, bool>) return dst || src; else return static_cast<T>(dst + src);
    case 2: if constexpr (std::is_same_v<T, bool>) return dst && src; else return static_cast<T>(dst * src);
    case 3: return std::max(dst, src);
    case 4: return std::min(dst, src);
    default: return src;
  }
}

int reductionKind(const KernelContext& ctx) {
  std::string r = ctx.attrs().s("reduction", "none");
  return r == "add" ? 1 : r == "mul" ? 2 : r == "max" ? 3 : r == "min" ? 4 : 0;
}

//! out = data, then out[dst_offsets[i] + j] reduced with updates[i * block + j].
void scatter(KernelContext& ctx, const std::vector<int64_t>& dst_offsets, int64_t block) {
  const ir::Tensor& data = ctx.in(0);
  const ir::Tensor& updates = ctx.in(2);
  ir::Tensor& out = ctx.out(0);
  if (data.byteSize()) std::memcpy(out.raw(), data.raw(), data.byteSize());
  if (static_cast<int64_t>(dst_offsets.size()) * block != updates.numel())
    throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": updates has the wrong shape " + toString(updates.shape()));
  int kind = reductionKind(ctx);
  ir::dispatchType(data.type(), [&]<typename T>() {
    auto o = out.values<T>();
    auto u = updates.values<T>();
    for (size_t i = 0; i < dst_offsets.size(); ++i)
      for (int64_t j = 0; j < block; ++j) {
        T& d = o[dst_offsets[i] + j];
        d = reduce<T>(kind, d, u[i * block + j]);
      }
  });
}

KILN_REFERENCE_KERNEL(ScatterND, [](KernelContext& ctx) {
  const ir::Tensor& data = ctx.in(0);
  const ir::Tensor& indices = ctx.in(1);
  size_t k = static_cast<size_t>(indices.shape().back());
  scatter(ctx, tupleOffsets(ctx, data.shape(), indices, 0), product(data.shape(), k, data.shape().size()));
});

KILN_REFERENCE_KERNEL(ScatterElements, [](KernelContext& ctx) {
  const ir::Tensor& data = ctx.in(0);
  const ir::Tensor& indices = ctx.in(1);
  if (indices.shape() != ctx.in(2).shape())
    throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": indices and updates have different shapes");
  size_t axis = static_cast<size_t>(axisAttr(ctx, 0, data.rank()));
  scatter(ctx, elementOffsets(ctx, data.shape(), indices.shape(), indices.toInt64(), axis), 1);
});

// ---- DepthToSpace / SpaceToDepth -------------------------------------------------------------

KILN_REFERENCE_KERNEL(DepthToSpace, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  int64_t b = ctx.attrs().i("blocksize");
  bool crd = ctx.attrs().s("mode", "DCR") == "CRD";
  std::vector<int64_t> s = ir::contiguousStrides(in.shape());
  int64_t c_out = out.shape()[1];
  // Input channel = DCR: (i * b + j) * c_out + c;  CRD: c * b * b + i * b + j.
  int64_t sc = crd ? b * b * s[1] : s[1], si = crd ? b * s[1] : b * c_out * s[1], sj = crd ? s[1] : c_out * s[1];
  AxisTables t(4);
  t[0] = stridedTable(out.shape()[0], 0, 1, s[0]);
  t[1] = stridedTable(c_out, 0, 1, sc);
  for (int axis = 2; axis < 4; ++axis) {
    int64_t n = out.shape()[axis], sub = axis == 2 ? si : sj;
    t[axis].resize(static_cast<size_t>(n));
    for (int64_t y = 0; y < n; ++y) t[axis][y] = (y / b) * s[axis] + (y % b) * sub;
  }
  mapCopy(in, out, t);
});

KILN_REFERENCE_KERNEL(SpaceToDepth, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  int64_t b = ctx.attrs().i("blocksize");
  std::vector<int64_t> s = ir::contiguousStrides(in.shape());
  int64_t c_in = in.shape()[1];
  AxisTables t(4);
  t[0] = stridedTable(out.shape()[0], 0, 1, s[0]);
  t[1].resize(static_cast<size_t>(out.shape()[1]));
  for (int64_t k = 0; k < out.shape()[1]; ++k)  // output channel = (i * b + j) * c_in + c
    t[1][k] = (k / (b * c_in)) * s[2] + ((k / c_in) % b) * s[3] + (k % c_in) * s[1];
  t[2] = stridedTable(out.shape()[2], 0, b, s[2]);
  t[3] = stridedTable(out.shape()[3], 0, b, s[3]);
  mapCopy(in, out, t);
});

// ---- Trilu / OneHot --------------------------------------------------------------------------

KILN_REFERENCE_KERNEL(Trilu, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  bool upper = ctx.attrs().i("upper", 1) != 0;
  int64_t k = ctx.has(1) ? ctx.in(1).intAt(0) : 0;
  if (in.byteSize()) std::memcpy(out.raw(), in.raw(), in.byteSize());
  size_t rank = in.shape().size(), es = elementSize(in.type());
  int64_t rows = in.shape()[rank - 2], cols = in.shape()[rank - 1];
  int64_t matrices = product(in.shape(), 0, rank - 2);
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t i = 0; i < rows; ++i) {
      std::byte* row = out.raw() + ((m * rows + i) * cols) * es;
      // upper keeps j >= i + k; lower keeps j <= i + k.
      int64_t lo = upper ? 0 : std::clamp<int64_t>(i + k + 1, 0, cols);
      int64_t hi = upper ? std::clamp<int64_t>(i + k, 0, cols) : cols;
      if (hi > lo) std::memset(row + lo * es, 0, static_cast<size_t>(hi - lo) * es);
    }
});

KILN_REFERENCE_KERNEL(OneHot, [](KernelContext& ctx) {
  const ir::Tensor& indices = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  int64_t depth = static_cast<int64_t>(ctx.in(1).at(0));
  size_t axis = static_cast<size_t>(axisAttr(ctx, -1, out.rank()));
  size_t es = elementSize(out.type());
  const std::byte* off = ctx.in(2).raw();
  const std::byte* on = off + es;
  std::vector<double> idx = indices.toDouble();
  int64_t outer = product(out.shape(), 0, axis);
  int64_t inner = product(out.shape(), axis + 1, out.shape().size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = static_cast<int64_t>(idx[o * inner + i]);
        if (v < 0) v += depth;
        std::memcpy(out.raw() + ((o * depth + d) * inner + i) * es, v == d ? on : off, es);
      }
});

}  // namespace
}  // namespace kiln::cpu
