#!/usr/bin/env bash
# Everything that needs a GPU, in one run: the GPU tests, conformance on GPU engines, ResNet-50
# and BERT-base against PyTorch (FP32 with TF32 off, and FP16), and the speed comparison.
# Usage (from the repository root of a machine with a GPU, PyTorch, torchvision and
# transformers, with dist/kiln-dist.tar.xz from scripts/make-dist.sh; ONNX node test cases
# are read from tests/data/onnx-node/ and, for Debian's older suite, testdata/testdata.tar.xz
# when present):
#   bench/gpu_suite.sh OUT_DIR [tests] [conformance] [models] [speed] [layers] [profiles] [contexts] [guard]
# profiles: ResNet-50 built for batches 1..8..32 (FP16 and FP32), run at 1, 8, 13 and 32.
# contexts: `kiln bench --contexts N --cuda-graph` on ResNet-50 FP16 at batch 1, N = 1 2 4 8
# (one engine, one stream per context), as a throughput table.
# guard: ResNet-50 FP16 with and without the precision guard on inputs uniform in [0, 1) and
# [0, 255) (raw pixels), against ONNX Runtime in FP32 (bench/precision_guard.py).
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
if has conformance; then
  # The current ONNX release's node cases (in the repository), and Debian's older suite when
  # testdata/testdata.tar.xz holds it. Every case's line goes to the log (-v).
  mkdir -p /tmp/td/current && tar -C /tmp/td/current -xJf tests/data/onnx-node/onnx-node-cases.tar.xz
  timeout 400 kiln conformance /tmp/td/current --device gpu -v > "$out/conformance_gpu_current.log" 2>&1
  echo "current suite, GPU engines: $(grep -E '^conformance:' "$out/conformance_gpu_current.log")"
  grep -E '^FAILED|^failed' "$out/conformance_gpu_current.log" | head -30
  if [ -f testdata/testdata.tar.xz ]; then
    tar -C /tmp/td -xJf testdata/testdata.tar.xz
    timeout 300 kiln conformance /tmp/td/node --device gpu -v > "$out/conformance_gpu_debian.log" 2>&1
    echo "Debian suite, GPU engines: $(grep -E '^conformance:' "$out/conformance_gpu_debian.log")"
    grep -E '^FAILED|^failed' "$out/conformance_gpu_debian.log" | head -30
  fi
fi
if has models; then
  m=/tmp/kiln-models
  # KILN_MODELS picks some of them (default: all four).
  models=${KILN_MODELS:-resnet50 mobilenetv2 bert gpt2}
  timeout 400 python3 bench/models.py "$m" $models > "$out/export.log" 2>&1 || tail -20 "$out/export.log"
  for model in $models; do
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
if has profiles || has contexts; then
  r=/tmp/kiln-models/resnet50
  [ -f "$r/model.onnx" ] || timeout 400 python3 bench/models.py /tmp/kiln-models resnet50 > "$out/export.log" 2>&1
  range='image:1x3x224x224,8x3x224x224,32x3x224x224'
  for prec in fp16 fp32; do
    flag=$([ $prec = fp16 ] && echo --fp16)
    timeout 400 kiln build "$r/model.onnx" -o "$r/range_$prec.plan" $flag --profile "$range" \
      --report "/tmp/kiln-build-range-$prec.json" -q || { echo "profiles: $prec build failed"; continue; }
    has profiles || break
    for b in 1 8 13 32; do
      if timeout 120 kiln run "$r/range_$prec.plan" --shapes "image:${b}x3x224x224" -q > /tmp/kiln-run.log 2>&1; then
        echo "profiles: $prec batch $b runs"
      else
        echo "profiles: $prec batch $b FAILED: $(tail -1 /tmp/kiln-run.log)"
      fi
    done
  done
  python3 - /tmp/kiln-build-range-*.json <<'PY' 2>/dev/null
import json, sys
for path in sys.argv[1:]:
    rejected = [(l["name"], c["tactic"], c["rejected"]) for l in json.load(open(path))["layers"]
                for c in l["candidates"] if "rejected" in c]
    print(f"profiles: {path.split('/')[-1]}: {len(rejected)} chosen tactics rejected over the range")
    for name, tactic, why in rejected[:3]:
        print(f"  {name}: {tactic}: {why[:300]}")
PY
fi
if has contexts && [ -f /tmp/kiln-models/resnet50/range_fp16.plan ]; then
  # Results stay in /tmp (the output folder keeps only the logs); the table is printed.
  for graph in --cuda-graph ""; do
    echo "contexts (ResNet-50 FP16, batch 1, ${graph:-no CUDA graphs}, one stream each):"
    for n in 1 2 4 8; do
      j=/tmp/kiln-contexts-$n${graph:+-graph}.json
      timeout 120 kiln bench /tmp/kiln-models/resnet50/range_fp16.plan --shapes image:1x3x224x224 --contexts $n \
        $graph --duration 4 --json "$j" -q > /tmp/kiln-contexts.log 2>&1 \
        || { echo "  $n contexts FAILED: $(tail -1 /tmp/kiln-contexts.log)"; continue; }
      python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(f'  {sys.argv[2]} contexts: {j[\"throughput_qps\"]:.0f} inferences/s, compute median {j[\"compute_ms\"][\"median\"]:.3f} ms')" "$j" $n
    done
  done
fi
if has guard; then
  r=/tmp/kiln-models/resnet50
  [ -f "$r/model.onnx" ] || timeout 400 python3 bench/models.py /tmp/kiln-models resnet50 > "$out/export.log" 2>&1
  echo "precision guard (ResNet-50 FP16 vs ONNX Runtime FP32, batch 1):"
  timeout 500 python3 bench/precision_guard.py "$r/model.onnx" image "$k/bin/kiln" ${KILN_GUARD_SCALES:-1 255}
fi
if has speed; then
  # KILN_COMMIT names the commit in the table written to $out/speed.md (for bench/RESULTS.md).
  # Only the models that KILN_SPEED_ARGS's --only names (all of them without --only).
  for model in resnet50 mobilenetv2 bert gpt2; do
    [[ "${KILN_SPEED_ARGS:-}" != *--only* || "${KILN_SPEED_ARGS:-}" == *"$model:"* ]] || continue
    [ -f /tmp/kiln-models/$model/model.onnx ] || timeout 400 python3 bench/models.py /tmp/kiln-models $model >> "$out/export.log" 2>&1
  done
  timeout 580 python3 bench/speed.py /tmp/kiln-models "$k/bin/kiln" --markdown "$out/speed.md" --commit "${KILN_COMMIT:-?}" \
    ${KILN_SPEED_ARGS:-} 2>&1 | grep -v Warning | tail -12
fi
if has layers; then
  # Per-layer times of the engines the speed step built at their largest batch (FP16, CUDA graphs off).
  for plan in bert_b32 gpt2_b16 resnet50_b128 mobilenetv2_b32; do
    p=/tmp/kiln-models/speed/$plan.plan
    [ -f "$p" ] || continue
    b=${plan#*_b}
    case ${plan%%_*} in
      bert) shapes="input_ids:${b}x128,attention_mask:${b}x128" ;;
      gpt2) shapes="input_ids:${b}x128" ;;
      *) shapes="image:${b}x3x224x224" ;;
    esac
    timeout 120 kiln bench "$p" --shapes "$shapes" --layer-times --iterations 50 > "$out/layers_$plan.log" 2>&1
    echo "layer times $plan: $(grep -c . "$out/layers_$plan.log") lines"
  done
fi
