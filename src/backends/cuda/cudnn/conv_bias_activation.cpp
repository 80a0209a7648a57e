// Tactic provider "cudnn.bias_act" (source kCUDNN): FusedConv with activation relu or none, as
// one call of cuDNN's cudnnConvolutionBiasActivationForward:
//
//   Y = act(alpha1 * conv(X, W) + alpha2 * Z + bias),  alpha1 = 1, Z = R and alpha2 = 1,
//
// which is FusedConv exactly (ResNet's relu(conv + bias + identity) in one call, no second pass
// over Y). Without R, alpha2 = 0 and Y stands in for Z (the call wants a pointer there; XLA's
// legacy fused convolutions pass their output the same way). What it takes, and why (cuDNN's
// documented limits for this call):
//   - a 2-D convolution with symmetric pads (the legacy descriptor has one pad per dim), any
//     group count, strides, dilations;
//   - a bias (the call adds one; a FusedConv without it is left to the other tactics);
//   - relu or none; none (CUDNN_ACTIVATION_IDENTITY) is only implemented by the IMPLICIT_
//     PRECOMP_GEMM algorithm, which is the one algorithm offered, so every candidate runs both;
//   - fp32 (FMA math unless the build allows TF32) and fp16 (float accumulation); not bf16.
// This is cuDNN's legacy API, deprecated (not removed) in cuDNN 9; it is compiled without
// CUDNN_WARN_DEPRECATED, as the rest of kiln. cuDNN picks the kernel for the GPU it runs on,
// so the candidate is portable.
//
// Concurrency: one cudnnHandle_t and one set of descriptors per kernel object; every context
// runs its own clone. Descriptors are set for the shapes in reshape() (host calls, no
// allocation), so run() only sets the stream and calls cuDNN.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "backends/cuda/cublas/library_support.h"
#include "backends/cuda/cudnn/conv_graph.h"
#include "backends/cuda/cudnn/cudnn_check.h"
#include "ir/ops/conv_epilogue.h"

namespace kiln::cuda::dnn {
namespace {

using library::LayerConstants;

constexpr cudnnConvolutionFwdAlgo_t kAlgorithm = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;

//! An owned legacy descriptor (tensor, filter, convolution, activation).
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Owned {
 public:
  explicit Owned(const std::string& context) { KILN_CUDNN_CHECK(Create(&d_), context); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (d_) Destroy(d_);
  }
  T get() const { return d_; }

 private:
  T d_ = nullptr;
};
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Owned<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using ActivationDesc =
    Owned<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor, cudnnDestroyActivationDescriptor>;

cudnnDataType_t dataType(DataType t) { return t == DataType::kHALF ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

//! Why the layer is not one this call runs ("" when it is): see the file comment.
std::string unsupported(const backend::LayerView& layer, ConvSpec& spec) {
  if (layer.node->op != "FusedConv") return "not a FusedConv";
  if (ir::convChannelsLast(layer.attrs())) return "only NCHW";
  if (!parseConv(layer, spec)) return "not a 2-D convolution of one element type";
  if (spec.type != DataType::kFLOAT && spec.type != DataType::kHALF) return "only fp32 and fp16";
  if (!library::allOfType(layer, spec.type)) return "inputs of different types";
  if (!spec.bias) return "no bias";
  if (layer.inputs.size() > 3 && layer.inputs[3].present && layer.inputs[3].shape != layer.outputs[0].shape)
    return "a residual of another shape";
  for (int i = 0; i < 2; ++i)
    if (spec.pre[i] != spec.post[i]) return "asymmetric pads";
  for (const int64_t* dims : {spec.x, spec.w, spec.y})
    for (int i = 0; i < 4; ++i)
      if (dims[i] > INT32_MAX) return "dims past 32 bits";
  const ir::ConvActivation act = ir::convEpilogue(layer.attrs()).activation;
  if (act != ir::ConvActivation::kRelu && act != ir::ConvActivation::kNone) return "only relu or no activation";
  return "";
}

//! The descriptors of one layer: those fixed by the node (filter, convolution, activation)
//! and those of the current shapes (X, Y and Z, bias).
struct Descriptors {
  TensorDesc x, y, bias;
  FilterDesc w;
  ConvDesc conv;
  ActivationDesc activation;
  std::array<int64_t, 4> shape{};  //!< X's dims the tensor descriptors describe

  Descriptors(const ConvSpec& spec, ir::ConvActivation act, bool tf32, const std::string& context)
      : x(context), y(context), bias(context), w(context), conv(context), activation(context) {
    const cudnnDataType_t t = dataType(spec.type);
    const int groups = static_cast<int>(spec.x[1] / spec.w[1]);
    KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.get(), t, CUDNN_TENSOR_NCHW, static_cast<int>(spec.w[0]),
                                                static_cast<int>(spec.w[1]), static_cast<int>(spec.w[2]),
                                                static_cast<int>(spec.w[3])),
                     context);
    // Cross-correlation (ONNX Conv does not flip), accumulating in float for both types.
    KILN_CUDNN_CHECK(
        cudnnSetConvolution2dDescriptor(conv.get(), static_cast<int>(spec.pre[0]), static_cast<int>(spec.pre[1]),
                                        static_cast<int>(spec.stride[0]), static_cast<int>(spec.stride[1]),
                                        static_cast<int>(spec.dilation[0]), static_cast<int>(spec.dilation[1]),
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        context);
    KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), groups), context);
    // Strict fp32 keeps to FMA kernels (DEFAULT_MATH would allow TF32 tensor cores).
    const cudnnMathType_t math = spec.type == DataType::kFLOAT && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), math), context);
    const cudnnActivationMode_t mode =
        act == ir::ConvActivation::kRelu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY;
    KILN_CUDNN_CHECK(cudnnSetActivationDescriptor(activation.get(), mode, CUDNN_PROPAGATE_NAN, 0.0), context);
    KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias.get(), CUDNN_TENSOR_NCHW, t, 1, static_cast<int>(spec.y[1]), 1, 1),
                     context);
    setShapes(spec, context);
  }

  void setShapes(const ConvSpec& spec, const std::string& context) {
    const cudnnDataType_t t = dataType(spec.type);
    auto set = [&](const TensorDesc& d, const int64_t(&dims)[4]) {
      KILN_CUDNN_CHECK(
          cudnnSetTensor4dDescriptor(d.get(), CUDNN_TENSOR_NCHW, t, static_cast<int>(dims[0]),
                                     static_cast<int>(dims[1]), static_cast<int>(dims[2]), static_cast<int>(dims[3])),
          context);
    };
    set(x, spec.x);
    set(y, spec.y);
    std::memcpy(shape.data(), spec.x, sizeof(spec.x));
  }

  //! Workspace bytes of the algorithm at the current shapes; throws when cuDNN cannot run it.
  size_t workspace(cudnnHandle_t handle, const std::string& context) const {
    size_t bytes = 0;
    KILN_CUDNN_CHECK(
        cudnnGetConvolutionForwardWorkspaceSize(handle, x.get(), w.get(), conv.get(), y.get(), kAlgorithm, &bytes),
        context);
    return bytes;
  }
};

std::vector<std::byte> encode(bool tf32) { return {std::byte{1}, std::byte{tf32 ? uint8_t{1} : uint8_t{0}}}; }

class BiasActivationKernel final : public backend::Kernel {
 public:
  BiasActivationKernel(const backend::LayerView& layer, const backend::TacticConfig& config, backend::Device& device)
      : context_(layer.node->describe() + ", tactic '" + config.name + "'"),
        workspace_(config.workspace),
        device_(device) {
    if (config.params.size() != 2 || config.params[0] != std::byte{1})
      throw Error(ErrorCode::kInvalidArgument, context_ + ": malformed cudnn.bias_act parameters");
    tf32_ = config.params[1] != std::byte{0};
    const std::string why = unsupported(layer, spec_);
    if (!why.empty()) throw Error(ErrorCode::kUnsupported, context_ + ": cannot run this layer: " + why);
    activation_ = ir::convEpilogue(layer.attrs()).activation;
    has_residual_ = layer.inputs.size() > 3 && layer.inputs[3].present;
    constants_.upload(device_, layer);
    init();
  }
  //! A clone: the same weights; its own handle and descriptors.
  BiasActivationKernel(const BiasActivationKernel& other)
      : context_(other.context_),
        workspace_(other.workspace_),
        device_(other.device_),
        tf32_(other.tf32_),
        spec_(other.spec_),
        activation_(other.activation_),
        has_residual_(other.has_residual_),
        constants_(other.constants_) {
    init();
  }
  BiasActivationKernel& operator=(const BiasActivationKernel&) = delete;
  ~BiasActivationKernel() override {
    descriptors_.reset();
    if (handle_) cudnnDestroy(handle_);
  }

  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<BiasActivationKernel>(*this); }

  size_t workspaceSize(const backend::LayerView&) const override { return workspace_; }

  void reshape(const backend::LayerView& layer) override {
    ConvSpec spec;
    if (!parseConv(layer, spec)) throw Error(ErrorCode::kRuntime, context_ + ": shapes it cannot take");
    setShapes(spec);
  }

  bool refit(const backend::LayerView& layer) override {
    constants_.upload(device_, layer);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    const ir::Shape& xs = args.layer->inputs[0].shape;
    if (xs.size() != 4) throw Error(ErrorCode::kRuntime, context_ + ": input is not 4-D");
    if (!std::equal(xs.begin(), xs.end(), descriptors_->shape.begin())) reshape(*args.layer);  // host calls only
    const void* residual = has_residual_ ? constants_.input(args, 3) : nullptr;
    void* y = args.outputs[0];
    const float alpha1 = 1.0f, alpha2 = residual ? 1.0f : 0.0f;
    Descriptors& d = *descriptors_;
    KILN_CUDNN_CHECK(cudnnSetStream(handle_, static_cast<cudaStream_t>(args.stream)), context_);
    KILN_CUDNN_CHECK(
        cudnnConvolutionBiasActivationForward(
            handle_, &alpha1, d.x.get(), constants_.input(args, 0), d.w.get(), constants_.input(args, 1), d.conv.get(),
            kAlgorithm, args.workspace, args.workspace ? args.workspace_size : 0, &alpha2, d.y.get(),
            residual ? residual : y, d.bias.get(), constants_.input(args, 2), d.activation.get(), d.y.get(), y),
        context_);
  }

 private:
  void init() {
    KILN_CUDNN_CHECK(cudnnCreate(&handle_), context_);
    try {
      descriptors_ = std::make_unique<Descriptors>(spec_, activation_, tf32_, context_);
      setShapes(spec_);
    } catch (...) {
      descriptors_.reset();
      cudnnDestroy(handle_);
      handle_ = nullptr;
      throw;
    }
  }

  void setShapes(const ConvSpec& spec) {
    descriptors_->setShapes(spec, context_);
    const size_t need = descriptors_->workspace(handle_, context_);
    if (need > workspace_)
      throw Error(ErrorCode::kRuntime, context_ + ": needs " + std::to_string(need) +
                                           " bytes of workspace at these shapes, more than the " +
                                           std::to_string(workspace_) + " it was built with");
  }

  std::string context_;
  size_t workspace_ = 0;
  backend::Device& device_;
  bool tf32_ = false;
  ConvSpec spec_;
  ir::ConvActivation activation_ = ir::ConvActivation::kNone;
  bool has_residual_ = false;
  LayerConstants constants_;
  cudnnHandle_t handle_ = nullptr;
  std::unique_ptr<Descriptors> descriptors_;
};

class BiasActivationProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cudnn.bias_act"; }
  TacticSource source() const override { return TacticSource::kCUDNN; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "FusedConv"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max,
                                                const backend::BuildOptions& options) const override {
    if (!backend::gpuDevice() || opt.outputs.empty()) return {};
    ConvSpec specs[3];  // opt, min, max
    const backend::LayerView* views[3] = {&opt, &min, &max};
    for (int i = 0; i < 3; ++i)
      if (!unsupported(*views[i], specs[i]).empty()) return {};
    QueryHandle& q = queryHandle();
    if (!q.handle) return {};
    const bool tf32 = specs[0].type == DataType::kFLOAT && options.tf32;
    const std::string precision = library::precisionName(specs[0].type, tf32);
    const std::string context = opt.node->describe() + ", cudnn.bias_act candidates";
    const ir::ConvActivation act = ir::convEpilogue(opt.attrs()).activation;
    std::lock_guard<std::mutex> lock(q.mutex);
    size_t workspace = 0;
    try {
      Descriptors d(specs[0], act, tf32, context);
      for (const ConvSpec& spec : specs) {
        d.setShapes(spec, context);
        workspace = std::max(workspace, d.workspace(q.handle, context));
      }
    } catch (const Error&) {
      return {};  // cuDNN cannot run the algorithm at one of the shapes (or lacks its legacy library)
    }
    if (workspace > options.workspace_limit) return {};
    return {backend::TacticConfig{.name = "cudnn.bias_act." + precision + ".implicit_precomp_gemm",
                                  .params = encode(tf32),
                                  .workspace = workspace,
                                  .formats = precision + " linear",
                                  .portable = true}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig& config,
                                               backend::Device& device) const override {
    return std::make_unique<BiasActivationKernel>(layer, config, device);
  }
};

KILN_TACTIC_PROVIDER(BiasActivationProvider);

}  // namespace
}  // namespace kiln::cuda::dnn
