// Reading ONNX models into a Network.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "kiln/network.h"

namespace kiln {

class OnnxParser {
 public:
  //! Opsets of the ai.onnx domain kiln reads.
  static constexpr int32_t kMinOpset = 7;
  static constexpr int32_t kMaxOpset = 28;

  //! Parses the model at `path` (external data is read from its folder and may not leave
  //! it). Throws kiln::Error: kIo, kInvalidModel, or kUnsupported listing every unsupported
  //! operator at once.
  static Network parseFile(const std::string& path);

  //! Parses a model held in memory; external data is not allowed.
  static Network parse(std::span<const std::byte> model, const std::string& display_name = "model");
};

}  // namespace kiln
