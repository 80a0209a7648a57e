// Reference kernel of AffineGrid (see src/ir/ops/affine_grid.cpp for the layouts): each grid
// point is theta[n] times the homogeneous normalized position (x, y[, z], 1) of a pixel.
// Positions along an axis of length L are pixel centres -1 + (2i + 1) / L, or with
// align_corners the corners -1 + 2i / (L - 1) (-1 when L = 1, as in the ONNX reference).
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

KILN_REFERENCE_KERNEL(AffineGrid, [](KernelContext& ctx) {
  const std::vector<double> theta = ctx.in(0).toDouble();
  const ir::Shape& out_shape = ctx.out(0).shape();
  const auto r = static_cast<int64_t>(out_shape.size()) - 2;
  const bool align = ctx.attrs().i("align_corners", 0) != 0;
  const int64_t batch = out_shape[0];
  // positions[d][i]: normalized position of index i along spatial axis d (outermost first).
  std::vector<std::vector<double>> positions(static_cast<size_t>(r));
  int64_t points = 1;
  for (int64_t d = 0; d < r; ++d) {
    const int64_t length = out_shape[1 + d];
    points *= length;
    for (int64_t i = 0; i < length; ++i) {
      const auto fi = static_cast<double>(i), fl = static_cast<double>(length);
      positions[d].push_back(align ? (length > 1 ? -1 + 2 * fi / (fl - 1) : -1.0) : -1 + (2 * fi + 1) / fl);
    }
  }
  ir::dispatchFloat(ctx.out(0).type(), [&]<typename T>() {
    T* dst = ctx.out(0).values<T>().data();
    std::vector<double> base(static_cast<size_t>(r + 1), 1.0);  // (x, y[, z], 1)
    for (int64_t n = 0; n < batch; ++n) {
      const double* m = theta.data() + n * r * (r + 1);
      for (int64_t p = 0; p < points; ++p) {
        for (int64_t d = r - 1, rest = p; d >= 0; --d) {
          const int64_t length = out_shape[1 + d];
          base[r - 1 - d] = positions[d][rest % length];  // axis d is coordinate r - 1 - d
          rest /= length;
        }
        for (int64_t row = 0; row < r; ++row) {
          double sum = 0;
          for (int64_t k = 0; k <= r; ++k) sum += m[row * (r + 1) + k] * base[k];
          dst[(n * points + p) * r + row] = static_cast<T>(sum);
        }
      }
    }
  });
});

}  // namespace
}  // namespace kiln::cpu
