// kiln's CUDA Softmax and LogSoftmax along any axis (and the pre-13 "flatten at axis" form).
// The input is viewed as [outer][length][inner]. With inner == 1 (the last axis) rows are
// contiguous: one warp per row (short rows) or one block per row (long rows), with warp
// shuffles. Otherwise each thread walks one (outer, inner) column with stride `inner`, so a
// warp's reads are consecutive. Max-subtracted, sums in float.
#include "backends/cuda/kernels/compute_common.cuh"

namespace kiln::cuda {
namespace {

struct AxisView {
  int outer = 1, length = 1, inner = 1;
};

template <bool kLog>
__device__ __forceinline__ float softmaxValue(float x, float max, float sum, float log_sum) {
  return kLog ? (x - max) - log_sum : expf(x - max) / sum;
}

//! One warp per contiguous row; 8 rows per block of 256 threads.
template <typename T, bool kLog>
__global__ void softmaxRowsWarp(const T* __restrict__ x, T* __restrict__ y, AxisView v) {
  const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= v.outer) return;
  const T* src = x + static_cast<int64_t>(row) * v.length;
  T* dst = y + static_cast<int64_t>(row) * v.length;
  float max = -INFINITY;
  for (int k = lane; k < v.length; k += 32) max = nanMax(max, toFloat(src[k]));
  max = warpMax(max);
  float sum = 0.0f;
  for (int k = lane; k < v.length; k += 32) sum += expf(toFloat(src[k]) - max);
  sum = warpSum(sum);
  const float log_sum = logf(sum);
  for (int k = lane; k < v.length; k += 32) dst[k] = fromFloat<T>(softmaxValue<kLog>(toFloat(src[k]), max, sum, log_sum));
}

//! One block per contiguous row.
template <typename T, bool kLog>
__global__ void softmaxRowsBlock(const T* __restrict__ x, T* __restrict__ y, AxisView v) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const T* src = x + static_cast<int64_t>(row) * v.length;
  T* dst = y + static_cast<int64_t>(row) * v.length;
  float max = -INFINITY;
  for (int k = threadIdx.x; k < v.length; k += blockDim.x) max = nanMax(max, toFloat(src[k]));
  max = blockMax(max, scratch);
  float sum = 0.0f;
  for (int k = threadIdx.x; k < v.length; k += blockDim.x) sum += expf(toFloat(src[k]) - max);
  sum = blockSum(sum, scratch);
  const float log_sum = logf(sum);
  for (int k = threadIdx.x; k < v.length; k += blockDim.x)
    dst[k] = fromFloat<T>(softmaxValue<kLog>(toFloat(src[k]), max, sum, log_sum));
}

//! One thread per (outer, inner) column, stepping `inner` elements along the axis.
template <typename T, bool kLog>
__global__ void softmaxStrided(const T* __restrict__ x, T* __restrict__ y, AxisView v) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= v.outer * v.inner) return;
  const int outer = c / v.inner, inner = c - outer * v.inner;
  const int64_t base = static_cast<int64_t>(outer) * v.length * v.inner + inner;
  const T* src = x + base;
  T* dst = y + base;
  // Online max and sum in one pass: the sum is rescaled whenever the max grows.
  float max = -INFINITY, sum = 0.0f;
  for (int k = 0; k < v.length; ++k) {
    const float e = toFloat(src[static_cast<int64_t>(k) * v.inner]);
    if (e > max) {
      sum = sum * expf(max - e) + 1.0f;
      max = e;
    } else if (e != -INFINITY) {  // a masked (-inf) entry adds nothing, even before any finite one
      sum += expf(e - max);
    }
  }
  const float log_sum = logf(sum);
  for (int k = 0; k < v.length; ++k) {
    const int64_t at = static_cast<int64_t>(k) * v.inner;
    dst[at] = fromFloat<T>(softmaxValue<kLog>(toFloat(src[at]), max, sum, log_sum));
  }
}

AxisView axisView(const backend::LayerView& layer) {
  const ir::Shape& s = layer.inputs[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  const bool legacy = layer.opset > 0 && layer.opset < 13;  // the op spans all of s[axis:]
  int64_t axis = layer.attrs().i("axis", legacy ? 1 : -1);
  if (axis < 0) axis += rank;
  AxisView v;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) v.outer *= static_cast<int>(s[d]);
    else if (d == axis || legacy) v.length *= static_cast<int>(s[d]);
    else v.inner *= static_cast<int>(s[d]);
  }
  return v;
}

class SoftmaxKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<SoftmaxKernel>(*this); }
  SoftmaxKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    log_ = layer.node->op == "LogSoftmax";
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    view_ = axisView(layer);
  }

  void run(const backend::RunArgs& args) override {
    if (view_.outer == 0 || view_.inner == 0 || view_.length == 0) return;
    cudaStream_t stream = streamOf(args);
    dispatchCompute(type_, [&]<typename T>() {
      const T* x = static_cast<const T*>(args.inputs[0]);
      T* y = static_cast<T*>(args.outputs[0]);
      if (view_.inner > 1) {
        const int64_t columns = static_cast<int64_t>(view_.outer) * view_.inner;
        if (log_) softmaxStrided<T, true><<<gridFor(columns, 256), 256, 0, stream>>>(x, y, view_);
        else softmaxStrided<T, false><<<gridFor(columns, 256), 256, 0, stream>>>(x, y, view_);
      } else if (view_.length <= 1024) {
        if (log_) softmaxRowsWarp<T, true><<<gridFor(view_.outer, 8), 256, 0, stream>>>(x, y, view_);
        else softmaxRowsWarp<T, false><<<gridFor(view_.outer, 8), 256, 0, stream>>>(x, y, view_);
      } else {
        if (log_) softmaxRowsBlock<T, true><<<view_.outer, 512, 0, stream>>>(x, y, view_);
        else softmaxRowsBlock<T, false><<<view_.outer, 512, 0, stream>>>(x, y, view_);
      }
    });
    checkLaunch();
  }

  bool refit(const backend::LayerView&) override { return true; }

 private:
  bool log_ = false;
  DataType type_ = DataType::kFLOAT;
  AxisView view_;
};

class SoftmaxProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.softmax"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "Softmax" || op == "LogSoftmax"; }
  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max, const backend::BuildOptions&) const override {
    if (opt.inputs.empty() || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!isComputeType(t) || opt.inputs[0].type != t || opt.inputs[0].shape.empty()) return {};
    if (!allFitInt32(min) || !allFitInt32(max)) return {};
    return {backend::TacticConfig{.name = "cuda.softmax"}};
  }
  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device& device) const override {
    return std::make_unique<SoftmaxKernel>(layer, device);
  }
};

KILN_TACTIC_PROVIDER(SoftmaxProvider);

}  // namespace
}  // namespace kiln::cuda
