// Reference kernels of the recurrent operators RNN, GRU and LSTM (shapes and layouts in
// src/ir/ops/recurrent.cpp). One time loop per direction and batch row, everything in double
// (state included, so it is rounded to the tensor type only when stored).
//
// With f, g, h the direction's activation functions, (.) the elementwise product and each
// product with a weight matrix written xW = X_t * W^T, hR = H_{t-1} * R^T:
//   RNN:  H_t = f(xW + Wb + hR + Rb)
//   GRU:  z = f(xWz + Wbz + hRz + Rbz), r = f(xWr + Wbr + hRr + Rbr)
//         n = g(xWh + Wbh + (r (.) H_{t-1}) Rh^T + Rbh)     linear_before_reset = 0
//         n = g(xWh + Wbh + r (.) (hRh + Rbh))               linear_before_reset != 0
//         H_t = (1 - z) (.) n + z (.) H_{t-1}
//   LSTM: i = f(xWi + hRi + Pi (.) C_{t-1} + Wbi + Rbi)
//         f_t = f(xWf + hRf + Pf (.) C_{t-1} + Wbf + Rbf), or 1 - i when input_forget != 0
//         c = g(xWc + hRc + Wbc + Rbc), C_t = f_t (.) C_{t-1} + i (.) c
//         o = f(xWo + hRo + Po (.) C_t + Wbo + Rbo), H_t = o (.) h(C_t)
// `clip` bounds each gate's pre-activation to [-clip, clip] (the cell state itself, the input
// of h, is not clipped). The reverse direction of a row with sequence length L runs from time
// L - 1 down to 0; Y is zero at times >= L, and Y_h / Y_c hold the state after the row's last
// step (the initial state when L = 0).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"
#include "ir/ops/recurrent.h"

namespace kiln::cpu {
namespace {

using ir::RecurrentActivation;
using ir::RecurrentCell;

double dot(const double* a, const double* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

//! The node's attributes and dims, decoded once per run.
struct Recurrence {
  RecurrentCell cell = RecurrentCell::kRNN;
  int64_t gates = 1, directions = 1, seq = 0, batch = 0, input = 0, hidden = 0;
  bool batch_first = false;  //!< layout = 1
  bool reverse_only = false;
  double clip = 0.0;  //!< 0: no clipping
  bool linear_before_reset = false, input_forget = false;
  std::vector<RecurrentActivation> activations;  //!< direction-major, see recurrentActivations

  //! Offset of row (t, b)'s first element in X (per input) or Y (per direction and hidden).
  int64_t xAt(int64_t t, int64_t b) const { return (batch_first ? b * seq + t : t * batch + b) * input; }
  int64_t yAt(int64_t t, int64_t d, int64_t b) const {
    return (batch_first ? (b * seq + t) * directions + d : (t * directions + d) * batch + b) * hidden;
  }
  //! Offset of (d, b) in a state tensor (initial_h, initial_c, Y_h, Y_c).
  int64_t stateAt(int64_t d, int64_t b) const { return (batch_first ? b * directions + d : d * batch + b) * hidden; }
  double clipped(double v) const { return clip > 0.0 ? std::clamp(v, -clip, clip) : v; }
};

//! Inputs as doubles; absent optional ones are zeros of their full size.
struct Operands {
  std::vector<double> x, w, r, b, h0, c0, p;
  std::vector<int64_t> lens;
};

std::vector<double> doublesOr(const KernelContext& ctx, int i, size_t zeros) {
  return ctx.has(i) ? ctx.in(i).toDouble() : std::vector<double>(zeros, 0.0);
}

//! One direction's step: updates h (and c for LSTM) from input row xt.
void step(const Recurrence& rc, const Operands& op, int64_t d, const double* xt, std::vector<double>& h,
          std::vector<double>& c) {
  const int64_t H = rc.hidden, G = rc.gates, I = rc.input;
  const double* w = op.w.data() + d * G * H * I;
  const double* r = op.r.data() + d * G * H * H;
  const double* wb = op.b.data() + d * 2 * G * H;
  const double* rb = wb + G * H;
  const RecurrentActivation* act = rc.activations.data() + d * ir::recurrentActivationsPerDirection(rc.cell);
  // xw[g*H + j]: input part with W's bias; hr[g*H + j]: recurrent part with R's bias.
  std::vector<double> xw(G * H), hr(G * H);
  for (int64_t k = 0; k < G * H; ++k) {
    xw[k] = dot(w + k * I, xt, I) + wb[k];
    hr[k] = dot(r + k * H, h.data(), H) + rb[k];
  }
  std::vector<double> next(H);
  switch (rc.cell) {
    case RecurrentCell::kRNN:
      for (int64_t j = 0; j < H; ++j) next[j] = act[0](rc.clipped(xw[j] + hr[j]));
      break;
    case RecurrentCell::kGRU: {
      std::vector<double> z(H), reset(H), reset_h(H);  // reset_h = r (.) H_{t-1}
      for (int64_t j = 0; j < H; ++j) {
        z[j] = act[0](rc.clipped(xw[j] + hr[j]));
        reset[j] = act[0](rc.clipped(xw[H + j] + hr[H + j]));
        reset_h[j] = reset[j] * h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        const double recurrent = rc.linear_before_reset ? reset[j] * hr[2 * H + j]
                                                        : dot(r + (2 * H + j) * H, reset_h.data(), H) + rb[2 * H + j];
        const double n = act[1](rc.clipped(xw[2 * H + j] + recurrent));
        next[j] = (1.0 - z[j]) * n + z[j] * h[j];
      }
      break;
    }
    case RecurrentCell::kLSTM: {
      const double* p = op.p.data() + d * 3 * H;  // Pi, Po, Pf
      for (int64_t j = 0; j < H; ++j) {
        const double i = act[0](rc.clipped(xw[j] + hr[j] + p[j] * c[j]));
        const double f =
            rc.input_forget ? 1.0 - i : act[0](rc.clipped(xw[2 * H + j] + hr[2 * H + j] + p[2 * H + j] * c[j]));
        const double cand = act[1](rc.clipped(xw[3 * H + j] + hr[3 * H + j]));
        c[j] = f * c[j] + i * cand;
        const double o = act[0](rc.clipped(xw[H + j] + hr[H + j] + p[H + j] * c[j]));
        next[j] = o * act[2](c[j]);
      }
      break;
    }
  }
  h.swap(next);
}

void runRecurrent(KernelContext& ctx) {
  const ir::Attributes& attrs = ctx.attrs();
  Recurrence rc;
  rc.cell = ir::recurrentCellOf(ctx.node.op);
  rc.gates = ir::recurrentGates(rc.cell);
  const ir::RecurrentDirection direction = ir::recurrentDirection(attrs);
  rc.directions = ir::numDirections(direction);
  rc.reverse_only = direction == ir::RecurrentDirection::kReverse;
  rc.batch_first = attrs.i("layout", 0) == 1;
  rc.clip = attrs.has("clip") ? attrs.f("clip") : 0.0;
  rc.linear_before_reset = attrs.i("linear_before_reset", 0) != 0;
  rc.input_forget = attrs.i("input_forget", 0) != 0;
  rc.activations = ir::recurrentActivations(attrs, rc.cell, rc.directions);
  const ir::Shape& xs = ctx.in(0).shape();
  rc.seq = rc.batch_first ? xs[1] : xs[0];
  rc.batch = rc.batch_first ? xs[0] : xs[1];
  rc.input = xs[2];
  rc.hidden = ctx.in(2).shape()[2];

  const int64_t D = rc.directions, G = rc.gates, H = rc.hidden, N = rc.batch, S = rc.seq;
  Operands op;
  op.x = ctx.in(0).toDouble();
  op.w = ctx.in(1).toDouble();
  op.r = ctx.in(2).toDouble();
  op.b = doublesOr(ctx, 3, D * 2 * G * H);
  op.lens = ctx.has(4) ? ctx.in(4).toInt64() : std::vector<int64_t>(N, S);
  op.h0 = doublesOr(ctx, 5, D * N * H);
  op.c0 = doublesOr(ctx, 6, D * N * H);
  op.p = doublesOr(ctx, 7, D * 3 * H);

  std::vector<double> y(S * D * N * H, 0.0), yh(D * N * H), yc(D * N * H);
  for (int64_t b = 0; b < N; ++b) {
    const int64_t len = op.lens[b];
    if (len < 0 || len > S)
      throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": sequence_lens[" + std::to_string(b) + "] = " +
                                                   std::to_string(len) + " is outside [0, " + std::to_string(S) + "]");
    for (int64_t d = 0; d < D; ++d) {
      const bool reverse = rc.reverse_only || d == 1;
      const int64_t s0 = rc.stateAt(d, b);
      std::vector<double> h(op.h0.begin() + s0, op.h0.begin() + s0 + H);
      std::vector<double> c(op.c0.begin() + s0, op.c0.begin() + s0 + H);
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        step(rc, op, d, op.x.data() + rc.xAt(t, b), h, c);
        std::copy(h.begin(), h.end(), y.begin() + rc.yAt(t, d, b));
      }
      std::copy(h.begin(), h.end(), yh.begin() + s0);
      std::copy(c.begin(), c.end(), yc.begin() + s0);
    }
  }
  ctx.storeOutput(0, y);
  ctx.storeOutput(1, yh);
  if (rc.cell == RecurrentCell::kLSTM) ctx.storeOutput(2, yc);
}

KILN_REFERENCE_KERNEL(RNN, runRecurrent);
KILN_REFERENCE_KERNEL(GRU, runRecurrent);
KILN_REFERENCE_KERNEL(LSTM, runRecurrent);

}  // namespace
}  // namespace kiln::cpu
