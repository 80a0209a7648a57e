#!/usr/bin/env bash
# Everything CI checks, from a fresh clone: installs the dependencies, builds kiln and its
# tests (Release, warnings are errors), runs every test (the gpu-labelled ones skip without a
# GPU; the conformance test runs the ONNX operator test cases), then builds the ONNX import
# fuzzer with clang (its own build folder: sanitizers, no CUDA) and runs it for a minute.
#   KILN_BUILD_DIR       main build folder (default: build)
#   KILN_FUZZ_BUILD_DIR  fuzzer build folder (default: build-fuzz)
#   KILN_FUZZ_RUNS       fuzzer iterations (default: 500000, about half a minute; 0 skips the fuzzer).
#                        The seed is fixed, so a run is reproducible: CI fuzzes exactly what was
#                        fuzzed before the change landed. Fuzz longer by hand with other seeds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${KILN_BUILD_DIR:-build}
fuzz_dir=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
fuzz_runs=${KILN_FUZZ_RUNS:-500000}
jobs=$(nproc)

bash scripts/install-deps.sh

echo "=== build ($build_dir)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKILN_WERROR=ON -DKILN_BUILD_TESTS=ON
cmake --build "$build_dir" -j"$jobs"

echo "=== test"
# gpu-labelled tests skip themselves when no GPU is present, so one run covers all labels.
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs"

if [ "$fuzz_runs" -gt 0 ]; then
  echo "=== fuzz ($fuzz_dir, $fuzz_runs runs)"
  # -O1 with line tables: the usual fuzzing trade-off (fast to build, readable stacks, asserts on).
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$fuzz_dir" -DKILN_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DKILN_CUDA=OFF -DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF
  cmake --build "$fuzz_dir" --target fuzz_onnx_import -j"$jobs"
  # New inputs go to the first (scratch) corpus folder, emptied first so that the run depends
  # only on the committed seeds in fuzz/corpus and the fixed -seed.
  rm -rf "$fuzz_dir/corpus" && mkdir -p "$fuzz_dir/corpus"
  "$fuzz_dir/fuzz/fuzz_onnx_import" -seed=1 -runs="$fuzz_runs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$fuzz_dir/" -print_final_stats=1 "$fuzz_dir/corpus" fuzz/corpus
fi
echo "=== all checks passed"
