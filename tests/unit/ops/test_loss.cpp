#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/nn_test_util.h"

namespace kiln {
namespace {

using nn_testing::attrsOf;
using nn_testing::expectNear;
using nn_testing::info;
using nn_testing::randomTensor;
using nn_testing::runNode;
using nn_testing::tensorOf;
using Ints = std::vector<int64_t>;

// Scores (3, 5, 7): N = 3, C = 5, one spatial dim of 7. Labels cover every class, some are
// the ignored class 2.
constexpr int64_t kN = 3, kC = 5, kD = 7;

ir::Tensor labels(DataType type = DataType::kINT64) {
  std::vector<double> v(kN * kD);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 3 + 1) % kC);
  return tensorOf({kN, kD}, v, type);
}

//! The loss written out: per element -x[n][t][d] * w[t], 0 where t == ignore.
struct Expected {
  std::vector<double> none;
  double sum = 0.0, weight_sum = 0.0;
};
Expected nll(const std::vector<double>& logp, const std::vector<double>& t, const std::vector<double>& w,
             int64_t ignore) {
  Expected e;
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t d = 0; d < kD; ++d) {
      const auto label = static_cast<int64_t>(t[n * kD + d]);
      const double weight = label == ignore ? 0.0 : (w.empty() ? 1.0 : w[label]);
      const double l = label == ignore ? 0.0 : -logp[(n * kC + label) * kD + d] * weight;
      e.none.push_back(l);
      e.sum += l;
      e.weight_sum += weight;
    }
  return e;
}

std::vector<double> logSoftmaxOverClasses(const std::vector<double>& x) {
  std::vector<double> out(x.size());
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t d = 0; d < kD; ++d) {
      double sum = 0.0;
      for (int64_t c = 0; c < kC; ++c) sum += std::exp(x[(n * kC + c) * kD + d]);
      for (int64_t c = 0; c < kC; ++c) out[(n * kC + c) * kD + d] = x[(n * kC + c) * kD + d] - std::log(sum);
    }
  return out;
}

TEST(NegativeLogLikelihoodLoss, ReductionsWithWeights) {
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {kN, kC, kD}, 31);
  const ir::Tensor w = randomTensor(DataType::kFLOAT, {kC}, 32);
  const Expected e = nll(x.toDouble(), labels().toDouble(), w.toDouble(), -100);
  auto none = runNode("NegativeLogLikelihoodLoss", {x, labels(), w},
                      attrsOf("NegativeLogLikelihoodLoss", {{"reduction", std::string("none")}}));
  EXPECT_EQ(none[0].shape(), (Ints{kN, kD}));
  expectNear(none[0], e.none, 1e-5);
  auto sum = runNode("NegativeLogLikelihoodLoss", {x, labels(DataType::kINT32), w},
                     attrsOf("NegativeLogLikelihoodLoss", {{"reduction", std::string("sum")}}));
  EXPECT_TRUE(sum[0].shape().empty());
  expectNear(sum[0], {e.sum}, 1e-5);
  auto mean = runNode("NegativeLogLikelihoodLoss", {x, labels(), w}, attrsOf("NegativeLogLikelihoodLoss", {}));
  expectNear(mean[0], {e.sum / e.weight_sum}, 1e-5);
}

TEST(NegativeLogLikelihoodLoss, IgnoredLabelsTakeNeitherLossNorWeight) {
  const ir::Tensor x = randomTensor(DataType::kDOUBLE, {kN, kC, kD}, 33);
  const Expected e = nll(x.toDouble(), labels().toDouble(), {}, 2);
  auto mean = runNode("NegativeLogLikelihoodLoss", {x, labels()},
                      attrsOf("NegativeLogLikelihoodLoss", {{"ignore_index", int64_t{2}}}));
  EXPECT_LT(e.weight_sum, kN * kD);  // some labels were ignored
  expectNear(mean[0], {e.sum / e.weight_sum}, 1e-12);
}

TEST(SoftmaxCrossEntropyLoss, LogProbAndWeightedIgnoredMean) {
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {kN, kC, kD}, 34);
  const ir::Tensor w = randomTensor(DataType::kFLOAT, {kC}, 35);
  const std::vector<double> logp = logSoftmaxOverClasses(x.toDouble());
  const Expected e = nll(logp, labels().toDouble(), w.toDouble(), 4);
  auto out = runNode("SoftmaxCrossEntropyLoss", {x, labels(), w},
                     attrsOf("SoftmaxCrossEntropyLoss", {{"ignore_index", int64_t{4}}}), 2);
  expectNear(out[0], {e.sum / e.weight_sum}, 1e-5);
  EXPECT_EQ(out[1].shape(), (Ints{kN, kC, kD}));
  expectNear(out[1], logp, 1e-5);
  auto none = runNode("SoftmaxCrossEntropyLoss", {x, labels()},
                      attrsOf("SoftmaxCrossEntropyLoss", {{"reduction", std::string("none")}}));
  expectNear(none[0], nll(logp, labels().toDouble(), {}, -100).none, 1e-5);
}

TEST(SoftmaxCrossEntropyLoss, LabelOutsideTheClassesIsAnError) {
  const ir::Tensor x = randomTensor(DataType::kFLOAT, {2, 3}, 36);
  const ir::Tensor bad = tensorOf({2}, {1, 3}, DataType::kINT64);
  EXPECT_EQ(testing::errorCode([&] {
              runNode("SoftmaxCrossEntropyLoss", {x, bad}, attrsOf("SoftmaxCrossEntropyLoss", {}));
            }),
            static_cast<int>(ErrorCode::kInvalidArgument));
}

TEST(LossShape, OutputsAndInvalidInputs) {
  const auto x = info(DataType::kFLOAT, {-2, 5, 7});
  const auto t = info(DataType::kINT64, {-2, 7});
  const auto attrs = attrsOf("SoftmaxCrossEntropyLoss", {{"reduction", std::string("none")}});
  auto out = nn_testing::infer("SoftmaxCrossEntropyLoss", {x, t}, attrs, 2);
  EXPECT_EQ(out[0].shape, (Ints{-2, 7}));
  EXPECT_EQ(out[1].shape, (Ints{-2, 5, 7}));
  EXPECT_TRUE(nn_testing::infer("NegativeLogLikelihoodLoss", {x, t}, attrsOf("NegativeLogLikelihoodLoss", {}))[0]
                  .shape.empty());
  const auto invalid = static_cast<int>(ErrorCode::kInvalidModel);
  const auto none = attrsOf("NegativeLogLikelihoodLoss", {});
  EXPECT_EQ(nn_testing::inferError("NegativeLogLikelihoodLoss", {x, info(DataType::kINT64, {-2, 5})}, none), invalid);
  EXPECT_EQ(nn_testing::inferError("NegativeLogLikelihoodLoss", {x, info(DataType::kFLOAT, {-2, 7})}, none), invalid);
  EXPECT_EQ(nn_testing::inferError("NegativeLogLikelihoodLoss", {x, t, info(DataType::kFLOAT, {4})}, none), invalid);
  EXPECT_EQ(nn_testing::inferError("NegativeLogLikelihoodLoss", {x, t},
                                   attrsOf("NegativeLogLikelihoodLoss", {{"reduction", std::string("max")}})),
            invalid);
  EXPECT_EQ(ir::findSchema("NegativeLogLikelihoodLoss")->since_opset, 12);
  EXPECT_EQ(ir::findSchema("SoftmaxCrossEntropyLoss")->since_opset, 12);
}

}  // namespace
}  // namespace kiln
