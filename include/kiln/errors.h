// The one error type of kiln. Every public function reports failure by throwing kiln::Error;
// the message names the file, node, tensor, profile or tactic concerned.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kiln {

enum class ErrorCode : int32_t {
  kInvalidArgument = 1,  //!< a value the caller passed is out of range or inconsistent
  kInvalidModel = 2,     //!< the ONNX model is broken (parse error, missing tensor, bad shape)
  kUnsupported = 3,      //!< valid input that kiln does not implement (operator, opset, type)
  kInvalidPlan = 4,      //!< a plan file is damaged, from a newer format or another device
  kInvalidCache = 5,     //!< a timing cache file is damaged
  kIo = 6,               //!< a file could not be read or written
  kBuildFailed = 7,      //!< no valid tactic, denied tactics, workspace too small
  kCancelled = 8,        //!< the progress monitor cancelled the build
  kRuntime = 9,          //!< a failure while running (device error, bad binding)
  kInternal = 10,        //!< a bug in kiln
};

std::string_view toString(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace kiln
