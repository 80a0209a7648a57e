// cuda.loss against the reference: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss with
// reductions none / sum / mean, with and without weights, with ignore_index (negative too), 2-D
// to 5-D scores, int32 and int64 labels, SoftmaxCrossEntropyLoss's log_prob output; in float,
// half and double, at odd sizes.
#include <gtest/gtest.h>

#include <cstdlib>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::Ints;

//! Labels in [0, classes), with every third one set to `ignore` when given.
ir::Tensor labelsOf(DataType type, const Ints& shape, int64_t classes, const int64_t* ignore) {
  std::vector<int64_t> v(static_cast<size_t>(volume(shape)));
  uint32_t state = 12345;
  for (size_t i = 0; i < v.size(); ++i) {
    state = state * 1103515245u + 12345u;
    v[i] = ignore && i % 3 == 1 ? *ignore : static_cast<int64_t>((state >> 16) % static_cast<uint32_t>(classes));
  }
  return ir::Tensor::fromInt64(shape, v).cast(type);
}

TEST(CudaLoss, EveryReductionWeightAndIgnoreIndex) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const int64_t classes = 5;
  for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"})
    for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
      for (const Ints& extra : {Ints{}, Ints{3}, Ints{2, 3, 2}})
        for (const char* reduction : {"none", "sum", "mean"})
          for (bool weighted : {false, true})
            for (int ignore_case = 0; ignore_case < 3; ++ignore_case) {
              const int64_t ignore_values[] = {0, 2, -1};
              const int64_t* ignore = ignore_case == 0 ? nullptr : &ignore_values[ignore_case];
              const DataType label_type = ignore_case == 2 ? DataType::kINT32 : DataType::kINT64;
              SCOPED_TRACE(std::string(op) + " " + std::string(toString(t)) + " " + reduction +
                           (weighted ? " weighted" : "") + " ignore case " + std::to_string(ignore_case) +
                           " extra dims " + std::to_string(extra.size()));
              Ints x_shape = {3, classes}, l_shape = {3};
              for (int64_t d : extra) {
                x_shape.push_back(d);
                l_shape.push_back(d);
              }
              const ir::Tensor x =
                  testing::randomTensor(t, x_shape, 5, op[0] == 'N' ? -3.0 : -2.0, op[0] == 'N' ? -0.1 : 2.0);
              const ir::Tensor labels = labelsOf(label_type, l_shape, classes, ignore);
              const ir::Tensor w = testing::randomTensor(t, {classes}, 6, 0.2, 1.5);
              std::vector<testing::NodeInput> inputs = {{"x", t, x_shape, false, &x},
                                                        {"labels", label_type, l_shape, false, &labels}};
              if (weighted) inputs.push_back({"w", t, {classes}, false, &w});
              ir::Attributes a = attrsOf({{"reduction", std::string(reduction)}});
              if (ignore) a.set("ignore_index", *ignore);
              const int outputs = op[0] == 'S' ? 2 : 1;
              gputest::expectAllPass("cuda.loss", testing::makeNodeGraph(op, inputs, a, outputs, 13), t);
            }
}

}  // namespace
}  // namespace kiln
