// Cast folding on GPU engines: a float16 / bfloat16 MLP with its middle layer pinned to float32
// folds the Cast after the first GEMM and the one writing the output into those GEMMs (run by
// cublas.epilogue writing float32), and matches the CPU reference within 1e-2 at the profile's
// min, opt, max and odd batches. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using Json = nlohmann::json;
using Tensors = std::map<std::string, ir::Tensor>;

TEST(GpuCastFolding, AReducedMlpWithAFloat32LayerFoldsItsCastsAndMatchesTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network net = testing::parseModel(testing::mlpModel(25, 2));
  for (BuilderFlag flag : {BuilderFlag::kFP16, BuilderFlag::kBF16}) {
    const std::string what = flag == BuilderFlag::kFP16 ? "fp16" : "bf16";
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(flag);
    config.addOptimizationProfile(testing::batchProfile("x", {16}, 1, 8, 32));
    config.setLayerPrecision("fc1/*", DataType::kFLOAT, PrecisionMode::kOBEY);
    std::string report;
    Engine engine = testing::buildEngine(net, config, &report);
    const Json parsed = Json::parse(report);
    int folded = -1;
    for (const auto& p : parsed["passes"])
      if (p["name"] == "fold_casts") folded = p["changes"].get<int>();
    EXPECT_EQ(folded, 2) << what;
    const std::vector<LayerInfo> layers = engine.layers();
    for (const LayerInfo& l : layers)
      if (l.outputs.size() == 1 && l.outputs[0] == "y") {
        EXPECT_EQ(l.op, "FusedMatMul") << what;
        EXPECT_NE(l.tactic.find("_to_fp32"), std::string::npos) << what << ": " << l.tactic;
      }

    auto ctx = engine.createExecutionContext();
    Stream stream(DeviceKind::kGPU);
    testing::GpuIO io;
    for (int64_t batch : {1, 8, 32, 13, 3}) {
      Tensors in = {{"x", testing::randomInput({batch, 16}, static_cast<uint32_t>(60 + batch))}};
      const std::vector<double> a = testing::reference(net, in).at("y").toDouble();
      const std::vector<double> b = testing::runGpu(engine, *ctx, in, stream, io).at("y").toDouble();
      ASSERT_EQ(a.size(), b.size());
      double num = 0, den = 0;
      bool finite = true;
      for (size_t i = 0; i < a.size(); ++i) {
        finite = finite && std::isfinite(b[i]);
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += a[i] * a[i];
      }
      EXPECT_TRUE(finite) << what << " batch " << batch;
      EXPECT_LE(std::sqrt(num / den), 1e-2) << what << " batch " << batch;
    }
  }
}

}  // namespace
}  // namespace kiln
