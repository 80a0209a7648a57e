// The per-layer profiler: attached to an execution context on request.
#pragma once

#include <string_view>

#include "kiln/tactic.h"

namespace kiln {

class Profiler {
 public:
  virtual ~Profiler() = default;
  //! Called after each run (for asynchronous GPU runs: when the context is synchronized or
  //! the next run begins) with each layer's time in milliseconds, in layer order.
  virtual void reportLayerTime(std::string_view layer, std::string_view tactic, TacticSource source, float ms) = 0;
};

}  // namespace kiln
