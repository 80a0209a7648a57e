#!/usr/bin/env python3
"""FP16 with and without the precision guard on a real network, against ONNX Runtime in FP32.

    python3 bench/precision_guard.py MODEL.onnx INPUT_NAME KILN [SCALE ...]

For each SCALE, the input is uniform in [0, SCALE) (e.g. 255: images given as raw pixel
values, not normalized); both FP16 engines (--no-precision-guard, and the guard with that input
as its calibration input) run on it and are compared with ONNX Runtime's FP32 output.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort


def rel_error(ref, out):
    if not np.all(np.isfinite(out)):
        return float("inf")
    return float(np.linalg.norm(out.astype(np.float64) - ref) / max(np.linalg.norm(ref), 1e-30))


def main():
    model, name, kiln = sys.argv[1:4]
    scales = [float(s) for s in sys.argv[4:]] or [1.0, 255.0]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    work = tempfile.mkdtemp(prefix="kiln-guard-")
    rng = np.random.default_rng(0)
    for scale in scales:
        x = rng.uniform(0, scale, size=shape).astype(np.float32)
        path = os.path.join(work, "input.npy")
        np.save(path, x)
        ref = session.run(None, {name: x})[0].astype(np.float64)
        row = [f"input uniform [0, {scale:g})", f"|ref| max {np.abs(ref).max():.3g}"]
        for label, flags in (("no guard", ["--no-precision-guard"]), ("guard", ["--calibration-input", f"{name}={path}"])):
            plan = os.path.join(work, "m.plan")
            report = os.path.join(work, "report.json")
            start = time.time()
            b = subprocess.run([kiln, "build", model, "-o", plan, "--fp16", "--report", report, "-q",
                                "--profile", f"{name}:" + ",".join(["x".join(map(str, shape))] * 3)] + flags,
                               capture_output=True, text=True)
            build_s = time.time() - start
            if b.returncode != 0:
                row.append(f"{label}: build failed: {b.stderr.strip()[-200:]}")
                continue
            pinned = json.load(open(report)).get("precision_guard", [])
            out_dir = os.path.join(work, "out")
            r = subprocess.run([kiln, "run", plan, "--input", f"{name}={path}", "--output-dir", out_dir, "-q"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                row.append(f"{label}: run failed: {r.stderr.strip()[-200:]}")
                continue
            out = np.load(os.path.join(out_dir, sorted(os.listdir(out_dir))[0]))
            err = rel_error(ref, out)
            row.append(f"{label}: rel L2 {err:.3g} ({'ok' if err <= 1e-2 else 'WRONG'}), "
                       f"{len(pinned)} pinned, build {build_s:.1f} s")
            if pinned:
                row.append("  first pinned: " + "; ".join(f"{p['layer']}: {p['reason']}" for p in pinned[:3]))
        print("\n  ".join(row), flush=True)


if __name__ == "__main__":
    main()
