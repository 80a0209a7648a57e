#!/usr/bin/env bash
# Everything that needs a GPU, in one run: the GPU tests, conformance on GPU engines, ResNet-50
# and BERT-base against PyTorch (FP32 with TF32 off, and FP16), and the speed comparison.
# Usage (from the repository root of a machine with a GPU, PyTorch, torchvision and
# transformers, with dist/kiln-dist.tar.xz from scripts/make-dist.sh; ONNX node test cases
# are read from testdata/testdata.tar.xz when present):
#   bench/gpu_suite.sh OUT_DIR [tests] [conformance] [models] [speed]
set -uo pipefail
out=${1:?output folder}; shift
steps=${*:-tests conformance models}
root=$(pwd)
k=/tmp/kiln-dist
mkdir -p "$k" "$out"
tar -C "$k" -xJf dist/kiln-dist.tar.xz
export LD_LIBRARY_PATH=$k/lib:${LD_LIBRARY_PATH:-} PATH=$k/bin:$PATH PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
has() { [[ " $steps " == *" $1 "* ]]; }

if has tests; then
  timeout 300 kiln_gpu_tests > "$out/gpu_tests.log" 2>&1
  echo "gpu tests: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test' "$out/gpu_tests.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \] [A-Za-z]' "$out/gpu_tests.log" | sort -u | head -30
fi
if has conformance && [ -f testdata/testdata.tar.xz ]; then
  mkdir -p /tmp/td && tar -C /tmp/td -xJf testdata/testdata.tar.xz
  timeout 300 kiln conformance /tmp/td/node --device gpu > "$out/conformance_gpu.log" 2>&1
  grep -E 'FAILED|^conformance:' "$out/conformance_gpu.log" | head -30
fi
if has models; then
  m=/tmp/kiln-models
  timeout 400 python3 bench/models.py "$m" > "$out/export.log" 2>&1 || tail -20 "$out/export.log"
  for model in resnet50 bert; do
    [ -f "$m/$model/model.onnx" ] || continue
    inputs=()
    for f in "$m/$model"/input_*.npy; do n=$(basename "$f" .npy); inputs+=(--input "${n#input_}=$f"); done
    timeout 300 kiln run "$m/$model/model.onnx" "${inputs[@]}" --output-dir "$m/$model/fp32" -q \
      && python3 bench/compare_outputs.py "$m/$model" "$m/$model/fp32" 1e-3
    shapes=""
    for f in "$m/$model"/input_*.npy; do
      n=$(basename "$f" .npy); n=${n#input_}
      d=$(python3 -c "import numpy,sys; print('x'.join(map(str, numpy.load(sys.argv[1]).shape)))" "$f")
      shapes+="${shapes:+;}$n:$d,$d,$d"
    done
    timeout 300 kiln build "$m/$model/model.onnx" -o "$m/$model/fp16.plan" --fp16 --profile "$shapes" -q \
      && timeout 120 kiln run "$m/$model/fp16.plan" "${inputs[@]}" --output-dir "$m/$model/fp16" -q \
      && python3 bench/compare_outputs.py "$m/$model" "$m/$model/fp16" 1e-2
  done
fi
if has speed; then
  [ -f /tmp/kiln-models/bert/model.onnx ] || timeout 400 python3 bench/models.py /tmp/kiln-models > "$out/export.log" 2>&1
  timeout 540 python3 bench/speed.py /tmp/kiln-models "$k/bin/kiln" ${KILN_SPEED_ARGS:-} 2>&1 | grep -v Warning | tail -12
fi
