// Cast folding, after precision conversion: a Cast that widens a GEMM's float16 or bfloat16
// result to float32 (for a layer pinned to float32, or a graph output) folds into the GEMM,
// which then writes float32 itself: one layer and one tensor less, and the result rounded once
// (from the accumulator to float32) instead of twice. The GEMM becomes a FusedMatMul with an
// output_type (src/ir/ops/fused_matmul.cpp); a MatMul or Gemm that FusedMatMul cannot express
// (a batched B, Gemm's transA, a C that is not a bias row) keeps its Cast.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln::passes {

//! True for the (input, output) float types a folded layer may have: float16 or bfloat16 to
//! float32, the pair every backend's FusedMatMul tactics for it write (the CPU reference and
//! "cublas.epilogue"); no other pair folds.
bool castFolds(DataType from, DataType to);

//! Folds each Cast(float16/bfloat16 -> float32) whose input is written by a MatMul, Gemm or
//! FusedMatMul on the device and read by nothing else (no other layer, not a graph output, not
//! in `keep`) into that producer, which keeps its name and writes the Cast's output. Producers
//! named in `refused` keep their Casts (the builder's answer when no tactic runs the folded
//! form). `host` (same indices as graph.nodes) and `origin` (when given, likewise) drop the
//! entries of the removed Casts. Returns the number of Casts folded.
int foldCasts(ir::Graph& graph, const std::set<std::string>& keep, const std::set<std::string>& refused,
              std::vector<bool>& host, std::vector<int>* origin = nullptr);

}  // namespace kiln::passes
