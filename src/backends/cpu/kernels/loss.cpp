// Reference kernels of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, in double.
// A label equal to ignore_index contributes neither loss nor weight; "mean" divides the sum of
// the weighted losses by the sum of the weights taken (the count of labels without weights).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/reference.h"
#include "ir/dispatch.h"

namespace kiln::cpu {
namespace {

void writeValues(ir::Tensor& out, const std::vector<double>& values) {
  ir::dispatchFloat(out.type(), [&]<typename T>() {
    T* dst = out.values<T>().data();
    for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<T>(values[i]);
  });
}

//! The loss of log-probabilities `log_prob` (laid out as the scores, (N, C, D) flattened)
//! against the labels (input 1) and optional weights (input 2), written to output 0.
void negativeLogLikelihood(KernelContext& ctx, const std::vector<double>& log_prob) {
  const ir::Shape& xs = ctx.in(0).shape();
  const int64_t n = xs[0], c = xs[1];
  const int64_t d = n * c > 0 ? ctx.in(0).numel() / (n * c) : 0;
  const std::vector<int64_t> labels = ctx.in(1).toInt64();
  const std::vector<double> weights = ctx.has(2) ? ctx.in(2).toDouble() : std::vector<double>{};
  const bool has_ignore = ctx.attrs().has("ignore_index");
  const int64_t ignore = ctx.attrs().i("ignore_index", 0);
  std::vector<double> loss(static_cast<size_t>(n * d), 0.0);
  double loss_sum = 0.0, weight_sum = 0.0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < d; ++i) {
      const int64_t label = labels[b * d + i];
      if (has_ignore && label == ignore) continue;
      if (label < 0 || label >= c)
        throw Error(ErrorCode::kInvalidArgument, ctx.node.describe() + ": label " + std::to_string(label) +
                                                     " is outside the " + std::to_string(c) + " classes");
      const double w = weights.empty() ? 1.0 : weights[label];
      loss[b * d + i] = -log_prob[(b * c + label) * d + i] * w;
      loss_sum += loss[b * d + i];
      weight_sum += w;
    }
  const std::string reduction = ctx.attrs().s("reduction", "mean");
  if (reduction == "none") writeValues(ctx.out(0), loss);
  else writeValues(ctx.out(0), {reduction == "sum" ? loss_sum : loss_sum / weight_sum});
}

KILN_REFERENCE_KERNEL(NegativeLogLikelihoodLoss,
                      [](KernelContext& ctx) { negativeLogLikelihood(ctx, ctx.in(0).toDouble()); });

// log_prob = scores - log(sum(exp(scores))) along the class axis (max subtracted first).
KILN_REFERENCE_KERNEL(SoftmaxCrossEntropyLoss, [](KernelContext& ctx) {
  const ir::Shape& xs = ctx.in(0).shape();
  const int64_t n = xs[0], c = xs[1];
  const int64_t d = n * c > 0 ? ctx.in(0).numel() / (n * c) : 0;
  std::vector<double> log_prob = ctx.in(0).toDouble();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < d; ++i) {
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < c; ++k) top = std::max(top, log_prob[(b * c + k) * d + i]);
      double sum = 0.0;
      for (int64_t k = 0; k < c; ++k) sum += std::exp(log_prob[(b * c + k) * d + i] - top);
      const double shift = top + std::log(sum);
      for (int64_t k = 0; k < c; ++k) log_prob[(b * c + k) * d + i] -= shift;
    }
  negativeLogLikelihood(ctx, log_prob);
  if (ctx.wants(1)) writeValues(ctx.out(1), log_prob);
});

}  // namespace
}  // namespace kiln::cpu
