// cuda.onnx_attention against the reference: 4-D and 3-D inputs, grouped heads, different
// value head sizes, bool and float masks (broadcast, shorter than the keys), is_causal, past
// key / value with the present outputs, nonpad_kv_seqlen, sliding windows, scale, softcap and
// every qk_matmul_output mode; float, half and double at odd sizes.
#include <gtest/gtest.h>

#include "compute_test_util.h"

namespace kiln {
namespace {

using gputest::attrsOf;
using gputest::in;
using gputest::Ints;

struct Variant {
  const char* name;
  bool three_d = false, gqa = false, past = false, nonpad = false, bool_mask = false, float_mask = false;
  int64_t causal = 0, mode = 0, left = -1, right = -1;
  float softcap = 0.0f, scale = 0.0f;
};

void expectVariant(const Variant& v, DataType t) {
  SCOPED_TRACE(std::string(v.name) + " " + std::string(toString(t)));
  const int64_t b = 2, hq = v.gqa ? 4 : 2, hkv = 2, sq = 3, skv = 5, d = 8, dv = 6, past = v.past ? 4 : 0;
  std::vector<testing::NodeInput> inputs;
  if (v.three_d) {
    inputs = {in("q", t, {b, sq, hq * d}), in("k", t, {b, skv, hkv * d}), in("v", t, {b, skv, hkv * dv})};
  } else {
    inputs = {in("q", t, {b, hq, sq, d}), in("k", t, {b, hkv, skv, d}), in("v", t, {b, hkv, skv, dv})};
  }
  if (v.bool_mask) inputs.push_back(in("mask", DataType::kBOOL, {sq, past + skv}));
  else if (v.float_mask) inputs.push_back(in("mask", t, {b, 1, sq, past + skv - 1}));  // the last key masked
  else inputs.push_back(testing::NodeInput{.name = ""});
  const ir::Tensor lengths = ir::Tensor::fromInt64({b}, Ints{3, 5});
  if (v.past) {
    inputs.push_back(in("past_k", t, {b, hkv, past, d}));
    inputs.push_back(in("past_v", t, {b, hkv, past, dv}));
  } else if (v.nonpad) {
    inputs.push_back(testing::NodeInput{.name = ""});
    inputs.push_back(testing::NodeInput{.name = ""});
    inputs.push_back({"nonpad", DataType::kINT64, {b}, false, &lengths});
  }
  ir::Attributes a = attrsOf({{"is_causal", v.causal}, {"qk_matmul_output_mode", v.mode}});
  if (v.three_d) {
    a.set("q_num_heads", hq);
    a.set("kv_num_heads", hkv);
  }
  if (v.softcap > 0) a.set("softcap", v.softcap);
  if (v.scale > 0) a.set("scale", v.scale);
  int opset = v.nonpad ? 24 : 23;
  if (v.left >= 0 || v.right >= 0) {
    a.set("left_window_size", v.left);
    a.set("right_window_size", v.right);
    opset = 25;
  }
  ir::Graph g = testing::makeNodeGraph("Attention", inputs, a, 4, opset);
  gputest::expectAllPass("cuda.onnx_attention", g, t);
}

TEST(CudaOnnxAttention, EveryVariant) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const Variant variants[] = {
      {.name = "plain"},
      {.name = "3-D", .three_d = true},
      {.name = "grouped heads", .gqa = true},
      {.name = "3-D grouped causal", .three_d = true, .gqa = true, .causal = 1},
      {.name = "bool mask", .bool_mask = true},
      {.name = "float mask, mode 2", .float_mask = true, .mode = 2},
      {.name = "past and present, causal", .past = true, .causal = 1},
      {.name = "past, bool mask, mode 3", .past = true, .bool_mask = true, .mode = 3},
      {.name = "nonpad, causal", .nonpad = true, .causal = 1},
      {.name = "softcap and scale, mode 1", .mode = 1, .softcap = 2.0f, .scale = 0.3f},
      {.name = "window", .causal = 1, .left = 1, .right = 0},
  };
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE})
    for (const Variant& v : variants) expectVariant(v, t);
}

}  // namespace
}  // namespace kiln
