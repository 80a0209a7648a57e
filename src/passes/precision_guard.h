// The precision guard: with a reduced-precision build, the network is run on the CPU
// reference backend in float32 and in the reduced precision on sample inputs, and every layer
// whose reduced output overflows, underflows where float32 is non-zero, or strays past the
// tolerance from float32 (while its inputs did not) is pinned to float32; then it is checked
// again, until the outputs agree. The reference computes in float32/float64 and stores float16
// and bfloat16 values, so it shows where the range and rounding of the reduced type break.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace kiln::passes {

struct PinnedLayer {
  std::string layer;
  std::string reason;
};

struct PrecisionGuardOptions {
  double tolerance = 1e-2;  //!< relative L2 error of a tensor against float32
  int max_rounds = 16;      //!< reference runs of the reduced network at most
  //! Nodes the guard must not pin (a precision the user asked to obey).
  std::vector<bool> fixed;
};

struct PrecisionGuardResult {
  std::vector<PinnedLayer> pinned;
  bool agrees = false;       //!< the outputs agree within the tolerance at the end
  double output_error = 0;   //!< the largest relative L2 error of an output at the end
  int rounds = 0;
};

//! `graph` is the network before precision conversion, `host` its host-layer marks and
//! `precision` each node's planned precision (see convertFloatPrecision); pinned layers get
//! kFLOAT there. `inputs` are the sample inputs by name.
PrecisionGuardResult guardPrecision(const ir::Graph& graph, const std::vector<bool>& host,
                                    std::vector<DataType>& precision, const std::map<std::string, ir::Tensor>& inputs,
                                    const PrecisionGuardOptions& options);

}  // namespace kiln::passes
