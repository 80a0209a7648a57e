// Reference kernel of CenterCropPad (see src/ir/ops/center_crop_pad.cpp): along each axis,
// output index o reads input index o + (in - out) / 2, rounded towards minus infinity for a
// crop and for a pad alike (an odd difference leaves the extra element at the end), and 0
// where that index falls outside the input. One strided copy over the element bytes.
#include <vector>

#include "backends/cpu/kernels/axis_map.h"
#include "backends/cpu/reference.h"
#include "ir/tensor.h"

namespace kiln::cpu {
namespace {

KILN_REFERENCE_KERNEL(CenterCropPad, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  const std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  AxisTables tables(in.shape().size());
  for (size_t d = 0; d < tables.size(); ++d) {
    const int64_t n = out.shape()[d], dim = in.shape()[d];
    const int64_t offset = dim >= n ? (dim - n) / 2 : -((n - dim) / 2);
    for (int64_t o = 0; o < n; ++o) {
      const int64_t i = o + offset;
      tables[d].push_back(i >= 0 && i < dim ? i * strides[d] : kOutside);
    }
  }
  const std::byte zero[8]{};  // the zero of every type mapCopy handles
  mapCopy(in, out, tables, zero);
});

}  // namespace
}  // namespace kiln::cpu
