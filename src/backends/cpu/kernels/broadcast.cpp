#include "backends/cpu/kernels/broadcast.h"

namespace kiln::cpu {

std::vector<int64_t> broadcastIndex(const ir::Shape& in_shape, const ir::Shape& out_shape) {
  size_t rank = out_shape.size();
  size_t offset = rank - in_shape.size();
  std::vector<int64_t> in_strides(rank, 0);
  int64_t stride = 1;
  for (size_t d = in_shape.size(); d-- > 0;) {
    in_strides[d + offset] = in_shape[d] == 1 ? 0 : stride;
    stride *= in_shape[d];
  }
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  std::vector<int64_t> index(static_cast<size_t>(total));
  std::vector<int64_t> coord(rank, 0);
  int64_t flat = 0;
  for (int64_t i = 0; i < total; ++i) {
    index[i] = flat;
    for (size_t d = rank; d-- > 0;) {
      flat += in_strides[d];
      if (++coord[d] < out_shape[d]) break;
      flat -= in_strides[d] * coord[d];
      coord[d] = 0;
    }
  }
  return index;
}

}  // namespace kiln::cpu
