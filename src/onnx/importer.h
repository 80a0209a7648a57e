// ONNX protobuf -> Network IR. Reads .onnx files (and their external-data files), checks the
// opset, converts every node into its canonical form (OpSchema::normalize), and runs shape
// inference with constant folding. Every error names the file and the node or tensor.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

constexpr int kMinOpset = 11;
constexpr int kMaxOpset = 21;

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
