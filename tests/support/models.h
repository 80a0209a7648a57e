// Small ONNX models written with the generated protobuf classes, for tests of the builder and
// the runtime through the public API, plus helpers to run an engine on the CPU and compare it
// with the reference backend (the oracle) on the same network.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "kiln/kiln.h"
#include "onnx.pb.h"

namespace kiln::testing {

//! A fresh, empty folder under the system's temporary folder (unique per call).
std::filesystem::path freshTempDir(const std::string& name);

//! Writes a model to `path`; returns the path.
std::string writeModel(const onnx::ModelProto& model, const std::filesystem::path& path);
//! Parses a model held in memory into a Network.
Network parseModel(const onnx::ModelProto& model);

//! Weight values of a test model, by initializer name (float32 unless noted).
using Weights = std::map<std::string, ir::Tensor>;

//! x[N,3,8,8] -> Conv(conv1.W, conv1.B, 3x3 pad 1) -> "conv1_out" -> BatchNormalization(bn1.*)
//! -> Relu -> Conv(conv2.W, 3x3 pad 1, no bias) -> BatchNormalization(bn2.*) -> Relu
//! -> GlobalAveragePool -> Flatten -> Gemm(fc.W [classes,8] transB, fc.B) -> y[N,classes].
//! The batch dim is dynamic ("batch") unless `batch` > 0. Weights are random from `seed`
//! (BatchNorm variances positive), or taken from `weights` where given.
onnx::ModelProto cnnModel(uint32_t seed, int64_t batch = -1, const Weights& weights = {}, int64_t classes = 10);
//! The initializers cnnModel(seed) would use.
Weights cnnWeights(uint32_t seed, int64_t classes = 10);

//! x[N,16] -> (MatMul(fcK.W) -> Add(fcK.B) -> Relu) x `depth` (widths 32, 24, 32, ...) ->
//! MatMul(out.W) -> Add(out.B) -> y[N,8]. Dynamic batch ("batch").
onnx::ModelProto mlpModel(uint32_t seed, int depth = 2);

//! x[N,4,6] -> Relu -> Reshape(to [N, 24], the shape from Shape -> Gather(0) -> Concat([-1]))
//! -> MatMul(proj.W [24,5]) -> Add(proj.B) -> y[N,5]. Dynamic batch.
onnx::ModelProto reshapeChainModel(uint32_t seed);

//! Shape inputs: x float32 [2,3,4] and two int64 graph inputs whose values decide shapes,
//! shape [2] and starts [1]: y = Relu(Reshape(x, shape)), z = Neg(Slice(x, starts, ends = [4],
//! axes = [2])) (the slice an activation). No weights.
onnx::ModelProto shapeInputModel();

//! An int64 input that carries data, no shape: y[2,3] = Gather(table [4,3], ids int64 [2]).
onnx::ModelProto gatherIdsModel();

//! z = Neg(Slice(x [64, 64], starts = an int64 [1] input, ends [64], axes [1])): the slice is
//! an activation of up to 16 KiB.
onnx::ModelProto wideSliceModel();

//! y = Resize(x [1,1,2,2], scales = a float32 [4] input): a shape that follows from float
//! values, which cannot be a shape input.
onnx::ModelProto resizeScalesInputModel();

//! Elementwise layers and views for in-place execution, on x[N,4,6] (dynamic batch):
//!   scaled = Mul(x, scale[6])        x is a graph input: never written over
//!   relu_out = Relu(scaled)          may run in place over scaled
//!   biased = Add(relu_out, bias[6])  relu_out is read again below (through a view): not in place
//!   gate = Sigmoid(biased)           may run in place over biased
//!   squashed = Tanh(Flatten(gate))   may run in place over gate, through the view
//!   product_out = Mul(squashed, Flatten(relu_out))  may run in place over either input
//!   y = Neg(product_out)             y is a graph output: not in place
onnx::ModelProto inPlaceChainModel(uint32_t seed);

//! x[N,16] -> MatMul(fc1.W [16,32]) -> Mul(up = scale) -> Relu -> Mul(down = 1/scale)
//! -> MatMul(fc2.W [32,8]) -> y[N,8]: the same function for every scale, but with scale 1e6 the
//! middle overflows float16 and with 1e-9 it underflows. Dynamic batch.
onnx::ModelProto scaledModel(uint32_t seed, float scale);

//! Scaled-dot-product attention as torch.onnx's eager exporter writes it, inputs q, k, v
//! [N,seq,heads,dim] and an additive mask [N,1,1,seq]: Transpose (0,2,1,3) of q and v, K^T as
//! Transpose(k, 0,2,3,1), MatMul -> Div(sqrt(dim)) -> Add(mask) -> Softmax(-1) -> MatMul ->
//! Transpose (0,2,1,3) -> y[N,seq,heads,dim]. Dynamic batch ("batch"). No weights.
onnx::ModelProto attentionModel(int64_t seq, int64_t heads, int64_t dim);

//! Convolution blocks as torchvision's exporters write them, with BatchNormalization after
//! every Conv, on x[N,8,9,9] (dynamic batch "batch"):
//!   ResNet bottleneck with downsampling (stride 2): 1x1 -> BN -> Relu -> 3x3/2 -> BN -> Relu
//!     -> 1x1 -> BN, plus 1x1/2 -> BN on x; Add -> Relu;
//!   MobileNetV2 inverted residual: 1x1 -> BN -> Clip(0, 6) -> depthwise 3x3 -> BN -> Clip(0, 6)
//!     -> 1x1 -> BN; Add(block input, that);
//!   EfficientNet-style SiLU: 3x3 -> BN -> Mul(x, Sigmoid(x));
//! then GlobalAveragePool -> Flatten -> y[N,16].
onnx::ModelProto residualCnnModel(uint32_t seed);
//! ResNet basic blocks at 16 and 32 channels (tensor-core friendly: the channels-last step
//! converts them): x [N, 16, 11, 9] -> Conv+BN+Relu -> a block (two 3x3 Conv+BN, identity Add,
//! Relu) -> a downsampling block (stride 2 to 32 channels, 1x1 stride-2 Conv+BN on the
//! shortcut) -> GlobalAveragePool -> Flatten -> y [N, 32]. H x W is 11 x 9.
onnx::ModelProto basicBlocksModel(uint32_t seed);
//! MobileNetV2 in small, as torchvision's exporter writes it (BatchNormalization after every
//! Conv, ReLU6 as Clip(0, 6)): x [N, 3, 17, 15] -> 3x3 stride-2 stem to 16 channels -> inverted
//! residual blocks (1x1 expand, 3x3 depthwise, 1x1 project; the block input added when shapes
//! allow): 16 -> 8 without expansion, 8 -> 48 -> 8 (+), 8 -> 48 -> 16 with a stride-2 depthwise,
//! 16 -> 96 -> 16 (+) -> 1x1 head to 32 -> GlobalAveragePool -> Flatten -> y [N, 32]. Channels
//! are multiples of 8 after the stem, so the channels-last step makes the blocks one region.
onnx::ModelProto mobileNetBlocksModel(uint32_t seed);

//! Random float32 tensor, never all zeros (uniform in [lo, hi)).
ir::Tensor randomInput(const ir::Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

//! Runs `ctx` (of a CPU engine) on `inputs` (by name): sets their shapes, binds them and
//! freshly allocated outputs, enqueues. Returns every output by name.
std::map<std::string, ir::Tensor> runContext(const Engine& engine, ExecutionContext& ctx,
                                             const std::map<std::string, ir::Tensor>& inputs);
//! Builds `network` with `config` on the CPU and loads it.
Engine buildEngine(const Network& network, const BuilderConfig& config, std::string* report = nullptr);
//! The reference backend's outputs for `network`.
std::map<std::string, ir::Tensor> reference(const Network& network, const std::map<std::string, ir::Tensor>& inputs);
//! Largest |a - b| over two tensors of the same shape (infinity when shapes or types differ).
double maxAbsDiff(const ir::Tensor& a, const ir::Tensor& b);
//! "" when every output in `expected` is in `actual` and within rtol/atol; else a message.
std::string compareOutputs(const std::map<std::string, ir::Tensor>& expected,
                           const std::map<std::string, ir::Tensor>& actual, double rtol = 1e-4, double atol = 1e-5);

//! A profile for one input whose dim 0 is the batch: min/opt/max batches, other dims fixed.
OptimizationProfile batchProfile(const std::string& input, const Dims& rest, int64_t min, int64_t opt, int64_t max);
//! A CPU builder config with one profile (may be empty).
BuilderConfig cpuConfig();

//! Collects messages sent to kiln's logger while alive (installs itself; restores default).
class CapturingLogger : public ILogger {
 public:
  CapturingLogger();
  ~CapturingLogger() override;
  void log(Severity severity, std::string_view message) noexcept override;
  std::vector<std::string> warnings() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<Severity, std::string>> messages_;
};

}  // namespace kiln::testing
