// What the data-dependent operators compute, shared by their shape rules (which size the
// outputs from known values) and their CPU reference kernels.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "ir/tensor.h"

namespace kiln::ir {

//! Unique's distinct slices of `x` along `axis` (-1: its elements, flattened): the index of
//! each one's first occurrence, in ascending order of the slices when `sorted` (lexicographic
//! for slices), else in order of appearance; and for every slice of x the position of its
//! distinct slice in that list.
std::pair<std::vector<int64_t>, std::vector<int64_t>> uniqueOf(const Tensor& x, int64_t axis, bool sorted);

struct NmsInputs {
  const Tensor* boxes = nullptr;   //!< [batch, boxes, 4]
  const Tensor* scores = nullptr;  //!< [batch, classes, boxes]
  int64_t max_per_class = 0;
  double iou_threshold = 0.0;
  std::optional<double> score_threshold;
  bool center_point_box = false;
};
//! NonMaxSuppression's selected (batch, class, box) triples, per batch and class in order of
//! selection: boxes above score_threshold by descending score (ties: lower index first), each
//! kept unless its IoU with a kept one exceeds iou_threshold, at most max_per_class.
std::vector<std::array<int64_t, 3>> nonMaxSuppression(const NmsInputs& in);

}  // namespace kiln::ir
