// libFuzzer target: arbitrary bytes -> the .safetensors reader (kiln::readWeightsFile,
// src/runtime/weights_file.cpp: refit and weight-stripped plans take their weights from it),
// and for a file that reads, kiln::writeSafetensors: what it writes must read back the same.
//
// readWeightsFile takes a path (and goes by its extension), so each input is written to one
// fixed .safetensors file per process (in memory where /dev/shm exists; fuzz_input_file.h).
//
// A malformed file must end in kiln::Error, never in a crash, a hang, a sanitizer report or
// any other exception: only kiln::Error is caught here, so anything else reaches libFuzzer
// and is reported as a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "fuzz_input_file.h"
#include "kiln/errors.h"
#include "kiln/refitter.h"
#include "runtime/weights_file.h"

namespace {

bool same(const std::map<std::string, kiln::NamedWeight>& a, const std::map<std::string, kiln::NamedWeight>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
    if (i->first != j->first || i->second.type != j->second.type || i->second.dims != j->second.dims ||
        i->second.values != j->second.values)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kiln::fuzz::InputFile input("kiln-fuzz-safetensors", ".safetensors");
  static const kiln::fuzz::InputFile output("kiln-fuzz-safetensors-out", ".safetensors");
  input.write(data, size);
  std::map<std::string, kiln::NamedWeight> weights;
  try {
    weights = kiln::readWeightsFile(input.path());
  } catch (const kiln::Error&) {
    return 0;  // the expected outcome for bad input
  }
  try {
    kiln::writeSafetensors(output.path(), weights);
    if (!same(kiln::readWeightsFile(output.path()), weights)) {
      std::fprintf(stderr, "fuzz_safetensors_reader: readWeightsFile(writeSafetensors(weights)) differs\n");
      std::abort();
    }
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "fuzz_safetensors_reader: weights the reader accepted do not write and read back: %s\n",
                 e.what());
    std::abort();
  }
  return 0;
}
