// libFuzzer target: arbitrary bytes -> kiln::plan::deserialize, then, for a plan that reads,
// what the runtime does with it: kiln::Engine::deserialize (on the CPU backend: constants
// uploaded, every layer's tactic instantiated; a weight-stripped plan gets its weights from
// examples/tiny_cnn.onnx), an execution context per profile with its inputs at their opt
// shapes (not run), and the plan writer (what it writes must read back the same).
//
// Every byte of a plan is covered by a checksum, so almost every mutation would stop at the
// checksum test. The target therefore reads each input twice: as it is (which exercises the
// checksum tests themselves) and with every checksum the section table lets it find
// recomputed (which takes mutations through to the section parsers and the runtime).
//
// A malformed plan must end in kiln::Error, never in a crash, a hang, a sanitizer report or
// any other exception: only kiln::Error is caught here, so anything else reaches libFuzzer
// and is reported as a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/context.h"
#include "kiln/engine.h"
#include "kiln/errors.h"
#include "plan/byte_io.h"
#include "plan/plan_format.h"

namespace {

uint32_t readU32(const std::vector<std::byte>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
uint64_t readU64(const std::vector<std::byte>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
void writeU64(std::vector<std::byte>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, sizeof v); }

// The input with its section checksums and header checksum recomputed, as far as the layout
// (see plan_format.cpp) can be followed; the rest is left as it is.
std::vector<std::byte> withChecksumsFixed(std::span<const std::byte> in) {
  std::vector<std::byte> b(in.begin(), in.end());
  size_t pos = 12;  // magic, format version
  if (b.size() < pos + 4) return b;
  uint64_t header_size = readU32(b, pos);
  pos += 4;
  if (header_size > b.size() - pos || b.size() - pos - header_size < 4) return b;
  pos += header_size;
  uint64_t count = readU32(b, pos);
  pos += 4;
  constexpr size_t kEntryBytes = 4 + 8 + 8 + 8;
  if (count > (b.size() - pos) / kEntryBytes) return b;
  for (uint64_t i = 0; i < count; ++i, pos += kEntryBytes) {
    uint64_t offset = readU64(b, pos + 4);
    uint64_t size = readU64(b, pos + 12);
    if (offset <= b.size() && size <= b.size() - offset)
      writeU64(b, pos + 20, kiln::plan::checksum64(std::span<const std::byte>(b).subspan(offset, size)));
  }
  if (b.size() - pos >= 8) writeU64(b, pos, kiln::plan::checksum64(std::span<const std::byte>(b).first(pos)));
  return b;
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_plan_reader: %s\n", what);
  std::abort();
}

void readPlan(std::span<const std::byte> bytes) {
  kiln::plan::Plan plan;
  try {
    plan = kiln::plan::deserialize(bytes, "fuzz-input");
  } catch (const kiln::Error&) {
    return;  // the expected outcome for bad input
  }
  // What the writer makes of a plan the reader accepted must read back, and be written again
  // byte for byte the same.
  std::vector<std::byte> written = kiln::plan::serialize(plan);
  kiln::plan::Plan again;
  try {
    again = kiln::plan::deserialize(written, "rewritten fuzz-input");
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a plan the reader accepted does not read back after serialize");
  }
  if (kiln::plan::serialize(again) != written) finding("serialize(deserialize(serialize(plan))) differs");

  try {
    // A weight-stripped plan takes its weights from a model, as `kiln run --weights` does:
    // tiny_cnn's, which the stripped seed was built from (so the weight program runs too).
    kiln::WeightsSource weights;
    if (plan.header.weights_stripped) weights.path = KILN_FUZZ_STRIPPED_WEIGHTS;
    kiln::Engine engine = kiln::Engine::deserialize(bytes, weights);
    (void)engine.layers();
    (void)engine.compatibility();
    for (int32_t i = 0; i < engine.numIOTensors(); ++i) (void)engine.tensorShape(engine.ioTensorName(i));
    // What `kiln run` does next, short of running: a context per profile (with caller-managed
    // memory, so that nothing is allocated for the plan's activation sizes), every input at
    // the profile's opt shape, the output shapes and memory size that follow.
    for (int32_t p = 0; p < engine.numOptimizationProfiles(); ++p) {
      std::unique_ptr<kiln::ExecutionContext> context = engine.createExecutionContext(kiln::ContextMemory::kUSER_MANAGED);
      context->setOptimizationProfile(p);
      for (int32_t i = 0; i < engine.numIOTensors(); ++i) {
        std::string name = engine.ioTensorName(i);
        if (engine.tensorIOMode(name) == kiln::TensorIOMode::kINPUT) context->setInputShape(name, engine.profileDims(name, p).opt);
      }
      for (int32_t i = 0; i < engine.numIOTensors(); ++i) (void)context->tensorShape(engine.ioTensorName(i));
      (void)context->requiredMemorySize();
    }
  } catch (const kiln::Error&) {
    // A plan for the GPU, another architecture, weight-stripped, or inconsistent.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  std::vector<std::byte> fixed = withChecksumsFixed(bytes);
  if (!std::equal(fixed.begin(), fixed.end(), bytes.begin())) readPlan(bytes);
  readPlan(fixed);
  return 0;
}
