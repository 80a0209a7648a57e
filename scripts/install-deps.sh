#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build and test kiln. Idempotent: packages
# already installed are skipped, and nothing runs apt-get when all are present.
#
# The CUDA toolkit is not installed here: kiln's CUDA backend is built when nvcc is found
# (/usr/local/cuda/bin/nvcc or on PATH); without it kiln builds and tests on the CPU only.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git
  protobuf-compiler libprotobuf-dev
  libopenblas-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-testdata         # ONNX operator test cases: the conformance ctest
  clang-14 libclang-rt-14-dev  # libFuzzer + sanitizers for fuzz/
  python3
  python3-numpy python3-pytest  # the Python package's tests (ctest -L python)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
