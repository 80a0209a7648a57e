// The bundled example (examples/tiny_cnn.onnx, used by scripts/demo.sh and the README) loads
// and runs on the CPU reference backend.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cpu/reference.h"
#include "onnx/importer.h"

namespace kiln {
namespace {

TEST(ExampleModel, TinyCnnClassifiesARandomImage) {
  ir::Graph g = onnx::importFile(KILN_SOURCE_DIR "/examples/tiny_cnn.onnx");
  ASSERT_EQ(g.inputs.size(), 1u);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.opset, 17);
  const ir::TensorInfo& in = g.tensors[g.inputs[0]];
  EXPECT_EQ(in.name, "image");
  EXPECT_EQ(in.shape, (ir::Shape{1, 3, 32, 32}));

  ir::Tensor image(DataType::kFLOAT, {1, 3, 32, 32});
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (float& v : image.values<float>()) v = dist(rng);

  auto out = cpu::runReference(g, {{"image", image}});
  ASSERT_EQ(out.count("probabilities"), 1u);
  const ir::Tensor& p = out.at("probabilities");
  ASSERT_EQ(p.shape(), (ir::Shape{1, 10}));
  double sum = 0;
  for (float v : p.values<float>()) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GE(v, 0.f);
    EXPECT_LE(v, 1.f);
    sum += v;
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

}  // namespace
}  // namespace kiln
