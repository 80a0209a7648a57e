// Loops over N inputs broadcast numpy-style to one output shape, without an index map per
// element. Output dimensions are coalesced where every input is contiguous across them (or
// broadcast across both), so same-shape inputs become one flat row and a per-channel bias on
// NCHW becomes rows of H*W with stride 0. The body is called once per innermost row.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ir/tensor.h"

namespace kiln::cpu {

template <size_t N>
class BroadcastLoop {
 public:
  //! `inputs` must each broadcast to `out` (checked by the shape rule beforehand).
  BroadcastLoop(const ir::Shape& out, const std::array<const ir::Shape*, N>& inputs) {
    const size_t rank = out.size();
    std::array<std::vector<int64_t>, N> strides;
    for (size_t k = 0; k < N; ++k) {
      const ir::Shape& in = *inputs[k];
      strides[k].assign(rank, 0);
      int64_t stride = 1;
      for (size_t d = in.size(); d-- > 0;) {
        strides[k][d + rank - in.size()] = in[d] == 1 ? 0 : stride;
        stride *= in[d];
      }
    }
    // Coalesce from the innermost dimension outwards, dropping size-1 dimensions.
    for (size_t d = rank; d-- > 0;) {
      if (out[d] == 1) continue;
      bool merge = !dims_.empty();
      for (size_t k = 0; merge && k < N; ++k)
        merge = strides[k][d] == strides_[k].front() * dims_.front();
      if (merge) {
        dims_.front() *= out[d];
      } else {
        dims_.insert(dims_.begin(), out[d]);
        for (size_t k = 0; k < N; ++k) strides_[k].insert(strides_[k].begin(), strides[k][d]);
      }
    }
    total_ = 1;
    for (int64_t d : out) total_ *= d;
    if (dims_.empty()) {  // scalar output or all dimensions 1
      dims_.push_back(1);
      for (size_t k = 0; k < N; ++k) strides_[k].push_back(0);
    }
  }

  //! Calls body(out_offset, count, in_offsets, in_strides) for every innermost row: output
  //! elements out_offset + j and input k elements in_offsets[k] + j * in_strides[k], j < count.
  template <typename Body>
  void run(Body&& body) const {
    if (total_ == 0) return;
    const size_t outer_rank = dims_.size() - 1;
    const int64_t inner = dims_.back();
    std::array<int64_t, N> inner_strides;
    for (size_t k = 0; k < N; ++k) inner_strides[k] = strides_[k].back();
    std::vector<int64_t> coord(outer_rank, 0);
    std::array<int64_t, N> offsets{};
    for (int64_t out_offset = 0; out_offset < total_; out_offset += inner) {
      body(out_offset, inner, offsets, inner_strides);
      for (size_t d = outer_rank; d-- > 0;) {
        for (size_t k = 0; k < N; ++k) offsets[k] += strides_[k][d];
        if (++coord[d] < dims_[d]) break;
        for (size_t k = 0; k < N; ++k) offsets[k] -= strides_[k][d] * coord[d];
        coord[d] = 0;
      }
    }
  }

 private:
  std::vector<int64_t> dims_;                      //!< coalesced output dims, outermost first
  std::array<std::vector<int64_t>, N> strides_;  //!< per input, per coalesced dim (0 = broadcast)
  int64_t total_ = 0;
};

}  // namespace kiln::cpu

namespace kiln::cpu {

//! out[i] = fn(a[.], b[.]) with a and b broadcast to `out_shape`. Same-shape inputs take one
//! flat loop. `out` may alias `a` or `b` when that input already has the output's shape.
template <typename TA, typename TB, typename TO, typename Fn>
void broadcastBinary(const TA* a, const ir::Shape& a_shape, const TB* b, const ir::Shape& b_shape, TO* out,
                     const ir::Shape& out_shape, Fn&& fn) {
  if (a_shape == out_shape && b_shape == out_shape) {
    int64_t n = 1;
    for (int64_t d : out_shape) n *= d;
    for (int64_t i = 0; i < n; ++i) out[i] = fn(a[i], b[i]);
    return;
  }
  BroadcastLoop<2> loop(out_shape, {&a_shape, &b_shape});
  loop.run([&](int64_t o, int64_t n, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& stride) {
    const TA* x = a + off[0];
    const TB* y = b + off[1];
    TO* z = out + o;
    // An inner stride is 1 (the input varies along the row) or 0 (it is broadcast).
    if (stride[0] == 1 && stride[1] == 1) {
      for (int64_t j = 0; j < n; ++j) z[j] = fn(x[j], y[j]);
    } else if (stride[0] == 1) {
      const TB yv = *y;
      for (int64_t j = 0; j < n; ++j) z[j] = fn(x[j], yv);
    } else if (stride[1] == 1) {
      const TA xv = *x;
      for (int64_t j = 0; j < n; ++j) z[j] = fn(xv, y[j]);
    } else {
      const TO v = fn(*x, *y);
      for (int64_t j = 0; j < n; ++j) z[j] = v;
    }
  });
}

//! broadcastBinary on tensors of element types TA, TB (viewed as such) into `out` of TO.
template <typename TA, typename TB, typename TO, typename Fn>
void broadcastBinary(const ir::Tensor& a, const ir::Tensor& b, ir::Tensor& out, Fn&& fn) {
  broadcastBinary(a.values<TA>().data(), a.shape(), b.values<TB>().data(), b.shape(), out.values<TO>().data(),
                  out.shape(), fn);
}

}  // namespace kiln::cpu
