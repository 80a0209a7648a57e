#!/usr/bin/env python3
"""kiln against PyTorch on the same GPU, in the same run: median compute time (CUDA events)
of FP16 inference for ResNet-50 and BERT-base at two batch sizes each.
    python3 bench/speed.py MODELS_DIR KILN_BINARY [--no-compile]
MODELS_DIR is what bench/models.py wrote. Prints one row per configuration with the ratios
kiln / eager and kiln / torch.compile (below 1 means kiln is faster)."""
import json
import os
import subprocess
import sys
import time

import torch

ITERATIONS = 100


def torch_time(fn, args):
    with torch.no_grad():
        for _ in range(10):
            fn(*args)
        torch.cuda.synchronize()
        times = []
        for _ in range(ITERATIONS):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn(*args)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


def kiln_time(kiln, onnx_path, shapes, workdir, tag):
    plan = os.path.join(workdir, f"{tag}.plan")
    profile = ";".join(f"{n}:{d},{d},{d}" for n, d in shapes.items())
    t0 = time.time()
    subprocess.run([kiln, "build", onnx_path, "-o", plan, "--fp16", "--profile", profile, "-q"], check=True,
                   timeout=240)
    build_s = time.time() - t0
    out = os.path.join(workdir, f"{tag}.json")
    shape_arg = ",".join(f"{n}:{d}" for n, d in shapes.items())
    subprocess.run([kiln, "bench", plan, "--shapes", shape_arg, "--cuda-graph", "--iterations", str(ITERATIONS),
                    "--json", out, "-q"], check=True, timeout=120)
    with open(out) as f:
        report = json.load(f)
    # PyTorch's time is compute on inputs already on the GPU; compare kiln's compute phase.
    return float(report["compute_ms"]["median"]), build_s


def main():
    models, kiln = sys.argv[1], sys.argv[2]
    compile_too = "--no-compile" not in sys.argv
    workdir = os.path.join(models, "speed")
    os.makedirs(workdir, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    rows = []
    import torchvision
    from transformers import BertConfig, BertModel

    configs = [("resnet50", 1), ("resnet50", 128), ("bert", 1), ("bert", 32)]
    for arg in sys.argv[3:]:
        if arg.startswith("--only="):  # e.g. --only=resnet50:128,bert:32
            configs = [(c.split(":")[0], int(c.split(":")[1])) for c in arg[len("--only="):].split(",")]
    for name, batch in configs:
        if name == "resnet50":
            model = torchvision.models.resnet50(weights=None).eval().half().cuda().to(memory_format=torch.channels_last)
            args = (torch.randn(batch, 3, 224, 224, device="cuda").half().to(memory_format=torch.channels_last),)
            shapes = {"image": f"{batch}x3x224x224"}
        else:
            model = BertModel(BertConfig()).eval().half().cuda()
            args = (torch.randint(0, 30522, (batch, 128), device="cuda"), torch.ones(batch, 128, dtype=torch.int64, device="cuda"))
            shapes = {"input_ids": f"{batch}x128", "attention_mask": f"{batch}x128"}
        eager = torch_time(model, args)
        compiled = None
        if compile_too:
            cmodel = torch.compile(model, mode="reduce-overhead")
            compiled = torch_time(cmodel, args)
        try:
            k, build_s = kiln_time(kiln, os.path.join(models, name, "model.onnx"), shapes, workdir, f"{name}_b{batch}")
        except Exception as e:  # report, keep going
            print(f"{name} b{batch}: kiln failed: {e}", flush=True)
            k, build_s = float("nan"), float("nan")
        row = dict(model=name, batch=batch, eager_ms=eager, compile_ms=compiled, kiln_ms=k, kiln_build_s=build_s,
                   kiln_over_eager=k / eager, kiln_over_compile=(k / compiled) if compiled else None)
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(os.path.join(workdir, "speed.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
