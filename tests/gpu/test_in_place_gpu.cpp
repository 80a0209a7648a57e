// In-place execution on the GPU: the elementwise layers of testing::inPlaceChainModel run
// their cuda.elementwise kernels with output 0 over a dying input (unary over input 0, binary
// over either), and the engine computes what the CPU reference does, in fp32 and fp16, at
// several batches, in every context memory mode. Every test skips without a GPU.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "backends/backend.h"
#include "support/gpu_io.h"
#include "support/models.h"

namespace kiln {
namespace {

using Tensors = std::map<std::string, ir::Tensor>;

TEST(GpuInPlace, ElementwiseKernelsWriteOverTheirInputAndMatchTheReference) {
  if (!backend::gpuDevice()) GTEST_SKIP() << "no GPU";
  Network network = testing::parseModel(testing::inPlaceChainModel(7));
  for (bool fp16 : {false, true}) {
    BuilderConfig config;
    config.setDevice(DeviceKind::kGPU);
    config.setFlag(BuilderFlag::kTF32, false);
    if (fp16) config.setFlag(BuilderFlag::kFP16);
    config.addOptimizationProfile(testing::batchProfile("x", {4, 6}, 1, 4, 64));
    Engine engine = testing::buildEngine(network, config);
    int in_place = 0;
    for (const LayerInfo& l : engine.layers())
      if (l.inplace_input >= 0) {
        ++in_place;
        EXPECT_EQ(l.tactic.rfind("cuda.elementwise:", 0), 0u) << l.name << " runs in place with " << l.tactic;
      }
    EXPECT_GE(in_place, 3) << (fp16 ? "fp16" : "fp32");
    const double tol = fp16 ? 1e-2 : 1e-5;
    for (ContextMemory mode : {ContextMemory::kENGINE_MANAGED, ContextMemory::kSHAPE_SIZED}) {
      auto ctx = engine.createExecutionContext(mode);
      Stream stream(DeviceKind::kGPU);
      testing::GpuIO io;
      for (int64_t batch : {1, 3, 64, 37}) {
        const Tensors in = {{"x", testing::randomInput({batch, 4, 6}, 40 + static_cast<uint32_t>(batch))}};
        EXPECT_EQ(testing::compareOutputs(testing::reference(network, in),
                                          testing::runGpu(engine, *ctx, in, stream, io), tol, tol),
                  "")
            << (fp16 ? "fp16" : "fp32") << " batch " << batch;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
