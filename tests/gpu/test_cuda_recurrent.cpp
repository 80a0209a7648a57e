// cuda.recurrent against the reference: RNN, GRU (both linear_before_reset forms) and LSTM
// (peepholes, input_forget) forward, reverse and bidirectional, layout 0 and 1, with
// sequence_lens (a zero length too), initial states, clip and non-default activations; float,
// half and double at odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

struct Variant {
  const char* name;
  std::string direction = "forward";
  int64_t layout = 0;
  bool lens = false, initial = false, clip = false, activations = false, extra = false;
};

void expectCell(const std::string& op, const Variant& v, DataType t) {
  SCOPED_TRACE(op + " " + v.name + " " + std::string(toString(t)));
  const int64_t S = 4, N = 3, I = 5, H = 6, D = v.direction == "bidirectional" ? 2 : 1;
  const int64_t G = op == "RNN" ? 1 : op == "GRU" ? 3 : 4;
  const ir::Tensor lens = ir::Tensor::fromInt64({N}, Ints{4, 0, 2}).cast(DataType::kINT32);
  std::vector<testing::NodeInput> inputs = {in("x", t, v.layout ? Ints{N, S, I} : Ints{S, N, I}),
                                            in("w", t, {D, G * H, I}), in("r", t, {D, G * H, H}),
                                            in("b", t, {D, 2 * G * H})};
  inputs.push_back(v.lens ? testing::NodeInput{"lens", DataType::kINT32, {N}, false, &lens}
                          : testing::NodeInput{.name = ""});
  const Ints state = v.layout ? Ints{N, D, H} : Ints{D, N, H};
  inputs.push_back(v.initial ? in("h0", t, state) : testing::NodeInput{.name = ""});
  if (op == "LSTM") {
    inputs.push_back(v.initial ? in("c0", t, state) : testing::NodeInput{.name = ""});
    inputs.push_back(v.extra ? in("p", t, {D, 3 * H}) : testing::NodeInput{.name = ""});
  }
  ir::Attributes a = attrsOf({{"hidden_size", H}, {"direction", v.direction}, {"layout", v.layout}});
  if (v.clip) a.set("clip", 0.7f);
  if (op == "GRU" && v.extra) a.set("linear_before_reset", int64_t{1});
  if (op == "LSTM" && v.extra) a.set("input_forget", int64_t{1});
  if (v.activations) {
    std::vector<std::string> names = op == "RNN"   ? std::vector<std::string>{"LeakyRelu"}
                                     : op == "GRU" ? std::vector<std::string>{"HardSigmoid", "Softsign"}
                                                   : std::vector<std::string>{"HardSigmoid", "ScaledTanh", "Elu"};
    std::vector<std::string> all = names;
    if (D == 2) all.insert(all.end(), names.begin(), names.end());
    a.set("activations", all);
  }
  const int outputs = op == "LSTM" ? 3 : 2;
  gputest::expectAllPass("cuda.recurrent", testing::makeNodeGraph(op, inputs, a, outputs, 22), t);
}

TEST(CudaRecurrent, EveryCellDirectionAndOption) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Variant variants[] = {
      {.name = "forward"},
      {.name = "reverse, lengths", .direction = "reverse", .lens = true},
      {.name = "bidirectional, initial", .direction = "bidirectional", .initial = true},
      {.name = "layout 1, lengths, clip", .layout = 1, .lens = true, .clip = true},
      {.name = "bidirectional, activations, extra", .direction = "bidirectional", .activations = true, .extra = true},
  };
  for (const char* op : {"RNN", "GRU", "LSTM"})
    for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
      for (const Variant& v : variants) expectCell(op, v, t);
}

}  // namespace
}  // namespace kiln
