// QLinearMatMul: y = saturate(round_half_even(sum_k (a - za)(b - zb) * (sa * sb / sy)) + zy),
// one thread per output element; the sum is exact in int64, the multiplier is computed in the
// scales' type (half and bfloat16 round after each step), as the reference.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/qlinear_matmul.h"

namespace kiln::cuda {
namespace {

__device__ __forceinline__ int64_t intAt(const void* p, int64_t i, DataType t) {
  return t == DataType::kUINT8 ? static_cast<int64_t>(static_cast<const uint8_t*>(p)[i])
                               : static_cast<int64_t>(static_cast<const int8_t*>(p)[i]);
}

//! A value rounded to the scale type (float for float, half / bfloat16 through float).
__device__ __forceinline__ float roundTo(float v, DataType t) {
  if (t == DataType::kHALF) return __half2float(__float2half_rn(v));
  if (t == DataType::kBF16) return __bfloat162float(__float2bfloat16_rn(v));
  return v;
}

__device__ double multiplier(double sa, double sb, double sy, DataType t) {
  if (t == DataType::kDOUBLE) return sa * sb / sy;
  const float product = roundTo(roundTo(static_cast<float>(sa), t) * roundTo(static_cast<float>(sb), t), t);
  return static_cast<double>(roundTo(product / roundTo(static_cast<float>(sy), t), t));
}

//! The scale / zero point element of line `line` of an operand summed along `sum_axis`.
__device__ int64_t paramIndex(const QOperand& o, int sum_axis, int64_t line) {
  if (o.param_volume == 1) return 0;
  const int other = sum_axis == o.rank - 1 ? o.rank - 2 : o.rank - 1;
  int64_t pstride[QOperand::kMaxRank];
  int64_t s = 1;
  for (int d = o.param_rank - 1; d >= 0; --d) {
    pstride[d] = s;
    s *= o.param_dims[d];
  }
  int64_t rest = line, offset = 0;
  for (int d = o.rank - 1; d >= 0; --d) {
    if (d == sum_axis) continue;
    const int64_t c = rest % o.dims[d];
    rest /= o.dims[d];
    if (o.param_rank == 1) {
      if (d == other) offset = c;
    } else if (o.param_dims[d] != 1) {
      offset += c * pstride[d];
    }
  }
  return offset;
}

struct QInputs {
  const void *a, *sa, *za, *b, *sb, *zb, *sy, *zy;
};

__global__ void qlinearMatMulKernel(const __grid_constant__ QLinearMatMulProblem p, QInputs in, void* y) {
  const int64_t total = p.batches * p.m * p.n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const double sy = loadAsDouble(in.sy, 0, p.scale_type);
  const int64_t zy = intAt(in.zy, 0, p.y_type);
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t j = t % p.n, i = (t / p.n) % p.m, e = t / (p.n * p.m);
    int64_t rest = e, ia = 0, ib = 0, sa_ = 1, sb_ = 1;
    for (int d = p.batch_rank - 1; d >= 0; --d) {
      const int64_t c = rest % p.batch[d];
      rest /= p.batch[d];
      if (p.batch_a[d] != 1) ia += c * sa_;
      if (p.batch_b[d] != 1) ib += c * sb_;
      sa_ *= p.batch_a[d];
      sb_ *= p.batch_b[d];
    }
    const int64_t pa = paramIndex(p.a, p.a.rank - 1, ia * p.m + i);
    const int64_t pb = paramIndex(p.b, p.b.rank - 2, ib * p.n + j);
    const int64_t za = intAt(in.za, pa, p.a_type), zb = intAt(in.zb, pb, p.b_type);
    int64_t sum = 0;
    for (int64_t s = 0; s < p.k; ++s)
      sum += (intAt(in.a, (ia * p.m + i) * p.k + s, p.a_type) - za) *
             (intAt(in.b, (ib * p.k + s) * p.n + j, p.b_type) - zb);
    const double q =
        nearbyint(static_cast<double>(sum) * multiplier(loadAsDouble(in.sa, pa, p.scale_type),
                                                        loadAsDouble(in.sb, pb, p.scale_type), sy, p.scale_type)) +
        static_cast<double>(zy);
    if (p.y_type == DataType::kUINT8)
      static_cast<uint8_t*>(y)[t] = q != q ? 0 : static_cast<uint8_t>(fmin(fmax(q, 0.0), 255.0));
    else static_cast<int8_t*>(y)[t] = q != q ? 0 : static_cast<int8_t>(fmin(fmax(q, -128.0), 127.0));
  }
}

}  // namespace

void launchQLinearMatMul(const QLinearMatMulProblem& p, const void* const* inputs, void* y, cudaStream_t stream) {
  const int64_t total = p.batches * p.m * p.n;
  if (total == 0) return;
  const QInputs in{inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6], inputs[7]};
  qlinearMatMulKernel<<<gridFor(total), kThreads, 0, stream>>>(p, in, y);
}

}  // namespace kiln::cuda
