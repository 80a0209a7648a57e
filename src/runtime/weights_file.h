// Weight files (the other half of kiln::readWeightsFile in kiln/refitter.h): writing
// safetensors, for tests and tools that need to make weight files.
#pragma once

#include <map>
#include <string>

#include "kiln/refitter.h"

namespace kiln {

//! Writes `weights` as a .safetensors file (header keys sorted by name, tensors in that order,
//! header padded to 8 bytes). Throws kInvalidArgument naming the weight if its value size
//! does not match its type and dims, kUnsupported for a type safetensors cannot name
//! (none today), kIo if the file cannot be written.
void writeSafetensors(const std::string& path, const std::map<std::string, NamedWeight>& weights);

}  // namespace kiln
