#!/usr/bin/env bash
# Quick start: installs the build dependencies, builds kiln (Release) and runs the bundled
# example model (examples/tiny_cnn.onnx, a small CNN classifier): kiln builds an engine for
# this machine (the GPU when there is one, else the CPU), runs it and prints a summary with
# timings.
#   KILN_BUILD_DIR  build folder (default: build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${KILN_BUILD_DIR:-build}

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --target kiln_tool -j"$(nproc)"
"$build_dir/kiln" run examples/tiny_cnn.onnx
