// "cuda.elementwise" against the CPU reference: every op, fp32 / fp16 / bf16 (and the integer
// and bool types the op allows), several shapes including odd sizes and broadcasting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};
const ir::Shape kUnaryShapes[] = {{1}, {7}, {3, 5, 17}, {2, 3, 64, 33}, {4099}};

//! Runs every candidate of cuda.elementwise on the graph; expects at least one and all to pass.
void expectProviderMatches(const ir::Graph& g, DataType precision, const std::string& what) {
  testing::expectProviderPasses("cuda.elementwise", g, *backend::gpuDevice(), {.precision = precision, .what = what});
}

std::string label(const std::string& op, DataType type, const ir::Shape& shape) {
  return op + " " + std::string(toString(type)) + " " + toString(shape);
}

struct UnaryCase {
  std::string op;
  ir::Attributes attrs;
};

std::vector<UnaryCase> floatUnaryCases() {
  std::vector<UnaryCase> cases;
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Erf", "Gelu",
                         "LeakyRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Floor", "Ceil", "Sin",
                         "Cos", "Identity", "Clip"})
    cases.push_back({op, {}});
  ir::Attributes tanh_gelu;
  tanh_gelu.set("approximate", std::string("tanh"));
  cases.push_back({"Gelu", tanh_gelu});
  ir::Attributes leaky;
  leaky.set("alpha", 0.3f);
  cases.push_back({"LeakyRelu", leaky});
  ir::Attributes elu;
  elu.set("alpha", 0.7f);
  cases.push_back({"Elu", elu});
  ir::Attributes hs;
  hs.set("alpha", 0.25f);
  hs.set("beta", 0.4f);
  cases.push_back({"HardSigmoid", hs});
  return cases;
}

TEST(CudaElementwise, FloatUnaryOpsMatchTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const UnaryCase& c : floatUnaryCases())
    for (DataType type : kFloatTypes)
      for (const ir::Shape& shape : kUnaryShapes) {
        ir::Graph g = testing::makeNodeGraph(c.op, {{"x", type, shape}}, c.attrs);
        expectProviderMatches(g, type, label(c.op, type, shape));
      }
}

TEST(CudaElementwise, IntegerUnaryOpsMatchTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"Relu", "Abs", "Neg", "Identity", "Clip"})
    for (DataType type : {DataType::kINT32, DataType::kINT64})
      for (const ir::Shape& shape : {ir::Shape{5}, ir::Shape{3, 37}, ir::Shape{2, 3, 4, 9}}) {
        ir::Graph g = testing::makeNodeGraph(op, {{"x", type, shape}}, {});
        expectProviderMatches(g, type, label(op, type, shape));
      }
}

TEST(CudaElementwise, NotInvertsBools) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const ir::Shape& shape : {ir::Shape{1}, ir::Shape{33}, ir::Shape{4, 67}}) {
    ir::Graph g = testing::makeNodeGraph("Not", {{"x", DataType::kBOOL, shape}}, {});
    expectProviderMatches(g, DataType::kBOOL, label("Not", DataType::kBOOL, shape));
  }
}

TEST(CudaElementwise, ClipTakesBoundsFromConstantInputs) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64}) {
    double lo_v = isFloatingPoint(type) ? -0.25 : -2, hi_v = isFloatingPoint(type) ? 0.5 : 3;
    ir::Tensor lo = ir::Tensor::fromDouble(type, {}, std::vector<double>{lo_v});
    ir::Tensor hi = ir::Tensor::fromDouble(type, {}, std::vector<double>{hi_v});
    ir::Shape shape = {3, 41};
    ir::Graph both = testing::makeNodeGraph(
        "Clip", {{"x", type, shape}, {"lo", type, {}, true, &lo}, {"hi", type, {}, true, &hi}}, {});
    expectProviderMatches(both, type, label("Clip(lo, hi)", type, shape));
    ir::Graph only_hi =
        testing::makeNodeGraph("Clip", {{"x", type, shape}, {""}, {"hi", type, {}, true, &hi}}, {});
    expectProviderMatches(only_hi, type, label("Clip(-, hi)", type, shape));
    ir::Graph only_lo = testing::makeNodeGraph("Clip", {{"x", type, shape}, {"lo", type, {}, true, &lo}}, {});
    expectProviderMatches(only_lo, type, label("Clip(lo)", type, shape));
  }
}

TEST(CudaElementwise, ClipReadsBoundsFromDeviceInputs) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    ir::Shape shape = {5, 19};
    // min and max as graph inputs (random, on the device): min may exceed max, which ONNX
    // defines as max everywhere; the kernel must agree.
    ir::Graph g = testing::makeNodeGraph("Clip", {{"x", type, shape}, {"lo", type, {}}, {"hi", type, {}}}, {});
    expectProviderMatches(g, type, label("Clip(device bounds)", type, shape));
  }
}

TEST(CudaElementwise, DropoutInInferenceIsACopyWithATrueMask) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    ir::Graph g = testing::makeNodeGraph("Dropout", {{"x", type, {3, 77}}}, {}, 2);
    expectProviderMatches(g, type, label("Dropout", type, {3, 77}));
  }
}

TEST(CudaElementwise, CastConvertsBetweenEveryPairOfTypes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const DataType types[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32,
                            DataType::kINT64, DataType::kBOOL, DataType::kUINT8};
  for (DataType from : types)
    for (DataType to : types)
      for (const ir::Shape& shape : {ir::Shape{13}, ir::Shape{4, 129}}) {
        ir::Attributes a;
        a.set("to", static_cast<int64_t>(to == DataType::kFLOAT   ? 1
                                         : to == DataType::kHALF  ? 10
                                         : to == DataType::kBF16  ? 16
                                         : to == DataType::kINT32 ? 6
                                         : to == DataType::kINT64 ? 7
                                         : to == DataType::kBOOL  ? 9
                                                                  : 2));
        ir::Graph g = testing::makeNodeGraph("Cast", {{"x", from, shape}}, a);
        DataType precision = isFloatingPoint(to) && (to != DataType::kFLOAT || from != DataType::kFLOAT) ? DataType::kHALF : to;
        if (to == DataType::kFLOAT && from == DataType::kFLOAT) precision = DataType::kFLOAT;
        expectProviderMatches(g, precision, "Cast " + std::string(toString(from)) + " -> " + std::string(toString(to)));
      }
}

struct ShapePair {
  ir::Shape a, b;
};

const ShapePair kBinaryShapes[] = {
    {{7}, {7}},                       // same shape, odd
    {{4, 1029}, {4, 1029}},           // same shape, vector path + tail
    {{3, 7}, {}},                     // scalar
    {{1}, {5, 3}},                    // one-element tensor against a matrix
    {{4, 1, 33}, {5, 1}},             // two-sided broadcast
    {{2, 3, 4, 5}, {3, 1, 5}},        // middle broadcast
    {{2, 1, 3, 1, 5, 1, 2, 3}, {1, 4, 1, 2, 5, 3, 1, 3}},  // rank 8
};

TEST(CudaElementwise, ArithmeticBroadcastsLikeNumpy) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Min", "Max"})
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64})
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph(op, {{"a", type, s.a}, {"b", type, s.b}}, {});
        expectProviderMatches(g, type, label(op, type, s.a) + " with " + toString(s.b));
      }
}

TEST(CudaElementwise, PowAndPReluOnFloats) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kFloatTypes) {
    for (const ShapePair& s : kBinaryShapes) {
      ir::Graph g = testing::makeNodeGraph("Pow", {{"a", type, s.a}, {"b", type, s.b}}, {});
      expectProviderMatches(g, type, label("Pow", type, s.a) + " with " + toString(s.b));
    }
    for (const ShapePair& s : {ShapePair{{2, 3, 5, 7}, {3, 1, 1}}, ShapePair{{4, 9}, {9}}, ShapePair{{17}, {1}},
                               ShapePair{{3, 11}, {3, 11}}}) {
      ir::Graph g = testing::makeNodeGraph("PRelu", {{"x", type, s.a}, {"slope", type, s.b, true}}, {});
      expectProviderMatches(g, type, label("PRelu", type, s.a) + " slope " + toString(s.b));
    }
  }
}

TEST(CudaElementwise, ComparisonsGiveBools) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64})
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph(op, {{"a", type, s.a}, {"b", type, s.b}}, {});
        expectProviderMatches(g, DataType::kBOOL, label(op, type, s.a) + " with " + toString(s.b));
      }
  ir::Graph g = testing::makeNodeGraph("Equal", {{"a", DataType::kBOOL, {3, 9}}, {"b", DataType::kBOOL, {9}}}, {});
  expectProviderMatches(g, DataType::kBOOL, "Equal bool");
}

TEST(CudaElementwise, LogicOnBools) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"And", "Or"})
    for (const ShapePair& s : kBinaryShapes) {
      ir::Graph g = testing::makeNodeGraph(op, {{"a", DataType::kBOOL, s.a}, {"b", DataType::kBOOL, s.b}}, {});
      expectProviderMatches(g, DataType::kBOOL, label(op, DataType::kBOOL, s.a) + " with " + toString(s.b));
    }
}

TEST(CudaElementwise, WhereSelectsWithBroadcasting) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  struct Shapes {
    ir::Shape c, x, y;
  };
  const Shapes shapes[] = {{{5, 67}, {5, 67}, {5, 67}}, {{67}, {5, 67}, {}}, {{3, 1, 9}, {1, 4, 1}, {3, 4, 9}}, {{1}, {2, 7}, {7}}};
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kINT64, DataType::kBOOL})
    for (const Shapes& s : shapes) {
      ir::Graph g = testing::makeNodeGraph("Where", {{"c", DataType::kBOOL, s.c}, {"x", type, s.x}, {"y", type, s.y}}, {});
      expectProviderMatches(g, type, label("Where", type, s.x) + " cond " + toString(s.c));
    }
}

TEST(CudaElementwise, UnsupportedTypesGetNoCandidate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cuda.elementwise");
  ASSERT_NE(provider, nullptr);
  ir::Graph g = testing::makeNodeGraph("Exp", {{"x", DataType::kDOUBLE, {4}}}, {});
  backend::LayerView layer{.node = &g.nodes[0], .opset = g.opset};
  layer.inputs.push_back({DataType::kDOUBLE, {4}, true});
  layer.constants.push_back(nullptr);
  layer.host_values.push_back(nullptr);
  layer.outputs.push_back({DataType::kDOUBLE, {4}, true});
  EXPECT_TRUE(provider->candidates(layer, layer, layer, {}).empty());
}

}  // namespace
}  // namespace kiln
