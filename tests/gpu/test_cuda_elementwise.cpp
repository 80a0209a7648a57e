// "cuda.elementwise" against the CPU reference: every op, fp32 / fp16 / bf16 (and the integer,
// double and bool types the op allows), several shapes including odd sizes and broadcasting.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "compute_test_util.h"
#include "ir/onnx_types.h"
#include "support/tactic_harness.h"

namespace kiln {
namespace {

using testing::NodeInput;

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};
const DataType kIntegerTypes[] = {DataType::kINT8,  DataType::kINT16,  DataType::kINT32,  DataType::kINT64,
                                  DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64};
//! The types without vectorized kernels besides the integers of kIntegerTypes.
const DataType kWideTypes[] = {DataType::kDOUBLE, DataType::kINT8,   DataType::kINT16, DataType::kUINT8,
                               DataType::kUINT16, DataType::kUINT32, DataType::kUINT64};
const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,   DataType::kBF16,   DataType::kDOUBLE,
                              DataType::kINT8,  DataType::kINT16,  DataType::kINT32,  DataType::kINT64,
                              DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64,
                              DataType::kBOOL};
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
  for (const char* op : {"Relu",       "Sigmoid", "Tanh", "Exp",       "Log", "Sqrt",     "Abs",         "Neg",
                         "Reciprocal", "Erf",     "Gelu", "LeakyRelu", "Elu", "Selu",     "HardSigmoid", "HardSwish",
                         "Softplus",   "Floor",   "Ceil", "Sin",       "Cos", "Identity", "Clip"})
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
    ir::Graph only_hi = testing::makeNodeGraph("Clip", {{"x", type, shape}, {""}, {"hi", type, {}, true, &hi}}, {});
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

TEST(CudaElementwise, DropoutInTrainingWithARatioOfZeroIsACopy) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  ir::Tensor zero = ir::Tensor::fromDouble(DataType::kFLOAT, {}, std::vector<double>{0});
  ir::Tensor yes = ir::Tensor::fromDouble(DataType::kBOOL, {}, std::vector<double>{1});
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
    ir::Graph g = testing::makeNodeGraph(
        "Dropout",
        {{"x", type, {3, 77}}, {"r", DataType::kFLOAT, {}, true, &zero}, {"t", DataType::kBOOL, {}, true, &yes}}, {},
        2);
    expectProviderMatches(g, type, label("Dropout(ratio 0, training)", type, {3, 77}));
  }
}

TEST(CudaElementwise, DropoutRefusesRunTimeModes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // Mode and ratio known only at run time may ask for random dropout, which the reference
  // refuses (known on the host, the shape rule refuses it already).
  const backend::TacticProvider* provider = backend::findProvider("cuda.elementwise");
  ASSERT_NE(provider, nullptr);
  const ir::Graph g = testing::makeNodeGraph(
      "Dropout", {{"x", DataType::kFLOAT, {3, 41}}, {"r", DataType::kFLOAT, {}}, {"t", DataType::kBOOL, {}}}, {}, 2);
  const backend::LayerView layer = gputest::viewOf(g);
  EXPECT_TRUE(provider->candidates(layer, layer, layer, {}).empty());
}

TEST(CudaElementwise, BitCastKeepsTheBits) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const std::pair<DataType, DataType> pairs[] = {
      {DataType::kFLOAT, DataType::kINT32},  {DataType::kINT32, DataType::kFLOAT},
      {DataType::kINT64, DataType::kDOUBLE}, {DataType::kDOUBLE, DataType::kINT64},
      {DataType::kBOOL, DataType::kUINT8},   {DataType::kINT8, DataType::kUINT8},
      {DataType::kUINT16, DataType::kINT16}, {DataType::kHALF, DataType::kBF16},
      {DataType::kUINT32, DataType::kINT32}};
  for (const auto& [from, to] : pairs)
    for (const ir::Shape& shape : {ir::Shape{}, ir::Shape{13}, ir::Shape{2, 3, 5}}) {
      ir::Attributes a;
      a.set("to", ir::toOnnxType(to));
      ir::Graph g = testing::makeNodeGraph("BitCast", {{"x", from, shape}}, a, 1, 26);
      expectProviderMatches(
          g, to == DataType::kFLOAT || to == DataType::kDOUBLE ? DataType::kINT32 : to,
          "BitCast " + std::string(toString(from)) + " -> " + std::string(toString(to)) + " " + toString(shape));
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
        DataType precision =
            isFloatingPoint(to) && (to != DataType::kFLOAT || from != DataType::kFLOAT) ? DataType::kHALF : to;
        if (to == DataType::kFLOAT && from == DataType::kFLOAT) precision = DataType::kFLOAT;
        expectProviderMatches(g, precision, "Cast " + std::string(toString(from)) + " -> " + std::string(toString(to)));
      }
}

struct ShapePair {
  ir::Shape a, b;
};

const ShapePair kBinaryShapes[] = {
    {{7}, {7}},                                            // same shape, odd
    {{4, 1029}, {4, 1029}},                                // same shape, vector path + tail
    {{3, 7}, {}},                                          // scalar
    {{1}, {5, 3}},                                         // one-element tensor against a matrix
    {{4, 1, 33}, {5, 1}},                                  // two-sided broadcast
    {{2, 3, 4, 5}, {3, 1, 5}},                             // middle broadcast
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
  const Shapes shapes[] = {
      {{5, 67}, {5, 67}, {5, 67}}, {{67}, {5, 67}, {}}, {{3, 1, 9}, {1, 4, 1}, {3, 4, 9}}, {{1}, {2, 7}, {7}}};
  for (DataType type : kAllTypes)
    for (const Shapes& s : shapes) {
      ir::Graph g =
          testing::makeNodeGraph("Where", {{"c", DataType::kBOOL, s.c}, {"x", type, s.x}, {"y", type, s.y}}, {});
      expectProviderMatches(g, type, label("Where", type, s.x) + " cond " + toString(s.c));
    }
}

//! A layer of one node whose inputs (all on the device, shape {4}) and output have the given
//! types, built by hand: the shape rules would refuse these types.
struct HandLayer {
  ir::Node node;
  backend::LayerView layer;
  HandLayer(const std::string& op, std::vector<DataType> ins, DataType out, ir::Attributes attrs = {}) {
    node.op = op;
    node.attrs = std::move(attrs);
    layer.opset = 21;
    for (DataType t : ins) {
      layer.inputs.push_back({t, {4}, true});
      layer.constants.push_back(nullptr);
      layer.host_values.push_back(nullptr);
    }
    layer.outputs.push_back({out, {4}, true});
  }
};

TEST(CudaElementwise, UnsupportedTypesGetNoCandidate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const backend::TacticProvider* provider = backend::findProvider("cuda.elementwise");
  ASSERT_NE(provider, nullptr);
  ir::Attributes left;
  left.set("direction", std::string("LEFT"));
  ir::Attributes sideways;
  sideways.set("direction", std::string("UP"));
  // Exp of an integer, BitwiseNot of a float, Not of an integer, BitShift of a signed integer
  // or without a direction, Pow with a bool exponent, Add of bools, Add with a bool output:
  // none has a reference kernel either.
  const DataType i32 = DataType::kINT32, u32 = DataType::kUINT32, f32 = DataType::kFLOAT, b8 = DataType::kBOOL;
  HandLayer layers[] = {
      {"Exp", {i32}, i32},
      {"BitwiseNot", {f32}, f32},
      {"Not", {i32}, i32},
      {"BitShift", {i32, i32}, i32, left},
      {"BitShift", {u32, u32}, u32, sideways},
      {"Pow", {f32, b8}, f32},
      {"Add", {b8, b8}, b8},
      {"Add", {f32, f32}, b8},
  };
  for (HandLayer& h : layers) {
    h.layer.node = &h.node;
    EXPECT_TRUE(provider->candidates(h.layer, h.layer, h.layer, {}).empty()) << h.node.op;
  }
}

// ---- the types without vectorized kernels -----------------------------------------------------

bool isUnsigned(DataType t) {
  return t == DataType::kUINT8 || t == DataType::kUINT16 || t == DataType::kUINT32 || t == DataType::kUINT64;
}

//! A tensor of `shape` whose elements cycle through `values` (converted as Cast converts).
ir::Tensor cycled(DataType type, const ir::Shape& shape, const std::vector<double>& values) {
  std::vector<double> v(static_cast<size_t>(volume(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = values[i % values.size()];
  return ir::Tensor::fromDouble(type, shape, v);
}

TEST(CudaElementwise, WideTypeArithmeticBroadcastsLikeNumpy) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Min", "Max"})
    for (DataType type : kWideTypes)
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph(op, {{"a", type, s.a}, {"b", type, s.b}}, {});
        expectProviderMatches(g, type, label(op, type, s.a) + " with " + toString(s.b));
      }
}

TEST(CudaElementwise, IntegerArithmeticWrapsAndDividesByZeroToZero) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // Extremes of every width: sums and products wrap, MIN / -1 wraps, x / 0 is 0.
  const std::vector<double> a = {127, -128, -128, 100, 255, 65535, -32768, 7, -7, 0, 4294967295.0, 2147483647};
  const std::vector<double> b = {1, -1, 0, 3, 2, 65535, -1, -2, 2, 5, 3, 2};
  const ir::Shape shape = {static_cast<int64_t>(a.size())};
  for (DataType type : kIntegerTypes) {
    ir::Tensor ta = ir::Tensor::fromDouble(type, shape, a), tb = ir::Tensor::fromDouble(type, shape, b);
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Mod", "Min", "Max"}) {
      ir::Graph g = testing::makeNodeGraph(op, {{"a", type, shape, false, &ta}, {"b", type, shape, false, &tb}}, {});
      expectProviderMatches(g, type, label(op, type, shape) + " extremes");
    }
  }
}

TEST(CudaElementwise, WideTypeComparisonsGiveBools) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    for (DataType type : kWideTypes)
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph(op, {{"a", type, s.a}, {"b", type, s.b}}, {});
        expectProviderMatches(g, DataType::kBOOL, label(op, type, s.a) + " with " + toString(s.b));
      }
}

TEST(CudaElementwise, ModFollowsTheSignOfTheDivisorOrOfTheDividend) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // ONNX's mixed-sign example, then random values (zeros included) with broadcasting.
  const std::vector<double> x = {-4, 7, 5, 4, -7, 8, -4.5, 7.25, 0, 3}, y = {2, -3, 8, -2, 3, 5, 2, -3, 4, 0};
  const ir::Shape shape = {static_cast<int64_t>(x.size())};
  for (int64_t fmod : {0, 1}) {
    ir::Attributes a;
    a.set("fmod", fmod);
    for (DataType type : kAllTypes) {
      if (type == DataType::kBOOL) continue;
      const std::string what = "Mod fmod=" + std::to_string(fmod);
      ir::Tensor tx = ir::Tensor::fromDouble(type, shape, x), ty = ir::Tensor::fromDouble(type, shape, y);
      ir::Graph fixed =
          testing::makeNodeGraph("Mod", {{"x", type, shape, false, &tx}, {"y", type, shape, false, &ty}}, a);
      expectProviderMatches(fixed, type, label(what, type, shape));
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph("Mod", {{"x", type, s.a}, {"y", type, s.b}}, a);
        expectProviderMatches(g, type, label(what, type, s.a) + " with " + toString(s.b));
      }
    }
  }
}

TEST(CudaElementwise, BitShiftOnUnsignedIntegers) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  // Shift amounts from 0 past the bit width (which gives 0).
  const std::vector<double> x = {1, 2, 3, 255, 128, 7, 65535, 1, 4294967295.0, 5, 6, 9};
  const std::vector<double> n = {0, 1, 7, 8, 3, 15, 16, 31, 32, 63, 64, 200};
  const ir::Shape shape = {static_cast<int64_t>(x.size())};
  for (const char* direction : {"LEFT", "RIGHT"}) {
    ir::Attributes a;
    a.set("direction", std::string(direction));
    for (DataType type : {DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64}) {
      const std::string what = std::string("BitShift ") + direction;
      ir::Tensor tx = ir::Tensor::fromDouble(type, shape, x), tn = ir::Tensor::fromDouble(type, shape, n);
      ir::Graph fixed =
          testing::makeNodeGraph("BitShift", {{"x", type, shape, false, &tx}, {"n", type, shape, false, &tn}}, a);
      expectProviderMatches(fixed, type, label(what, type, shape));
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph("BitShift", {{"x", type, s.a}, {"n", type, s.b}}, a);
        expectProviderMatches(g, type, label(what, type, s.a) + " with " + toString(s.b));
      }
    }
  }
}

TEST(CudaElementwise, BitwiseOpsOnEveryIntegerType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kIntegerTypes) {
    for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"})
      for (const ShapePair& s : kBinaryShapes) {
        ir::Graph g = testing::makeNodeGraph(op, {{"a", type, s.a}, {"b", type, s.b}}, {}, 1, 18);
        expectProviderMatches(g, type, label(op, type, s.a) + " with " + toString(s.b));
      }
    for (const ir::Shape& shape : kUnaryShapes) {
      ir::Graph g = testing::makeNodeGraph("BitwiseNot", {{"x", type, shape}}, {}, 1, 18);
      expectProviderMatches(g, type, label("BitwiseNot", type, shape));
    }
  }
}

TEST(CudaElementwise, PowOfAnyBaseByAnyExponentType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  const DataType bases[] = {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32,
                            DataType::kINT64, DataType::kINT8, DataType::kUINT8,  DataType::kUINT64};
  const DataType exponents[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16,   DataType::kDOUBLE,
                                DataType::kINT32, DataType::kINT64, DataType::kUINT32, DataType::kUINT64,
                                DataType::kINT8,  DataType::kUINT16};
  // Whole exponents (integer bases wrap), negative ones (which truncate for integer bases) and
  // fractions that make no integer of an integer base, so that truncation cannot tell pow's
  // last bit.
  const std::vector<double> exponent_values = {2, 0, 1, 3, -1, 0.3, 1.7, 2.25, -0.6, 10};
  for (DataType base : bases)
    for (DataType exponent : exponents)
      for (const ShapePair& s : {ShapePair{{7}, {7}}, ShapePair{{3, 5}, {}}, ShapePair{{4, 1, 9}, {3, 1}}}) {
        // Positive float bases keep fractional exponents real; integer bases are in [-5, 5].
        const bool float_base = isFloatingPoint(base);
        ir::Tensor b = testing::randomTensor(base, s.a, 11, float_base ? 0.25 : -1.0, float_base ? 2.0 : 1.0);
        ir::Tensor e = cycled(exponent, s.b, exponent_values);
        ir::Graph g =
            testing::makeNodeGraph("Pow", {{"x", base, s.a, false, &b}, {"y", exponent, s.b, false, &e}}, {}, 1, 15);
        expectProviderMatches(g, base,
                              label("Pow", base, s.a) + " ** " + std::string(toString(exponent)) + " " + toString(s.b));
      }
  // Same-type integer Pow, negative exponents included.
  for (DataType type : {DataType::kINT32, DataType::kINT64, DataType::kINT16, DataType::kUINT32}) {
    ir::Graph g = testing::makeNodeGraph("Pow", {{"x", type, {5, 7}}, {"y", type, {7}}}, {}, 1, 15);
    expectProviderMatches(g, type, label("Pow", type, {5, 7}));
  }
}

TEST(CudaElementwise, PReluOnEveryNumericType) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : {DataType::kDOUBLE, DataType::kINT8, DataType::kINT16, DataType::kINT32, DataType::kINT64,
                        DataType::kUINT8, DataType::kUINT32, DataType::kUINT64})
    for (const ShapePair& s : {ShapePair{{2, 3, 5, 7}, {3, 1, 1}}, ShapePair{{4, 9}, {9}}, ShapePair{{17}, {1}},
                               ShapePair{{3, 11}, {3, 11}}}) {
      ir::Graph g = testing::makeNodeGraph("PRelu", {{"x", type, s.a}, {"slope", type, s.b, true}}, {});
      expectProviderMatches(g, type, label("PRelu", type, s.a) + " slope " + toString(s.b));
    }
}

TEST(CudaElementwise, WideTypeUnaryOpsMatchTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (const UnaryCase& c : floatUnaryCases())
    for (const ir::Shape& shape : kUnaryShapes) {
      ir::Graph g = testing::makeNodeGraph(c.op, {{"x", DataType::kDOUBLE, shape}}, c.attrs);
      expectProviderMatches(g, DataType::kDOUBLE, label(c.op, DataType::kDOUBLE, shape));
    }
  ir::Attributes shrink;
  shrink.set("lambd", 2.0f);
  shrink.set("bias", 1.5f);
  for (DataType type : kIntegerTypes)
    for (const ir::Shape& shape : {ir::Shape{5}, ir::Shape{3, 37}, ir::Shape{2, 3, 4, 9}}) {
      for (const char* op : {"Relu", "Abs", "Neg", "Identity", "Clip", "Erf"}) {
        if (std::string(op) == "Neg" && isUnsigned(type)) continue;  // Neg takes signed types only
        ir::Graph g = testing::makeNodeGraph(op, {{"x", type, shape}}, {});
        expectProviderMatches(g, type, label(op, type, shape));
      }
      // uint64 in [0, 5]: x - bias of a value near 2^64 leaves uint64's range, where the
      // reference's conversion is undefined.
      ir::Tensor x = testing::randomTensor(type, shape, 7, type == DataType::kUINT64 ? 0.0 : -1.0, 1.0);
      ir::Graph g = testing::makeNodeGraph("Shrink", {{"x", type, shape, false, &x}}, shrink);
      expectProviderMatches(g, type, label("Shrink", type, shape));
    }
}

TEST(CudaElementwise, ShrinkSwishAndMishOnFloats) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  ir::Attributes hard;
  hard.set("lambd", 0.4f);
  ir::Attributes soft;
  soft.set("lambd", 0.25f);
  soft.set("bias", 0.25f);
  ir::Attributes swish;
  swish.set("alpha", 1.7f);
  const UnaryCase cases[] = {{"Shrink", {}}, {"Shrink", hard}, {"Shrink", soft},
                             {"Swish", {}},  {"Swish", swish}, {"Mish", {}}};
  for (const UnaryCase& c : cases)
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
      for (const ir::Shape& shape : kUnaryShapes) {
        // Values in [-4, 4] reach both sides of Shrink's band and Swish / Mish's tails.
        ir::Tensor x = testing::randomTensor(type, shape, 5, -4.0, 4.0);
        ir::Graph g = testing::makeNodeGraph(c.op, {{"x", type, shape, false, &x}}, c.attrs, 1, 24);
        expectProviderMatches(g, type, label(c.op, type, shape));
      }
}

TEST(CudaElementwise, SwiGluBroadcastsItsGate) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  ir::Attributes alpha;
  alpha.set("alpha", 1.702f);
  for (const ir::Attributes& a : {ir::Attributes{}, alpha})
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE})
      for (const ShapePair& s : {ShapePair{{7}, {7}}, ShapePair{{4, 1029}, {4, 1029}}, ShapePair{{4, 1, 33}, {5, 1}},
                                 ShapePair{{3, 7}, {}}}) {
        ir::Tensor x = testing::randomTensor(type, s.a, 5, -4.0, 4.0);
        ir::Graph g = testing::makeNodeGraph("SwiGLU", {{"a", type, s.a, false, &x}, {"b", type, s.b}}, a, 1, 28);
        expectProviderMatches(g, type, label("SwiGLU", type, s.a) + " with " + toString(s.b));
      }
}

TEST(CudaElementwise, ClipOfEveryTypeWithAndWithoutBounds) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType type : kWideTypes) {
    ir::Tensor lo = ir::Tensor::fromDouble(type, {}, std::vector<double>{1});
    ir::Tensor hi = ir::Tensor::fromDouble(type, {}, std::vector<double>{3});
    ir::Shape shape = {3, 41};
    ir::Graph both = testing::makeNodeGraph(
        "Clip", {{"x", type, shape}, {"lo", type, {}, true, &lo}, {"hi", type, {}, true, &hi}}, {});
    expectProviderMatches(both, type, label("Clip(lo, hi)", type, shape));
    ir::Graph only_hi = testing::makeNodeGraph("Clip", {{"x", type, shape}, {""}, {"hi", type, {}, true, &hi}}, {});
    expectProviderMatches(only_hi, type, label("Clip(-, hi)", type, shape));
    ir::Graph only_lo = testing::makeNodeGraph("Clip", {{"x", type, shape}, {"lo", type, {}, true, &lo}}, {});
    expectProviderMatches(only_lo, type, label("Clip(lo)", type, shape));
    ir::Graph none = testing::makeNodeGraph("Clip", {{"x", type, shape}}, {});
    expectProviderMatches(none, type, label("Clip()", type, shape));
    ir::Graph device = testing::makeNodeGraph("Clip", {{"x", type, shape}, {"lo", type, {}}, {"hi", type, {}}}, {});
    expectProviderMatches(device, type, label("Clip(device bounds)", type, shape));
  }
}

TEST(CudaElementwise, CastConvertsBetweenEveryPairOfAllTypes) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  for (DataType from : kAllTypes)
    for (DataType to : kAllTypes)
      for (const ir::Shape& shape : {ir::Shape{13}, ir::Shape{4, 129}}) {
        ir::Attributes a;
        a.set("to", ir::toOnnxType(to));
        // Values in [-300, 300] reach past the narrow integers' range (they wrap, as the
        // reference's conversions through int64 do) and keep fractions for the floats.
        ir::Tensor x = testing::randomTensor(from, shape, 9, -60.0, 60.0);
        ir::Graph g = testing::makeNodeGraph("Cast", {{"x", from, shape, false, &x}}, a);
        ir::Graph like = testing::makeNodeGraph("CastLike", {{"x", from, shape, false, &x}, {"t", to, {1}}}, {});
        const bool rounds = to == DataType::kHALF || to == DataType::kBF16 ||
                            ((from == DataType::kHALF || from == DataType::kBF16) && isFloatingPoint(to));
        const DataType precision = rounds ? DataType::kHALF : to;
        const std::string what = "Cast " + std::string(toString(from)) + " -> " + std::string(toString(to));
        expectProviderMatches(g, precision, what);
        expectProviderMatches(like, precision, "Like" + what);
      }
}

}  // namespace
}  // namespace kiln
