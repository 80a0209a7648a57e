// Copies where each output element's source is a sum of per-axis offsets: out[i0, .., in] =
// in[table0[i0] + .. + tablen[in]]. Transpose, Slice, Expand, Tile, Pad, DepthToSpace and
// nearest Resize are all this one loop with different tables. A negative entry marks an
// output position outside the input; it receives `fill` (one element) instead.
#pragma once

#include <cstring>
#include <vector>

#include "ir/tensor.h"

namespace kiln::cpu {

using AxisTables = std::vector<std::vector<int64_t>>;

//! Table entry of an output position outside the input: far below zero, so that a sum with
//! one such entry stays negative.
constexpr int64_t kOutside = -(int64_t{1} << 60);

namespace detail {

template <typename E>
void mapCopyTyped(const E* src, E* dst, const ir::Shape& shape, const AxisTables& tables, E fill) {
  size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0), base(rank + 1, 0);
  for (size_t d = 0; d < rank; ++d) base[d + 1] = base[d] + tables[d][0];
  const int64_t* last = tables[rank - 1].data();
  int64_t n = shape[rank - 1];
  for (;;) {
    int64_t b = base[rank - 1];
    if (b < 0) {
      for (int64_t j = 0; j < n; ++j) dst[j] = fill;
    } else {
      for (int64_t j = 0; j < n; ++j) dst[j] = last[j] < 0 ? fill : src[b + last[j]];
    }
    dst += n;
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
      if (d == 0) return;
    }
    if (rank == 1) return;
    for (size_t k = d; k + 1 < rank; ++k) base[k + 1] = base[k] + tables[k][idx[k]];
  }
}
}  // namespace detail

//! out (already shaped) from in through `tables` (one per output axis, of that axis' length,
//! entries in elements). `fill` points at one element of the tensor type, or is null when no
//! entry is negative.
inline void mapCopy(const ir::Tensor& in, ir::Tensor& out, const AxisTables& tables, const std::byte* fill = nullptr) {
  if (out.numel() == 0) return;
  size_t es = elementSize(out.type());
  if (out.rank() == 0) {
    std::memcpy(out.raw(), in.raw(), es);
    return;
  }
  auto run = [&]<typename E>() {
    E f{};
    if (fill) std::memcpy(&f, fill, sizeof(E));
    detail::mapCopyTyped(reinterpret_cast<const E*>(in.raw()), reinterpret_cast<E*>(out.raw()), out.shape(), tables, f);
  };
  switch (es) {
    case 1: run.operator()<uint8_t>(); break;
    case 2: run.operator()<uint16_t>(); break;
    case 4: run.operator()<uint32_t>(); break;
    default: run.operator()<uint64_t>(); break;
  }
}

//! The table of an axis read with a stride: entry i = (start + i * step) * stride.
inline std::vector<int64_t> stridedTable(int64_t length, int64_t start, int64_t step, int64_t stride) {
  std::vector<int64_t> t(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i) t[i] = (start + i * step) * stride;
  return t;
}

}  // namespace kiln::cpu
