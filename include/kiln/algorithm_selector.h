// The algorithm selector: a user object that sees every candidate tactic of every layer and
// decides which ones the builder may choose.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kiln/tactic.h"

namespace kiln {

class AlgorithmSelector {
 public:
  virtual ~AlgorithmSelector() = default;
  //! Called once per layer and profile with every candidate (timed, unless the build does no
  //! timing). Returns the indices into `candidates` that may be chosen. Returning none is a
  //! build error that names the layer.
  virtual std::vector<size_t> selectAlgorithms(const std::string& layer, const std::string& op, int32_t profile,
                                               std::span<const TacticInfo> candidates) = 0;
  //! Told the final choice of each layer (in layer order) for each profile.
  virtual void reportAlgorithms(int32_t profile, std::span<const std::string> layers,
                                std::span<const TacticInfo> choices) {}
};

}  // namespace kiln
