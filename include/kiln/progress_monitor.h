// Seeing a build progress, and cancelling it.
#pragma once

#include <cstdint>
#include <string>

namespace kiln {

class ProgressMonitor {
 public:
  virtual ~ProgressMonitor() = default;
  //! Called as each layer of each profile is done: `done` of `total` layers (over all
  //! profiles), `layer` is the one just finished. Return false to cancel the build: it then
  //! throws kiln::Error(kCancelled) and writes nothing.
  virtual bool layerDone(int32_t done, int32_t total, const std::string& layer) = 0;
};

}  // namespace kiln
