#!/usr/bin/env python3
"""kiln against PyTorch on the same GPU, in the same run: median compute time (CUDA events)
of FP16 inference and peak memory: ResNet-50 (batch 1, 32, 128), MobileNetV2 (batch 1, 32), BERT-base seq 128
(batch 1, 8, 32) and GPT-2 seq 128 (batch 1, 16), each against eager and
torch.compile(mode="reduce-overhead"); the CNNs on PyTorch's side in channels_last with
cudnn.benchmark on.
    python3 bench/speed.py MODELS_DIR KILN_BINARY [--no-compile] [--only=resnet50:128,mobilenetv2:1]
                           [--markdown FILE --commit SHA]
MODELS_DIR is what bench/models.py wrote. Prints one row per configuration with the ratios
kiln / eager and kiln / torch.compile (below 1 means kiln is faster) and kiln's cold build
time; --markdown writes the same as a table (date, commit, device) to append to
bench/RESULTS.md."""
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


def reset_torch():
    """Frees what earlier configurations left (models, compiled graphs and their memory pools)."""
    import gc
    gc.collect()
    torch._dynamo.reset()
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def peak_mib(baseline):
    return (torch.cuda.max_memory_allocated() - baseline) / 2**20


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
    return float(report["compute_ms"]["median"]), build_s, report["memory"]["total_bytes"] / 2**20


def main():
    models, kiln = sys.argv[1], sys.argv[2]
    compile_too = "--no-compile" not in sys.argv
    workdir = os.path.join(models, "speed")
    os.makedirs(workdir, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    rows = []
    import torchvision
    from transformers import BertConfig, BertModel

    from transformers import GPT2Config, GPT2Model

    configs = [("resnet50", 1), ("resnet50", 32), ("resnet50", 128), ("mobilenetv2", 1), ("mobilenetv2", 32),
               ("bert", 1), ("bert", 8), ("bert", 32), ("gpt2", 1), ("gpt2", 16)]
    markdown, commit = None, "?"
    args = sys.argv[3:]
    for i, arg in enumerate(args):
        if arg.startswith("--only="):  # e.g. --only=resnet50:128,mobilenetv2:32,bert:32
            configs = [(c.split(":")[0], int(c.split(":")[1])) for c in arg[len("--only="):].split(",")]
        if arg == "--markdown":
            markdown = args[i + 1]
        if arg == "--commit":
            commit = args[i + 1]
    for name, batch in configs:
        model = cmodel = args = None
        reset_torch()
        baseline = torch.cuda.memory_allocated()
        if name in ("resnet50", "mobilenetv2"):
            net = torchvision.models.resnet50 if name == "resnet50" else torchvision.models.mobilenet_v2
            model = net(weights=None).eval().half().cuda().to(memory_format=torch.channels_last)
            args = (torch.randn(batch, 3, 224, 224, device="cuda").half().to(memory_format=torch.channels_last),)
            shapes = {"image": f"{batch}x3x224x224"}
        elif name == "bert":
            model = BertModel(BertConfig()).eval().half().cuda()
            args = (torch.randint(0, 30522, (batch, 128), device="cuda"), torch.ones(batch, 128, dtype=torch.int64, device="cuda"))
            shapes = {"input_ids": f"{batch}x128", "attention_mask": f"{batch}x128"}
        else:
            model = GPT2Model(GPT2Config(use_cache=False)).eval().half().cuda()
            args = (torch.randint(0, 50257, (batch, 128), device="cuda"),)
            shapes = {"input_ids": f"{batch}x128"}
        # Peak memory: what the caching allocator held at most while the model ran (its weights,
        # the input, activations; for torch.compile its CUDA graphs' pools), from a clean start.
        eager = torch_time(model, args)
        eager_mib = peak_mib(baseline)
        compiled = compiled_mib = None
        if compile_too:
            torch.cuda.reset_peak_memory_stats()
            cmodel = torch.compile(model, mode="reduce-overhead")
            compiled = torch_time(cmodel, args)
            compiled_mib = peak_mib(baseline)
        try:
            k, build_s, kiln_mib = kiln_time(kiln, os.path.join(models, name, "model.onnx"), shapes, workdir,
                                             f"{name}_b{batch}")
        except Exception as e:  # report, keep going
            print(f"{name} b{batch}: kiln failed: {e}", flush=True)
            k, build_s, kiln_mib = float("nan"), float("nan"), float("nan")
        row = dict(model=name, batch=batch, eager_ms=eager, compile_ms=compiled, kiln_ms=k, kiln_build_s=build_s,
                   kiln_over_eager=k / eager, kiln_over_compile=(k / compiled) if compiled else None,
                   eager_peak_mib=eager_mib, compile_peak_mib=compiled_mib, kiln_context_mib=kiln_mib)
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(os.path.join(workdir, "speed.json"), "w") as f:
        json.dump(rows, f, indent=1)
    if markdown:
        write_markdown(markdown, rows, commit)


def write_markdown(path, rows, commit):
    titles = {"resnet50": "ResNet-50 224x224", "mobilenetv2": "MobileNetV2 224x224", "bert": "BERT-base s128",
              "gpt2": "GPT-2 s128"}
    device = torch.cuda.get_device_name()
    day = time.strftime("%Y-%m-%d")
    lines = [f"### {day}, commit {commit}, {device}, FP16, PyTorch {torch.__version__}", "",
             "kiln: `kiln bench --cuda-graph`, compute median; PyTorch: median of "
             f"{ITERATIONS} CUDA-event timings after warm-up; build: kiln's cold build (no timing cache).", "",
             "Memory: kiln's engine with one context (weights, activations, workspace, I/O: `kiln bench`'s "
             "total); PyTorch's peak allocated while the model ran, from a clean start (weights, input, "
             "activations; torch.compile's CUDA-graph pools).", "",
             "| model | batch | eager ms | torch.compile ms | kiln ms | kiln / eager | kiln / compile | kiln build s "
             "| eager MiB | compile MiB | kiln MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, f="{:.3f}": "-" if v is None or v != v else f.format(v)
    for r in rows:
        lines.append(f"| {titles.get(r['model'], r['model'])} | {r['batch']} | {fmt(r['eager_ms'])} | "
                     f"{fmt(r['compile_ms'])} | {fmt(r['kiln_ms'])} | {fmt(r['kiln_over_eager'], '{:.2f}')} | "
                     f"{fmt(r['kiln_over_compile'], '{:.2f}')} | {fmt(r['kiln_build_s'], '{:.1f}')} | "
                     f"{fmt(r.get('eager_peak_mib'), '{:.0f}')} | {fmt(r.get('compile_peak_mib'), '{:.0f}')} | "
                     f"{fmt(r.get('kiln_context_mib'), '{:.0f}')} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
