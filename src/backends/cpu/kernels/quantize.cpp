// Reference kernels of the linear quantization operators (see src/ir/ops/quantize.cpp for the
// granularities): QuantizeLinear y = saturate(round_half_even(x / scale) + zero_point) and
// DequantizeLinear y = (x - zero_point) * scale; DynamicQuantizeLinear, which picks a uint8 scale
// and zero point from x's range first.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/onnx_types.h"

namespace kiln::cpu {
namespace {

//! Which scale (and zero point) element applies to each element of x.
class ScaleIndex {
 public:
  ScaleIndex(const KernelContext& ctx, const ir::Shape& x, const ir::Shape& scale) {
    const int64_t block = ctx.attrs().i("block_size", 0);
    if (scale.empty() || (scale.size() == 1 && scale[0] == 1 && block == 0)) return;  // per tensor
    int64_t axis = ctx.attrs().i("axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    dim_ = x[axis];
    scale_dim_ = block > 0 ? scale[axis] : 1;
    block_ = block > 0 ? block : 1;
    for (size_t d = axis + 1; d < x.size(); ++d) inner_ *= x[d];
    per_axis_ = block == 0;
  }

  int64_t operator()(int64_t i) const {
    if (dim_ == 0) return 0;
    const int64_t a = (i / inner_) % dim_;
    if (per_axis_) return a;
    const int64_t outer = i / (inner_ * dim_);
    return (outer * scale_dim_ + a / block_) * inner_ + i % inner_;
  }

 private:
  int64_t dim_ = 0;  // 0: per tensor
  int64_t scale_dim_ = 1, block_ = 1, inner_ = 1;
  bool per_axis_ = false;
};

std::vector<int64_t> zeroPoints(const KernelContext& ctx) {
  return ctx.has(2) ? ctx.in(2).toInt64() : std::vector<int64_t>(ctx.in(1).numel(), 0);
}

//! The kiln type of an ONNX data type number that the shape rule accepted as `precision`.
DataType precisionType(int64_t onnx_type, DataType fallback) {
  const std::optional<DataType> t = ir::fromOnnxType(onnx_type);
  return t && isFloatingPoint(*t) ? *t : fallback;
}

//! x / s rounded as the precision type P computes it (half and bfloat16 through float).
template <typename P>
double divideIn(double x, double s) {
  if constexpr (std::is_same_v<P, double>) return x / s;
  else
    return static_cast<double>(static_cast<float>(P(static_cast<float>(P(static_cast<float>(x)))) /
                                                  static_cast<float>(P(static_cast<float>(s)))));
}

KILN_REFERENCE_KERNEL(QuantizeLinear, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ScaleIndex index(ctx, x.shape(), ctx.in(1).shape());
  const std::vector<double> xv = x.toDouble(), scale = ctx.in(1).toDouble();
  const std::vector<int64_t> zero = zeroPoints(ctx);
  const DataType precision = precisionType(ctx.attrs().i("precision", 0), ctx.in(1).type());
  std::vector<double> q(xv.size());
  ir::dispatchFloat(precision, [&]<typename P>() {
    for (size_t i = 0; i < xv.size(); ++i) {
      const int64_t s = index(static_cast<int64_t>(i));
      q[i] = std::nearbyint(divideIn<P>(xv[i], scale[s])) + static_cast<double>(zero[s]);  // ties to even
    }
  });
  ir::Tensor& y = ctx.out(0);
  ir::dispatchType(y.type(), [&]<typename T>() {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      constexpr double lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
      T* out = y.values<T>().data();
      for (size_t i = 0; i < q.size(); ++i) out[i] = static_cast<T>(std::isnan(q[i]) ? 0.0 : std::clamp(q[i], lo, hi));
    } else {
      ctx.unsupported("cannot quantize to " + std::string(toString(y.type())));
    }
  });
});

KILN_REFERENCE_KERNEL(DequantizeLinear, [](KernelContext& ctx) {
  const ir::Tensor& x = ctx.in(0);
  const ScaleIndex index(ctx, x.shape(), ctx.in(1).shape());
  const std::vector<int64_t> xv = x.toInt64(), zero = zeroPoints(ctx);
  const std::vector<double> scale = ctx.in(1).toDouble();
  ir::Tensor& y = ctx.out(0);
  // The output type sets the precision of the product: double for double, float otherwise.
  ir::dispatchFloat(y.type(), [&]<typename T>() {
    using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;
    T* out = y.values<T>().data();
    for (size_t i = 0; i < xv.size(); ++i) {
      const int64_t s = index(static_cast<int64_t>(i));
      out[i] = static_cast<T>(static_cast<Compute>(xv[i] - zero[s]) * static_cast<Compute>(scale[s]));
    }
  });
});

// In float32 throughout, as the operator's definition computes: the range [min(0, min x),
// max(0, max x)] maps onto [0, 255]. An all-zero x (an empty range) gets the scale 1 / 255,
// as ONNX's reference implementation picks, so that no division by zero occurs.
KILN_REFERENCE_KERNEL(DynamicQuantizeLinear, [](KernelContext& ctx) {
  const auto x = ctx.in(0).values<float>();
  float lo = 0, hi = 0;
  for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  const float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  const float zero = std::nearbyint(std::clamp(0.0f - lo / scale, 0.0f, 255.0f));
  auto y = ctx.out(0).values<uint8_t>();
  for (size_t i = 0; i < x.size(); ++i) {
    const float q = std::nearbyint(x[i] / scale) + zero;
    y[i] = std::isnan(q) ? 0 : static_cast<uint8_t>(std::clamp(q, 0.0f, 255.0f));
  }
  ctx.out(1).values<float>()[0] = scale;
  ctx.out(2).values<uint8_t>()[0] = static_cast<uint8_t>(zero);
});

}  // namespace
}  // namespace kiln::cpu
