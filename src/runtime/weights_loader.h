// Putting weights into a plan: from a weights file (weight-stripped plans) and by re-running
// the weight program (refit). Also the atomic file write every output uses.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>

#include "plan/plan.h"

namespace kiln::runtime {

//! Tensors of the plan that are model weights the engine reads (directly or through the
//! weight program): their ids.
std::vector<int> neededWeights(const plan::Plan& plan);

//! Fills every needed weight of `plan` from `path` (.onnx or .safetensors), matched by name,
//! type and shape, then recomputes the derived weights. Throws kInvalidArgument naming every
//! missing or mismatched weight; `plan` is unchanged then. Logs how many weights differ from
//! the values the plan already had (that is a refit).
void loadStrippedWeights(plan::Plan& plan, const std::string& path);

//! Re-runs the weight program over `tensors` for the nodes that read any tensor in `changed`
//! (transitively); adds the ids it recomputed to `changed`.
void rerunWeightProgram(const plan::Plan& plan, std::vector<ir::TensorInfo>& tensors, std::vector<bool>& changed);

//! Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
//! failure never leaves a half-written file. Throws kIo naming the path.
void writeFileAtomically(const std::string& path, std::span<const std::byte> bytes);

}  // namespace kiln::runtime
