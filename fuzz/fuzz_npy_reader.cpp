// libFuzzer target: arbitrary bytes -> the .npy reader of the kiln tool (kiln::tool::readNpy in
// tools/kiln/support.cpp, which `kiln run --input` and `kiln compare --input` use), and for a
// file that reads, writeNpy: what it writes must read back the same.
//
// readNpy takes a path, so each input is written to one fixed file per process (in memory
// where /dev/shm exists; fuzz_input_file.h).
//
// A malformed file must end in kiln::Error, never in a crash, a hang, a sanitizer report or
// any other exception: only kiln::Error is caught here, so anything else reaches libFuzzer
// and is reported as a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_input_file.h"
#include "kiln/errors.h"
#include "support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kiln::fuzz::InputFile input("kiln-fuzz-npy", ".npy");
  static const kiln::fuzz::InputFile output("kiln-fuzz-npy-out", ".npy");
  input.write(data, size);
  kiln::tool::HostTensor tensor;
  try {
    tensor = kiln::tool::readNpy(input.path());
  } catch (const kiln::Error&) {
    return 0;  // the expected outcome for bad input
  }
  // The bytes must be exactly what the type and dims need (a reader that wraps the size around
  // would hand a short buffer to code that trusts the dims).
  uint64_t needed = kiln::elementSize(tensor.type);
  bool bad = false;
  for (int64_t d : tensor.dims) bad = bad || d < 0;
  if (std::find(tensor.dims.begin(), tensor.dims.end(), 0) != tensor.dims.end()) needed = 0;
  for (int64_t d : tensor.dims) bad = bad || __builtin_mul_overflow(needed, static_cast<uint64_t>(d), &needed);
  if (bad || needed != tensor.bytes.size()) {
    std::fprintf(stderr, "fuzz_npy_reader: readNpy gave %zu bytes for %s %s\n", tensor.bytes.size(),
                 std::string(kiln::toString(tensor.type)).c_str(), kiln::toString(tensor.dims).c_str());
    std::abort();
  }
  try {
    kiln::tool::writeNpy(output.path(), tensor);
    kiln::tool::HostTensor again = kiln::tool::readNpy(output.path());
    if (again.type != tensor.type || again.dims != tensor.dims || again.bytes != tensor.bytes) {
      std::fprintf(stderr, "fuzz_npy_reader: readNpy(writeNpy(tensor)) differs from tensor\n");
      std::abort();
    }
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "fuzz_npy_reader: an array the reader accepted does not write and read back: %s\n", e.what());
    std::abort();
  }
  return 0;
}
