#!/usr/bin/env bash
# Packs the built programs and the non-CUDA shared libraries they need into dist/ (one
# compressed archive), so they can run on a machine with a GPU but without Debian's packages.
# Usage: scripts/make-dist.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for exe in "$build/kiln" "$build/tests/kiln_unit_tests" "$build/tests/kiln_gpu_tests" "$build"/bench/kiln_*; do
  [ -x "$exe" ] || continue
  cp "$exe" "$stage/bin/"
done
strip "$stage"/bin/* 2>/dev/null || true
# The C API library, for the Python package (KILN_LIBRARY=.../lib/libkiln.so).
[ -f "$build/libkiln.so" ] && cp "$build/libkiln.so" "$stage/lib/" && strip --strip-unneeded "$stage/lib/libkiln.so"
# Shared libraries from Debian packages (protobuf, OpenBLAS and what they pull in); CUDA's
# own libraries are expected on the target.
for lib in $(ldd "$build/kiln" | awk '/=> \// {print $3}' | grep -E 'libprotobuf|libopenblas|libgfortran|libquadmath'); do
  cp -L "$lib" "$stage/lib/"
done
mkdir -p "$root/dist"
tar -C "$stage" -cJf "$root/dist/kiln-dist.tar.xz" bin lib
ls -la "$root/dist/kiln-dist.tar.xz"
