// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss in double (the reference in
// backends/cpu/kernels/loss.cpp is the specification): one thread per label position computes
// its (weighted) loss, and for SoftmaxCrossEntropyLoss the log-softmax over the classes; sum and
// mean are then reduced by one block in a fixed order, so results do not vary between runs.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/loss.h"

namespace kiln::cuda {
namespace {

constexpr int kReduceThreads = 256;

template <typename T>
__global__ void lossKernel(const LossProblem p, const T* __restrict__ x, const void* __restrict__ labels,
                           const T* __restrict__ weights, T* __restrict__ loss, T* __restrict__ log_prob,
                           double* __restrict__ partial) {
  const int64_t positions = p.n * p.d;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < positions; t += stride) {
    const int64_t b = t / p.d, i = t - b * p.d;
    auto at = [&](int64_t k) { return (b * p.c + k) * p.d + i; };
    double shift = 0.0;
    if (p.softmax) {
      double top = -INFINITY;
      for (int64_t k = 0; k < p.c; ++k) top = fmax(top, loadDouble(x, at(k)));
      double sum = 0.0;
      for (int64_t k = 0; k < p.c; ++k) sum += exp(loadDouble(x, at(k)) - top);
      shift = top + log(sum);
      if (log_prob)
        for (int64_t k = 0; k < p.c; ++k) storeDouble(log_prob, at(k), loadDouble(x, at(k)) - shift);
    }
    const int64_t label = p.label_type == DataType::kINT32 ? static_cast<const int32_t*>(labels)[t]
                                                           : static_cast<const int64_t*>(labels)[t];
    double value = 0.0, weight = 0.0;
    if (!(p.has_ignore && label == p.ignore_index)) {
      if (label < 0 || label >= p.c) {
        value = NAN;
      } else {
        weight = weights ? loadDouble(weights, label) : 1.0;
        value = -(loadDouble(x, at(label)) - shift) * weight;
      }
    }
    if (p.reduction == 0) {
      storeDouble(loss, t, value);
    } else {
      partial[2 * t] = value;
      partial[2 * t + 1] = weight;
    }
  }
}

template <typename T>
__global__ void lossReduceKernel(const LossProblem p, const double* __restrict__ partial, T* __restrict__ loss) {
  __shared__ double sums[kReduceThreads], weights[kReduceThreads];
  const int64_t positions = p.n * p.d;
  double s = 0.0, w = 0.0;
  for (int64_t t = threadIdx.x; t < positions; t += blockDim.x) {
    s += partial[2 * t];
    w += partial[2 * t + 1];
  }
  sums[threadIdx.x] = s;
  weights[threadIdx.x] = w;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0, total_weight = 0.0;
    for (int k = 0; k < kReduceThreads; ++k) {
      total += sums[k];
      total_weight += weights[k];
    }
    storeDouble(loss, 0, p.reduction == 1 ? total : total / total_weight);
  }
}

}  // namespace

size_t lossWorkspace(const LossProblem& p) {
  return p.reduction == 0 ? 0 : static_cast<size_t>(p.n * p.d) * 2 * sizeof(double);
}

void launchLoss(const LossProblem& p, const void* scores, const void* labels, const void* weights, void* loss,
                void* log_prob, void* workspace, cudaStream_t stream) {
  dispatchFloatingType(p.type, "cuda.loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t positions = p.n * p.d;
    double* partial = static_cast<double*>(workspace);
    if (positions > 0)
      lossKernel<T><<<gridFor(positions), kThreads, 0, stream>>>(p, static_cast<const T*>(scores), labels,
                                                                 static_cast<const T*>(weights), static_cast<T*>(loss),
                                                                 static_cast<T*>(log_prob), partial);
    if (p.reduction != 0) lossReduceKernel<T><<<1, kReduceThreads, 0, stream>>>(p, partial, static_cast<T*>(loss));
  });
}

}  // namespace kiln::cuda
