// The ONNX conformance runner: every test case (model.onnx + test_data_set_*/) under the given
// folders is imported, run on the CPU reference backend and compared with its expected
// outputs. Cases that need an unsupported operator, attribute or type count as unsupported.
#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/types.h"

namespace kiln::conformance {

enum class Outcome { kPassed, kFailed, kUnsupported };

struct CaseResult {
  std::string name;    //!< the case's folder name
  std::string op;      //!< operator(s) of the case, e.g. "Conv" or "Cast+Reshape"
  Outcome outcome = Outcome::kPassed;
  std::string detail;  //!< why it failed or is unsupported
};

struct Options {
  std::vector<std::filesystem::path> roots;
  std::string filter;  //!< ECMAScript regex on the case name; empty = all
  double rtol = 1e-3;  //!< the ONNX backend-test tolerances
  double atol = 1e-7;
  //! false: the reference backend (the oracle) runs each case. true: each case is built into
  //! an engine for `device` through the public API (timed tactics) and run; a layer with no
  //! tactic there makes the case unsupported on that device.
  bool engine = false;
  DeviceKind device = DeviceKind::kCPU;
};

struct Summary {
  std::vector<CaseResult> cases;
  int passed = 0;
  int failed = 0;
  int unsupported = 0;
};

//! Finds and runs the cases. Never throws for a bad case (it becomes a failure).
Summary run(const Options& options);

//! The table by operator; verbose adds one line per failed or unsupported case.
void printReport(const Summary& summary, std::ostream& out, bool verbose);

}  // namespace kiln::conformance
