// Conv followed by a bias Add, a residual Add and an activation (Relu, Clip with constant
// bounds, Sigmoid, HardSwish, SiLU as Mul(x, Sigmoid(x)), HardSwish as Mul(x, HardSigmoid(x)))
// becomes one FusedConv layer (domain "kiln", see src/ir/ops/conv.cpp):
// Y = act(conv(X, W) + B + R). ResNet's blocks end in relu(conv + bias + identity),
// MobileNetV2's in conv + bias + identity, and most convolutions of both in conv + bias + act.
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Fuses every 1-D or 2-D float Conv whose epilogue it can absorb; each absorbed intermediate
//! has one use (SiLU's x two, both in the formula), is not a graph output and is not in `keep`.
//! A bias Add's constant goes through the weight program (reshaped to [C]), so refit replays
//! it. Returns the number of fused layers made.
int fuseConvEpilogue(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
