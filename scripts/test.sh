#!/usr/bin/env bash
# Everything CI checks, from a fresh clone: installs the dependencies, builds kiln and its
# tests (Release, warnings are errors), runs every test (the gpu-labelled ones skip without a
# GPU; the conformance test runs the ONNX operator test cases), then builds the five libFuzzer
# targets with clang (their own build folder: sanitizers, no CUDA), one per file reader: ONNX
# models, plans, timing caches, .npy and .safetensors files, and runs each from its seeds.
#   KILN_BUILD_DIR        main build folder (default: build)
#   KILN_FUZZ_BUILD_DIR   fuzzer build folder (default: build-fuzz)
#   KILN_FUZZ_RUNS        ONNX import fuzzer iterations (default: 500000, about half a minute;
#                         0 skips all fuzzing).
#   KILN_FUZZ_READER_RUNS iterations of each of the other four (default: 80000; all four
#                         together take about 50 s on 2 cores).
# The seed is fixed, so a run is reproducible: CI fuzzes exactly what was fuzzed before the
# change landed. Fuzz longer by hand with other seeds (fuzz/CMakeLists.txt says how).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${KILN_BUILD_DIR:-build}
fuzz_dir=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
fuzz_runs=${KILN_FUZZ_RUNS:-500000}
reader_runs=${KILN_FUZZ_READER_RUNS:-80000}
jobs=$(nproc)

bash scripts/install-deps.sh

echo "=== build ($build_dir)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKILN_WERROR=ON -DKILN_BUILD_TESTS=ON
cmake --build "$build_dir" -j"$jobs"

echo "=== test"
# gpu-labelled tests skip themselves when no GPU is present, so one run covers all labels.
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs"

if [ "$fuzz_runs" -gt 0 ]; then
  echo "=== fuzz ($fuzz_dir)"
  # -O1 with line tables: the usual fuzzing trade-off (fast to build, readable stacks, asserts on).
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$fuzz_dir" -DKILN_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DKILN_CUDA=OFF -DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF
  cmake --build "$fuzz_dir" --target kiln_fuzzers -j"$jobs"
  # fuzz TARGET SEEDS RUNS: new inputs go to the first (scratch) corpus folder, emptied first so
  # that the run depends only on the committed seeds and the fixed -seed.
  fuzz() {
    local target=$1 seeds=$2 runs=$3 scratch="$fuzz_dir/corpus/$1"
    echo "--- $target ($runs runs, seeds in $seeds)"
    rm -rf "$scratch" && mkdir -p "$scratch"
    "$fuzz_dir/fuzz/$target" -seed=1 -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$fuzz_dir/$target-" -print_final_stats=1 "$scratch" "$seeds"
  }
  fuzz fuzz_onnx_import fuzz/corpus "$fuzz_runs"
  fuzz fuzz_plan_reader fuzz/corpus_plan "$reader_runs"
  fuzz fuzz_timing_cache_reader fuzz/corpus_cache "$reader_runs"
  fuzz fuzz_npy_reader fuzz/corpus_npy "$reader_runs"
  fuzz fuzz_safetensors_reader fuzz/corpus_safetensors "$reader_runs"
fi
echo "=== all checks passed"
