// The epilogue of a FusedConv layer (see conv.cpp) as every backend reads it: which
// activation, and the bounds of a clip. Parsed once here from the node's attributes, so that
// the shape rule, the CPU reference and tactics, and the GPU tactics agree on the names.
// ConvEpilogue is plain data (CUDA kernels take it as an argument), so this header includes
// no IR header.
#pragma once

#include <cstdint>
#include <limits>

namespace kiln::ir {

class Attributes;

//! FusedConv's activations, applied after bias and residual.
enum class ConvActivation : int32_t {
  kNone = 0,
  kRelu = 1,       //!< max(x, 0)
  kClip = 2,       //!< min(max(x, min), max): ReLU6 is clip 0..6
  kSilu = 3,       //!< x * sigmoid(x)
  kHardSwish = 4,  //!< x * clamp(x / 6 + 1/2, 0, 1), as ONNX HardSwish
  kSigmoid = 5,    //!< 1 / (1 + exp(-x))
};

struct ConvEpilogue {
  ConvActivation activation = ConvActivation::kNone;
  float min = -std::numeric_limits<float>::infinity();  //!< clip only
  float max = std::numeric_limits<float>::infinity();   //!< clip only
};

//! The epilogue from FusedConv's attributes "activation" ("none", "relu", "clip", "silu",
//! "hardswish", "sigmoid"; default "none") and, for clip, "min" / "max" (floats, default
//! -inf / +inf). Throws kInvalidModel naming attrs.owner for an unknown activation.
ConvEpilogue convEpilogue(const Attributes& attrs);

//! The attribute value of `activation` ("relu", ...).
const char* activationName(ConvActivation activation);

//! FusedConv's "layout": "NCHW" (the default, ONNX's: X [N, C, H, W], W [K, C/g, R, S],
//! Y and R [N, K, H', W']) or "NHWC" (2-D only, channels last: X [N, H, W, C], W [K, R, S, C/g],
//! Y and R [N, H', W', K]; made by the builder's channels-last step for tensor-core tactics).
//! True for NHWC; throws kInvalidModel naming attrs.owner for any other value.
bool convChannelsLast(const Attributes& attrs);

}  // namespace kiln::ir
