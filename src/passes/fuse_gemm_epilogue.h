// MatMul / Gemm with a constant 2-D weight, followed by a bias Add, an activation (Relu,
// Gelu, or the erf / tanh GELU formulas as exporters write them) and a residual Add, becomes
// one FusedMatMul layer (domain "kiln", see src/ir/ops/fused_matmul.cpp). GPT-2's
// Reshape -> Gemm -> Reshape sandwich folds into the same layer.
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

//! Fuses every MatMul/Gemm whose epilogue it can absorb; each absorbed intermediate has one
//! use, is not a graph output and is not in `keep`. The fused layer reads the original
//! weights (a bias that needs reshaping or scaling goes through the weight program, so refit
//! replays it). Returns the number of fused layers made.
int fuseGemmEpilogue(ir::Graph& graph, const std::set<std::string>& keep);

}  // namespace kiln::passes
