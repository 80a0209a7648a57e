// cuDNN backend-API graph, heuristics and plans for a 2-D convolution.
#include "backends/cuda/cudnn/conv_graph.h"

#include <cmath>
#include <cstring>

#include "backends/cuda/cudnn/cudnn_check.h"
#include "ir/ops/conv_epilogue.h"

namespace kiln::cuda::dnn {
namespace {

cudnnDataType_t dnnType(DataType t) {
  switch (t) {
    case DataType::kHALF: return CUDNN_DATA_HALF;
    case DataType::kBF16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
  }
}

//! Runtime buffers are assumed 16-byte aligned (kiln allocates at 256, plans sub-buffers at 16).
constexpr int64_t kAlignment = 16;

//! A tensor of logical dims [N, C, H, W] (for W: [K, C, R, S]), stored NCHW or, channels
//! last, NHWC (W: KRSC); a virtual one (a fused graph's intermediate) has no memory.
Descriptor tensor(const int64_t (&dims)[4], DataType type, int64_t uid, bool channels_last, const std::string& context,
                  bool is_virtual = false) {
  Descriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR, context);
  const int64_t nchw[4] = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  const int64_t nhwc[4] = {dims[1] * dims[2] * dims[3], 1, dims[3] * dims[1], dims[1]};
  const int64_t* strides = channels_last ? nhwc : nchw;
  const cudnnDataType_t dt = dnnType(type);
  t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
  t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  t.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  t.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &kAlignment);
  if (is_virtual) t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  t.finalize();
  return t;
}

//! A pointwise operation y = mode(x) or y = mode(x, b) of the fused epilogue, computing in
//! fp32; `setup` sets the mode's own attributes (clip bounds, swish beta).
template <typename Setup>
void addPointwise(cudnnPointwiseMode_t mode, const Descriptor& x, const Descriptor* b, const Descriptor& y,
                  std::vector<Descriptor>& parts, std::vector<cudnnBackendDescriptor_t>& ops,
                  const std::string& context, Setup setup) {
  Descriptor pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, context);
  const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  pw.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision);
  setup(pw);
  pw.finalize();
  Descriptor op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t p = pw.get(), xd = x.get(), yd = y.get();
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &p);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
  if (b) {
    const cudnnBackendDescriptor_t bd = b->get();
    op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bd);
  }
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
  op.finalize();
  ops.push_back(op.get());
  parts.push_back(std::move(pw));
  parts.push_back(std::move(op));
}

// The handle attributes of the operation graph and the plan are deprecated after 9.14 (device
// property descriptors replace them) but required by 9.14, the oldest cuDNN we support.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
constexpr cudnnBackendAttributeName_t kGraphHandle = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
constexpr cudnnBackendAttributeName_t kPlanHandle = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop

}  // namespace

QueryHandle::QueryHandle() {
  if (!backend::gpuDevice() || cudnnGetVersion() < kMinCudnnVersion || cudnnCreate(&handle) != CUDNN_STATUS_SUCCESS)
    handle = nullptr;
}

QueryHandle& queryHandle() {
  static QueryHandle instance;  // thread-safe initialization; kept until exit
  return instance;
}

bool parseConv(const backend::LayerView& layer, ConvSpec& spec) {
  spec = ConvSpec{};
  auto present = [&](size_t i) { return i < layer.inputs.size() && layer.inputs[i].present; };
  if (!present(0) || !present(1) || layer.outputs.empty()) return false;
  if (layer.inputs[0].shape.size() != 4 || layer.inputs[1].shape.size() != 4 || layer.outputs[0].shape.size() != 4)
    return false;
  spec.nhwc = layer.node->op == "FusedConv" && ir::convChannelsLast(layer.attrs());
  // Logical NCHW dims (W: [K, C, R, S]) whatever the layout.
  auto logical = [&](const ir::Shape& s) { return spec.nhwc ? ir::Shape{s[0], s[3], s[1], s[2]} : s; };
  const ir::Shape x = logical(layer.inputs[0].shape);
  const ir::Shape w = logical(layer.inputs[1].shape);
  const ir::Shape y = logical(layer.outputs[0].shape);
  spec.type = layer.outputs[0].type;
  for (int i = 0; i < 4; ++i) {
    spec.x[i] = x[i];
    spec.w[i] = w[i];
    spec.y[i] = y[i];
    if (x[i] <= 0 || w[i] <= 0 || y[i] <= 0) return false;  // empty tensors: other tactics
  }
  spec.bias = present(2);
  if (spec.bias && (layer.inputs[2].shape.size() != 1 || layer.inputs[2].shape[0] != w[0])) return false;
  const ir::Attributes& attrs = layer.attrs();
  if (layer.node->op == "FusedConv") {
    spec.residual = present(3);
    spec.epilogue = ir::convEpilogue(attrs);
  }
  const int64_t group = attrs.i("group", 1);
  if (group <= 0 || x[1] != w[1] * group || w[0] % group != 0 || y[1] != w[0] || y[0] != x[0]) return false;
  const std::vector<int64_t> strides = attrs.ints("strides", {1, 1});
  const std::vector<int64_t> dilations = attrs.ints("dilations", {1, 1});
  const std::vector<int64_t> pads = attrs.ints("pads", {0, 0, 0, 0});
  const std::string auto_pad = attrs.s("auto_pad", "NOTSET");
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4) return false;
  for (int i = 0; i < 2; ++i) {
    const int64_t in = x[2 + i], k = w[2 + i], out = y[2 + i], s = strides[i], d = dilations[i];
    if (s <= 0 || d <= 0) return false;
    int64_t pre = pads[i], post = pads[2 + i];
    if (auto_pad == "VALID") {
      pre = post = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
      pre = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      post = total - pre;
    } else if (auto_pad != "NOTSET") {
      return false;
    }
    if (pre < 0 || post < 0 || (in + pre + post - d * (k - 1) - 1) / s + 1 != out) return false;
    spec.pre[i] = pre;
    spec.post[i] = post;
    spec.stride[i] = s;
    spec.dilation[i] = d;
  }
  return true;
}

Descriptor::Descriptor(cudnnBackendDescriptorType_t type, const std::string& context) : context_(context) {
  KILN_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_), context_);
}

Descriptor& Descriptor::operator=(Descriptor&& other) noexcept {
  if (this != &other) {
    if (d_) cudnnBackendDestroyDescriptor(d_);
    d_ = std::exchange(other.d_, nullptr);
    context_ = std::move(other.context_);
  }
  return *this;
}

Descriptor::~Descriptor() {
  if (d_) cudnnBackendDestroyDescriptor(d_);
}

void Descriptor::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                     const void* values) {
  KILN_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values), context_);
}

void Descriptor::finalize() { KILN_CUDNN_CHECK(cudnnBackendFinalize(d_), context_); }

bool fusedEpilogueSupported(const ConvSpec& spec) {
  if (!spec.nhwc || (spec.type != DataType::kHALF && spec.type != DataType::kBF16)) return false;
  if (spec.epilogue.activation == ir::ConvActivation::kHardSwish) return false;
  return spec.bias || spec.residual || spec.epilogue.activation != ir::ConvActivation::kNone;
}

ConvGraph buildConvGraph(cudnnHandle_t handle, const ConvSpec& spec, const std::string& context) {
  if (spec.fuse && !fusedEpilogueSupported(spec))
    throw Error(ErrorCode::kUnsupported, context + ": an epilogue the fused cuDNN graph does not take");
  ConvGraph g;
  std::vector<Descriptor>& parts = g.parts;
  std::vector<cudnnBackendDescriptor_t> ops;
  // parts[0..2]: X, W and the convolution's output (Y itself, or a virtual fp32 tensor that the
  // fused epilogue reads).
  parts.push_back(tensor(spec.x, spec.type, kUidX, spec.nhwc, context));
  parts.push_back(tensor(spec.w, spec.type, kUidW, spec.nhwc, context));
  int64_t next_virtual = kUidVirtual;
  auto intermediate = [&] {
    parts.push_back(tensor(spec.y, DataType::kFLOAT, next_virtual++, spec.nhwc, context, /*is_virtual=*/true));
    return parts.size() - 1;
  };
  size_t conv_out = 0;
  if (spec.fuse) {
    conv_out = intermediate();
  } else {
    parts.push_back(tensor(spec.y, spec.type, kUidY, spec.nhwc, context));
    conv_out = parts.size() - 1;
  }

  Descriptor conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, context);
  const int64_t spatial = 2;
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;             // accumulate in fp32 for every precision
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;  // ONNX Conv does not flip
  conv.set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  conv.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  conv.set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, spec.dilation);
  conv.set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, spec.stride);
  conv.set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, spec.pre);
  conv.set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, spec.post);
  conv.finalize();

  // Groups are implied: the filter's C is the input's C / groups.
  Descriptor op(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t x = parts[0].get(), w = parts[1].get(), y = parts[conv_out].get(), c = conv.get();
  const float alpha = 1.0f, beta = 0.0f;
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
  op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  op.finalize();
  ops.push_back(op.get());
  parts.push_back(std::move(conv));
  parts.push_back(std::move(op));

  if (spec.fuse) {
    // FusedConv's order: conv + B, + R, then the activation; the last step writes Y. Parts are
    // referred to by index, as the vector moves them when it grows.
    struct Step {
      cudnnPointwiseMode_t mode;
      int64_t operand_uid;  //!< B or R, or 0 for a one-input mode
    };
    std::vector<Step> steps;
    if (spec.bias) steps.push_back({CUDNN_POINTWISE_ADD, kUidB});
    if (spec.residual) steps.push_back({CUDNN_POINTWISE_ADD, kUidR});
    const ir::ConvEpilogue& e = spec.epilogue;
    switch (e.activation) {
      case ir::ConvActivation::kNone: break;
      case ir::ConvActivation::kRelu:
      case ir::ConvActivation::kClip: steps.push_back({CUDNN_POINTWISE_RELU_FWD, 0}); break;
      case ir::ConvActivation::kSilu: steps.push_back({CUDNN_POINTWISE_SWISH_FWD, 0}); break;
      case ir::ConvActivation::kSigmoid: steps.push_back({CUDNN_POINTWISE_SIGMOID_FWD, 0}); break;
      case ir::ConvActivation::kHardSwish: break;  // refused above
    }
    size_t in = conv_out;
    for (size_t i = 0; i < steps.size(); ++i) {
      size_t operand = 0;
      if (steps[i].operand_uid == kUidB) {
        const int64_t bias_dims[4] = {1, spec.y[1], 1, 1};
        parts.push_back(tensor(bias_dims, spec.type, kUidB, spec.nhwc, context));
        operand = parts.size() - 1;
      } else if (steps[i].operand_uid == kUidR) {
        parts.push_back(tensor(spec.y, spec.type, kUidR, spec.nhwc, context));
        operand = parts.size() - 1;
      }
      size_t out = 0;
      if (i + 1 == steps.size()) {
        parts.push_back(tensor(spec.y, spec.type, kUidY, spec.nhwc, context));
        out = parts.size() - 1;
      } else {
        out = intermediate();
      }
      const Descriptor* b = steps[i].operand_uid != 0 ? &parts[operand] : nullptr;
      // The pointwise descriptors go to a side vector first: `parts` must not grow while its
      // elements are referred to.
      std::vector<Descriptor> made;
      addPointwise(steps[i].mode, parts[in], b, parts[out], made, ops, context, [&](Descriptor& pw) {
        if (steps[i].mode == CUDNN_POINTWISE_RELU_FWD) {
          // relu: max(x, 0); clip: min(max(x, min), max), as relu with both clips.
          const bool clip = e.activation == ir::ConvActivation::kClip;
          const double lower = clip ? static_cast<double>(e.min) : 0.0;
          pw.set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, 1, &lower);
          if (clip && std::isfinite(e.max)) {
            const double upper = e.max;
            pw.set(CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, 1, &upper);
          }
        } else if (steps[i].mode == CUDNN_POINTWISE_SWISH_FWD) {
          const double beta_swish = 1.0;  // x * sigmoid(1 * x)
          pw.set(CUDNN_ATTR_POINTWISE_SWISH_BETA, CUDNN_TYPE_DOUBLE, 1, &beta_swish);
        }
      });
      for (Descriptor& d : made) parts.push_back(std::move(d));
      in = out;
    }
  }

  g.graph = Descriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, context);
  g.graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()),
              ops.data());
  g.graph.set(kGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle);
  g.graph.finalize();
  return g;
}

std::vector<EngineChoice> heuristicChoices(const ConvGraph& graph, cudnnBackendHeurMode_t mode,
                                           const std::vector<cudnnBackendNumericalNote_t>& excluded_notes, bool fused,
                                           const std::string& context) {
  Descriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t g = graph.graph.get();
  heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  heur.finalize();
  int64_t count = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                            &count, nullptr),
                   context);
  std::vector<Descriptor> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, context);
    raw.push_back(configs.back().get());
  }
  int64_t returned = 0;
  if (count > 0)
    KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                              count, &returned, raw.data()),
                     context);
  std::vector<EngineChoice> choices;
  for (int64_t i = 0; i < returned; ++i) {
    Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, context);
    cudnnBackendDescriptor_t e = engine.get();
    int64_t n = 0;
    KILN_CUDNN_CHECK(
        cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &e),
        context);
    EngineChoice choice;
    choice.fused = fused;
    KILN_CUDNN_CHECK(
        cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &choice.engine), context);
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    int64_t note_count = 0;
    KILN_CUDNN_CHECK(cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                              CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &note_count, notes),
                     context);
    bool excluded = false;
    for (int64_t j = 0; j < note_count; ++j)
      for (cudnnBackendNumericalNote_t x : excluded_notes) excluded = excluded || notes[j] == x;
    if (excluded) continue;

    std::vector<Descriptor> knobs;
    std::vector<cudnnBackendDescriptor_t> knob_raw;
    for (int j = 0; j < CUDNN_KNOB_TYPE_COUNTS; ++j) {
      knobs.emplace_back(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, context);
      knob_raw.push_back(knobs.back().get());
    }
    int64_t knob_count = 0;
    KILN_CUDNN_CHECK(cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                              CUDNN_KNOB_TYPE_COUNTS, &knob_count, knob_raw.data()),
                     context);
    for (int64_t j = 0; j < knob_count; ++j) {
      cudnnBackendKnobType_t type{};
      int64_t value = 0;
      KILN_CUDNN_CHECK(
          cudnnBackendGetAttribute(knob_raw[j], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &n, &type),
          context);
      KILN_CUDNN_CHECK(
          cudnnBackendGetAttribute(knob_raw[j], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &n, &value),
          context);
      choice.knobs.emplace_back(static_cast<int64_t>(type), value);
    }
    choices.push_back(std::move(choice));
  }
  return choices;
}

std::unique_ptr<ExecutionPlan> buildPlan(cudnnHandle_t handle, const ConvSpec& spec, const EngineChoice& choice,
                                         const std::string& context) {
  auto p = std::make_unique<ExecutionPlan>();
  ConvSpec graph_spec = spec;
  graph_spec.fuse = choice.fused;
  p->graph = buildConvGraph(handle, graph_spec, context);
  p->engine = Descriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t g = p->graph.graph.get();
  p->engine.set(CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
  p->engine.set(CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &choice.engine);
  p->engine.finalize();
  std::vector<cudnnBackendDescriptor_t> knob_raw;
  for (const auto& [type, value] : choice.knobs) {
    Descriptor knob(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, context);
    const auto knob_type = static_cast<cudnnBackendKnobType_t>(type);
    knob.set(CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &knob_type);
    knob.set(CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &value);
    knob.finalize();
    knob_raw.push_back(knob.get());
    p->knobs.push_back(std::move(knob));
  }
  p->config = Descriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t e = p->engine.get();
  p->config.set(CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &e);
  if (!knob_raw.empty())
    p->config.set(CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                  static_cast<int64_t>(knob_raw.size()), knob_raw.data());
  p->config.finalize();
  p->plan = Descriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, context);
  const cudnnBackendDescriptor_t c = p->config.get();
  p->plan.set(kPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle);
  p->plan.set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
  p->plan.finalize();
  int64_t n = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(p->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                            1, &n, &p->workspace),
                   context);
  return p;
}

std::vector<std::byte> encodeChoice(const EngineChoice& choice) {
  // Format 1: version, engine, knob count, (type, value) pairs. Format 2 appends the fused flag.
  std::vector<int64_t> words = {choice.fused ? 2 : 1, choice.engine, static_cast<int64_t>(choice.knobs.size())};
  for (const auto& [type, value] : choice.knobs) {
    words.push_back(type);
    words.push_back(value);
  }
  if (choice.fused) words.push_back(1);
  std::vector<std::byte> bytes(words.size() * sizeof(int64_t));
  std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

bool decodeChoice(const std::vector<std::byte>& bytes, EngineChoice& choice) {
  if (bytes.size() % sizeof(int64_t) != 0 || bytes.size() < 3 * sizeof(int64_t)) return false;
  std::vector<int64_t> words(bytes.size() / sizeof(int64_t));
  std::memcpy(words.data(), bytes.data(), bytes.size());
  const int64_t version = words[0];
  if ((version != 1 && version != 2) || words[2] < 0) return false;
  const size_t pairs_end = 3 + 2 * static_cast<size_t>(words[2]);
  if (words.size() != pairs_end + (version == 2 ? 1 : 0)) return false;
  if (version == 2 && words.back() != 0 && words.back() != 1) return false;
  choice = EngineChoice{.engine = words[1], .fused = version == 2 && words.back() == 1};
  for (size_t i = 3; i < pairs_end; i += 2) choice.knobs.emplace_back(words[i], words[i + 1]);
  return true;
}

}  // namespace kiln::cuda::dnn
