// libFuzzer target: arbitrary bytes -> kiln::onnx::importBytes.
//
// A malformed model must end in kiln::Error, never in a crash, a hang, a sanitizer report or
// any other exception: only kiln::Error is caught here, so anything else reaches libFuzzer
// and is reported as a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include <google/protobuf/stubs/logging.h>

#include "kiln/errors.h"
#include "onnx/importer.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // protobuf logs every string field with invalid UTF-8; mutated inputs are full of them.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    // No base folder: a model that asks for external data must be refused, not read.
    kiln::ir::Graph graph = kiln::onnx::importBytes(bytes, /*base_dir=*/{}, "fuzz-input");
    (void)graph;
  } catch (const kiln::Error&) {
    // The expected outcome for bad input.
  }
  return 0;
}
