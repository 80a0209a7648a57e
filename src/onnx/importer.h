// ONNX protobuf -> Network IR. Reads .onnx files (and their external-data files), checks the
// opset, converts every node into its canonical form (OpSchema::normalize), and runs shape
// inference with constant folding. Every error names the file and the node or tensor.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

// Opsets 22 to 28 add versions of kiln's operators that only widen their types (bfloat16 in
// 22; int4, float4, float8 and int2 in 23 to 25, which the importer refuses as element types),
// reword them (Dropout-22, Squeeze/Unsqueeze-23; MaxPool/AveragePool-22 state that a window
// starting in the right padding is dropped, which the window rule already does) or add an
// attribute that matters only for types kiln refuses (Cast-24's round_mode for float8e8m0,
// Range-27's stash_type for float16/bfloat16). So each operator keeps one schema for all of them.
// Opsets 7 to 10 hold older forms that the operators' normalize steps rewrite (Upsample and
// Resize-10 into Resize, Scatter into ScatterElements, attributes that later became inputs
// for Slice-1, Pad-2, Clip-6 and TopK-1, BatchNormalization-7's spatial) or refuse naming the
// op and version (BatchNormalization-7 with spatial=0, Dropout-7's mask of the input's type).
constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 28;

struct ImportOptions {
  bool fold_constants = true;
};

//! Imports the model at `path`. External data is read relative to the model's folder and
//! may not leave it.
ir::Graph importFile(const std::filesystem::path& path, const ImportOptions& options = {});

//! Imports a model from memory; `base_dir` is where external data lives ("" = none allowed);
//! `display_name` names the model in errors.
ir::Graph importBytes(std::span<const std::byte> bytes, const std::filesystem::path& base_dir,
                      const std::string& display_name, const ImportOptions& options = {});

//! Reads one serialized TensorProto (the ONNX test-data format).
ir::Tensor readTensorFile(const std::filesystem::path& path);

//! Reads a whole file; throws kIo naming it.
std::vector<std::byte> readFileBytes(const std::filesystem::path& path);

}  // namespace kiln::onnx
