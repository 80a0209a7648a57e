// Reference kernels of the shape-changing operators: Reshape, Flatten, Squeeze, Unsqueeze,
// Expand, Shape, Size, ConstantOfShape, Range and Constant.
#include <cstring>

#include "backends/cpu/kernels/axis_map.h"
#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

//! Reshape-like ops: the output (shaped by the shape rule) holds the input's bytes.
void copyBytes(KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  if (in.byteSize() != out.byteSize()) ctx.unsupported("input and output sizes differ");
  if (in.byteSize()) std::memcpy(out.raw(), in.raw(), in.byteSize());
}

KILN_REFERENCE_KERNEL(Reshape, copyBytes);
KILN_REFERENCE_KERNEL(Flatten, copyBytes);
KILN_REFERENCE_KERNEL(Squeeze, copyBytes);
KILN_REFERENCE_KERNEL(Unsqueeze, copyBytes);

KILN_REFERENCE_KERNEL(Expand, [](KernelContext& ctx) {
  const ir::Tensor& in = ctx.in(0);
  ir::Tensor& out = ctx.out(0);
  std::vector<int64_t> strides = ir::contiguousStrides(in.shape());
  size_t lead = out.shape().size() - in.shape().size();
  AxisTables tables(out.shape().size());
  for (size_t d = 0; d < out.shape().size(); ++d) {
    int64_t n = out.shape()[d];
    if (d < lead || in.shape()[d - lead] == 1) tables[d].assign(static_cast<size_t>(n), 0);
    else tables[d] = stridedTable(n, 0, 1, strides[d - lead]);
  }
  mapCopy(in, out, tables);
});

KILN_REFERENCE_KERNEL(Shape, [](KernelContext& ctx) {
  const ir::Shape& s = ctx.in(0).shape();
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = ctx.attrs().i("start", 0);
  if (start < 0) start += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  auto out = ctx.out(0).values<int64_t>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = s[start + static_cast<int64_t>(i)];
});

KILN_REFERENCE_KERNEL(Size, [](KernelContext& ctx) { ctx.out(0).values<int64_t>()[0] = ctx.in(0).numel(); });

//! Fills `out` with copies of the single element at `value`.
void fillWith(ir::Tensor& out, const std::byte* value) {
  size_t es = elementSize(out.type());
  std::byte* dst = out.raw();
  for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(dst + i * es, value, es);
}

KILN_REFERENCE_KERNEL(ConstantOfShape, [](KernelContext& ctx) {
  ir::Tensor& out = ctx.out(0);
  if (ctx.attrs().has("value")) {
    fillWith(out, ctx.attrs().t("value").raw());
  }  // else: the output is already float zeros
});

KILN_REFERENCE_KERNEL(Range, [](KernelContext& ctx) {
  ir::Tensor& out = ctx.out(0);
  ir::dispatchType(out.type(), [&]<typename T>() {
    auto v = out.values<T>();
    if constexpr (std::is_integral_v<T>) {
      int64_t start = ctx.in(0).intAt(0), delta = ctx.in(2).intAt(0);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(start + static_cast<int64_t>(i) * delta);
    } else {
      double start = ctx.in(0).at(0), delta = ctx.in(2).at(0);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(start + static_cast<double>(i) * delta);
    }
  });
});

KILN_REFERENCE_KERNEL(Constant, [](KernelContext& ctx) {
  const ir::Attributes& a = ctx.attrs();
  ir::Tensor& out = ctx.out(0);
  if (a.has("value")) {
    const ir::Tensor& v = a.t("value");
    if (v.byteSize()) std::memcpy(out.raw(), v.raw(), v.byteSize());
  } else if (a.has("value_float")) {
    out.values<float>()[0] = a.f("value_float");
  } else if (a.has("value_int")) {
    out.values<int64_t>()[0] = a.i("value_int");
  } else if (a.has("value_floats")) {
    std::vector<float> v = a.floats("value_floats");
    std::copy(v.begin(), v.end(), out.values<float>().begin());
  } else if (a.has("value_ints")) {
    std::vector<int64_t> v = a.ints("value_ints");
    std::copy(v.begin(), v.end(), out.values<int64_t>().begin());
  } else {
    ctx.unsupported("no supported value attribute");
  }
});

}  // namespace
}  // namespace kiln::cpu
