// Scaled-dot-product attention as torch.onnx writes it (dynamo and legacy/eager forms) becomes
// one FusedAttention layer (domain "kiln"; see src/ir/ops/fused_attention.cpp).
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Replaces each MatMul(Q, K^T) -> scale -> [Add(mask)] -> Softmax(last axis) -> [IsNaN/Where
//! guard] -> MatMul(., V) chain whose intermediates feed only the next step (and are neither
//! graph outputs nor in `keep`) by one FusedAttention node. Head transposes (perm 0,2,1,3) on
//! Q, K, V and the output are folded into its layouts when nothing else reads them. Returns
//! how many it fused.
int fuseAttention(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
