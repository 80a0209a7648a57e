// RNN, GRU and LSTM as their reference computes them (backends/cpu/kernels/recurrent.cpp is
// the specification): one block per (batch row, direction) walks the row's time steps; each
// thread computes the gates of its hidden units with plain dot products in double; h, c and
// GRU's r (.) h live in shared memory between the steps.
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/recurrent.h"

namespace kiln::cuda {
namespace {

__device__ double activate(const RecurrentFn& f, double x) {
  switch (f.kind) {
    case 0: return fmax(x, 0.0);
    case 1: return tanh(x);
    case 2: return 1.0 / (1.0 + exp(-x));
    case 3: return f.alpha * x + f.beta;
    case 4: return x >= 0.0 ? x : f.alpha * x;
    case 5: return x >= f.alpha ? x : 0.0;
    case 6: return f.alpha * tanh(f.beta * x);
    case 7: return fmin(fmax(f.alpha * x + f.beta, 0.0), 1.0);
    case 8: return x >= 0.0 ? x : f.alpha * expm1(x);
    case 9: return x / (1.0 + fabs(x));
    case 10: return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
    default: return x;
  }
}

template <typename T>
__global__ void recurrentKernel(const RecurrentProblem p, const RecurrentArgs a) {
  extern __shared__ double shared[];
  const int64_t H = p.hidden, G = p.gates, I = p.input, D = p.directions, N = p.batch, S = p.seq;
  double* h = shared;      // H_{t-1}
  double* c = shared + H;  // C_{t-1} (LSTM)
  double* next = shared + 2 * H;
  double* reset_h = shared + 3 * H;  // GRU: r (.) H_{t-1}
  const int64_t b = blockIdx.x / D, d = blockIdx.x % D;
  const bool reverse = p.reverse_only || d == 1;
  const int64_t len = a.lens ? static_cast<const int32_t*>(a.lens)[b] : S;
  if (len < 0 || len > S) {  // the reference refuses such a length: NaN, never a read past X
    for (int64_t t = 0; t < S; ++t)
      for (int64_t j = threadIdx.x; a.y && j < H; j += blockDim.x)
        storeDouble(static_cast<T*>(a.y), (p.batch_first ? (b * S + t) * D + d : (t * D + d) * N + b) * H + j, NAN);
    for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
      if (a.yh) storeDouble(static_cast<T*>(a.yh), (p.batch_first ? b * D + d : d * N + b) * H + j, NAN);
      if (a.yc) storeDouble(static_cast<T*>(a.yc), (p.batch_first ? b * D + d : d * N + b) * H + j, NAN);
    }
    return;
  }
  const int64_t s0 = (p.batch_first ? b * D + d : d * N + b) * H;
  const T* x = static_cast<const T*>(a.x);
  const T* w = static_cast<const T*>(a.w) + d * G * H * I;
  const T* r = static_cast<const T*>(a.r) + d * G * H * H;
  const T* wb = a.b ? static_cast<const T*>(a.b) + d * 2 * G * H : nullptr;
  const T* peep = a.p ? static_cast<const T*>(a.p) + d * 3 * H : nullptr;
  const RecurrentFn* fn = p.fns + d * p.per_direction;
  auto clipped = [&](double v) { return p.clip > 0.0 ? fmin(fmax(v, -p.clip), p.clip) : v; };
  for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
    h[j] = a.h0 ? loadDouble(static_cast<const T*>(a.h0), s0 + j) : 0.0;
    c[j] = a.c0 ? loadDouble(static_cast<const T*>(a.c0), s0 + j) : 0.0;
  }
  __syncthreads();
  // Y is zero past each row's length.
  if (a.y)
    for (int64_t t = len; t < S; ++t)
      for (int64_t j = threadIdx.x; j < H; j += blockDim.x)
        storeDouble(static_cast<T*>(a.y), (p.batch_first ? (b * S + t) * D + d : (t * D + d) * N + b) * H + j, 0.0);
  for (int64_t s = 0; s < len; ++s) {
    const int64_t t = reverse ? len - 1 - s : s;
    const int64_t xt = (p.batch_first ? b * S + t : t * N + b) * I;
    // xw(k) = W_k . x_t + Wb_k; hr(k) = R_k . h + Rb_k, for gate row k = g * H + j.
    auto xw = [&](int64_t k) {
      double acc = 0.0;
      for (int64_t i = 0; i < I; ++i) acc += loadDouble(w, k * I + i) * loadDouble(x, xt + i);
      return acc + (wb ? loadDouble(wb, k) : 0.0);
    };
    auto hr = [&](int64_t k, const double* state) {
      double acc = 0.0;
      for (int64_t i = 0; i < H; ++i) acc += loadDouble(r, k * H + i) * state[i];
      return acc + (wb ? loadDouble(wb, G * H + k) : 0.0);
    };
    if (p.cell == 1) {  // GRU: r (.) h first, for every unit
      for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
        const double reset = activate(fn[0], clipped(xw(H + j) + hr(H + j, h)));
        reset_h[j] = reset * h[j];
      }
      __syncthreads();
    }
    for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
      if (p.cell == 0) {
        next[j] = activate(fn[0], clipped(xw(j) + hr(j, h)));
      } else if (p.cell == 1) {
        const double z = activate(fn[0], clipped(xw(j) + hr(j, h)));
        const double reset = activate(fn[0], clipped(xw(H + j) + hr(H + j, h)));
        const double recurrent = p.linear_before_reset ? reset * hr(2 * H + j, h) : hr(2 * H + j, reset_h);
        const double n = activate(fn[1], clipped(xw(2 * H + j) + recurrent));
        next[j] = (1.0 - z) * n + z * h[j];
      } else {
        const double pi = peep ? loadDouble(peep, j) : 0.0, po = peep ? loadDouble(peep, H + j) : 0.0;
        const double pf = peep ? loadDouble(peep, 2 * H + j) : 0.0;
        const double i = activate(fn[0], clipped(xw(j) + hr(j, h) + pi * c[j]));
        const double f =
            p.input_forget ? 1.0 - i : activate(fn[0], clipped(xw(2 * H + j) + hr(2 * H + j, h) + pf * c[j]));
        const double cand = activate(fn[1], clipped(xw(3 * H + j) + hr(3 * H + j, h)));
        const double cn = f * c[j] + i * cand;
        const double o = activate(fn[0], clipped(xw(H + j) + hr(H + j, h) + po * cn));
        next[j] = o * activate(fn[2], cn);
        reset_h[j] = cn;  // the new cell state, kept apart until every unit has read c
      }
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
      h[j] = next[j];
      if (p.cell == 2) c[j] = reset_h[j];
      if (a.y)
        storeDouble(static_cast<T*>(a.y), (p.batch_first ? (b * S + t) * D + d : (t * D + d) * N + b) * H + j, h[j]);
    }
    __syncthreads();
  }
  for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
    if (a.yh) storeDouble(static_cast<T*>(a.yh), s0 + j, h[j]);
    if (a.yc) storeDouble(static_cast<T*>(a.yc), s0 + j, c[j]);
  }
}

}  // namespace

void launchRecurrent(const RecurrentProblem& p, const RecurrentArgs& a, cudaStream_t stream) {
  if (p.batch == 0 || p.hidden == 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(256, (p.hidden + 31) / 32 * 32));
  const size_t shared = static_cast<size_t>(4 * p.hidden) * sizeof(double);
  dispatchFloatingType(p.type, "cuda.recurrent", [&](auto tag) {
    using T = typename decltype(tag)::type;
    recurrentKernel<T><<<static_cast<unsigned>(p.batch * p.directions), threads, shared, stream>>>(p, a);
  });
}

}  // namespace kiln::cuda
