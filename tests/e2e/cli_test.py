#!/usr/bin/env python3
"""End-to-end tests of the `kiln` command-line tool on the CPU (plain python3, no packages).

  cli_test.py --kiln PATH/kiln --source REPO_ROOT --case build|inspect|bench|refit|compare|cache|run

Each case runs in a fresh temporary folder, on examples/tiny_cnn.onnx and the models that
make_models.py writes. Besides the happy paths it checks the error contract: exit code 1,
one line on stderr naming the problem, and no output file left behind (not even a
temporary one), an existing output file left untouched; an output path that cannot be
written is refused before any build work starts.
"""
import argparse
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tty
import fcntl

KILN = None
CNN = None
FAILURES = []


def run(args, rc=0, stdin=None):
    p = subprocess.run([KILN] + args, capture_output=True, text=True, timeout=300)
    where = "kiln " + " ".join(args)
    if p.returncode != rc:
        raise AssertionError(f"{where}: exit code {p.returncode}, expected {rc}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    if rc != 0:
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check(lines, f"{where}: no error message on stderr")
        bad = [l for l in lines if "terminate called" in l or "Segmentation" in l or "Aborted" in l]
        check(not bad, f"{where}: crashed: {p.stderr}")
    return p


def fails(args, *words):
    """Runs a command expected to fail (with -q): one stderr line holding every word."""
    p = run(args + ["-q"], rc=1)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(len(lines) == 1, f"kiln {' '.join(args)}: expected one error line, got:\n{p.stderr}")
    for w in words:
        check(w.lower() in p.stderr.lower(), f"kiln {' '.join(args)}: error does not mention '{w}': {p.stderr}")
    return p.stderr


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def no_file(path):
    check(not os.path.exists(path), f"{path} exists after a failed command")
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    temps = [f for f in os.listdir(folder) if f.startswith("." + base) or (f.startswith(base) and f != base)]
    check(not temps, f"temporary files left behind: {temps}")


def load_json(path):
    with open(path) as f:
        return json.load(f)


def inspect_json(plan, *extra):
    return json.loads(run(["inspect", plan, "--json"] + list(extra)).stdout)


def truncate(src, dst, keep):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * keep)])


def write_npy(path, dims, values, descr="<f4"):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join(f"{d}," for d in dims))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), {"<f4": "f", "<i4": "i", "<i8": "q"}[descr]), *values))


def fails_before_build(args, *words):
    """A command that must be refused before it builds anything: run without -q, its stderr
    is the one error line and no build progress ("building: ...") came before it."""
    p = run(args, rc=1)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(len(lines) == 1, f"kiln {' '.join(args)}: expected only the error line (nothing built first), got:\n{p.stderr}")
    for w in words:
        check(w.lower() in p.stderr.lower(), f"kiln {' '.join(args)}: error does not mention '{w}': {p.stderr}")
    return p.stderr


def on_terminal(args, columns, env=None):
    """Runs kiln with stderr on a pseudo-terminal `columns` wide; returns what it wrote there."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no output processing: the bytes exactly as kiln wrote them
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([KILN] + args, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            proc.kill()
            raise AssertionError(f"kiln {' '.join(args)}: no output for 300 s")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    check(proc.wait() == 0, f"kiln {' '.join(args)} on a terminal: exit code {proc.returncode}")
    return out.decode(errors="replace")


def unwritable_folder(name):
    """A folder this process cannot write to, or None where permissions do not bind (root)."""
    os.mkdir(name)
    os.chmod(name, 0o555)
    if os.access(name, os.W_OK):
        return None
    return name


MLP_PROFILE = "x:1x8,4x8,16x8"


def build_mlp(out, *extra):
    run(["build", "mlp.onnx", "-o", out, "--device", "cpu", "--profile", MLP_PROFILE, "-q"] + list(extra))


# ---- cases ------------------------------------------------------------------------------------

def case_build():
    for cmd in ("build", "bench", "inspect", "refit", "compare", "cache", "run"):
        check("Usage" in run([cmd, "--help"]).stdout, f"kiln {cmd} --help prints no usage")

    p = run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "--report", "report.json", "--timing-cache", "tc.bin"])
    check("building:" in p.stderr, "no progress lines on a non-terminal stderr")
    check("\r" not in p.stderr and "\033[" not in p.stderr, f"progress on a non-terminal is not plain lines: {p.stderr!r}")
    check(re.search(r"^building: (\d+)/\1 layers \(100%\)$", p.stderr, re.M), f"no final progress line: {p.stderr!r}")
    with open("cnn.plan", "rb") as f:
        check(f.read(8) == b"KILNPLAN", "cnn.plan is not a plan")
    report = load_json("report.json")
    for k in ("layers", "timings", "timing_cache"):
        check(k in report, f"build report has no '{k}'")
    check(report["timing_cache"]["misses"] > 0, "a cold build had no cache misses")
    check(os.path.getsize("tc.bin") > 0, "timing cache not written")
    # Warm build: every key hits, no timing, the same plan.
    run(["build", CNN, "-o", "cnn2.plan", "--device", "cpu", "--report", "report2.json", "--timing-cache", "tc.bin", "-q"])
    warm = load_json("report2.json")
    check(warm["timing_cache"]["misses"] == 0 and warm["timing_cache"]["hits"] > 0, f"warm build: {warm['timing_cache']}")
    check(warm["timings"] == 0, "a warm build timed tactics")
    with open("cnn.plan", "rb") as a, open("cnn2.plan", "rb") as b:
        check(a.read() == b.read(), "a warm build wrote another plan")
    # -q: nothing on stdout or stderr.
    p = run(["build", CNN, "-o", "quiet.plan", "--device", "cpu", "-q"])
    check(p.stdout == "" and p.stderr == "", "-q build printed something")

    # FP16: the precision guard says what it did; per-layer precision by name; bad specs.
    p = run(["build", CNN, "-o", "cnn16.plan", "--device", "cpu", "--fp16", "--report", "report16.json"])
    check("precision guard pinned" in p.stdout, f"an --fp16 build says nothing of the precision guard: {p.stdout}")
    check(isinstance(load_json("report16.json").get("precision_guard"), list), "the report has no precision_guard list")
    run(["build", CNN, "-o", "cnn16b.plan", "--device", "cpu", "--fp16", "--layer-precision", "*:fp32", "-q"])
    check(all(l["precision"] in ("float32", "host") or l["op"] == "Cast" for l in inspect_json("cnn16b.plan")["layers"]),
          "--layer-precision '*:fp32' left a layer in float16")
    fails(["build", CNN, "-o", "x16.plan", "--device", "cpu", "--fp16", "--layer-precision", "nomatch*:fp32"],
          "'nomatch*:float32' matches no device layer")
    fails(["build", CNN, "-o", "x16.plan", "--device", "cpu", "--layer-precision", "conv1"], "--layer-precision 'conv1'")
    fails(["build", CNN, "-o", "x16.plan", "--device", "cpu", "--fp16", "--calibration-input", "nope=missing.npy"],
          "missing.npy")
    no_file("x16.plan")

    # Dynamic model, two profiles, the other build flags.
    run(["build", "mlp.onnx", "-o", "mlp.plan", "--device", "cpu", "--profile", MLP_PROFILE, "--profile", "x:16x8,32x8,64x8",
         "--refittable", "--workspace", "512M", "--opt-level", "1", "--hardware-compat", "same", "--version-compatible",
         "--tactic-sources=-openblas,+cpu", "-q"])
    j = inspect_json("mlp.plan")
    check(len(j["profiles"]) == 2, "two --profile flags did not make two profiles")
    check(all(l["source"] != "openblas" for l in j["layers"]), "--tactic-sources=-openblas left openblas tactics")
    check(j["compatibility"]["version_compatible"], "--version-compatible not recorded")
    # The MLP's MatMul + bias (+ Relu) are fused layers named "fc1+bias+relu", "fc2+bias".
    build_mlp("deny.plan", "--deny-tactic", "fc1.*:openblas", "--deny-tactic", "fc2.*:cpu")
    layers = {l["name"].split("+")[0]: l for l in inspect_json("deny.plan")["layers"]}
    check(layers["fc1"]["source"] != "openblas", "--deny-tactic fc1:openblas ignored")
    check(layers["fc2"]["source"] != "cpu", "--deny-tactic fc2:cpu ignored")

    # Errors: exit 1, one line, no output file; an existing output stays as it was.
    fails(["build", "no_such_model.onnx", "-o", "x.plan", "--device", "cpu"], "no_such_model.onnx")
    no_file("x.plan")
    with open("garbage.onnx", "wb") as f:
        f.write(b"this is not a model" * 10)
    fails(["build", "garbage.onnx", "-o", "x.plan", "--device", "cpu"], "garbage.onnx")
    no_file("x.plan")
    for bad in ("x:1x8,4x8", "x1x8,4x8,16x8", "x:1x8,4x8,2x8", "x:1x8,4xA,16x8", "x:1x8,4x8,16x8x2", ":1x8,1x8,1x8"):
        fails(["build", "mlp.onnx", "-o", "x.plan", "--device", "cpu", "--profile", bad], "--profile")
        no_file("x.plan")
    fails(["build", "mlp.onnx", "-o", "x.plan", "--device", "cpu", "--profile", "nope:1x8,4x8,16x8"], "nope")
    no_file("x.plan")
    fails(["build", "mlp.onnx", "-o", "x.plan", "--device", "cpu"], "x")  # dynamic input, no profile
    no_file("x.plan")
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--strip-weights"], "--refittable")
    no_file("x.plan")
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--deny-tactic", "relu1:foo"], "foo")
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--deny-tactic", "relu1"], "--deny-tactic")
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--tactic-sources", "-nosuch"], "nosuch")
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--workspace", "12Q"], "12Q")
    no_file("x.plan")
    # Denying every tactic of a layer that has only reference kernels is a build error naming it.
    err = fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--deny-tactic", ".*:reference"], "denied")
    check(any(n in err for n in ("bn1", "relu1", "pool", "gap", "flatten", "softmax")), f"the error names no layer: {err}")
    no_file("x.plan")
    with open("keep.plan", "wb") as f:
        f.write(b"old contents")
    fails(["build", CNN, "-o", "keep.plan", "--device", "cpu", "--deny-tactic", ".*:*"], "denied")
    with open("keep.plan", "rb") as f:
        check(f.read() == b"old contents", "a failed build changed the existing output file")
    # A damaged timing cache is an error, and the plan is not written.
    truncate("tc.bin", "bad_tc.bin", 0.5)
    fails(["build", CNN, "-o", "x.plan", "--device", "cpu", "--timing-cache", "bad_tc.bin"], "bad_tc.bin")
    no_file("x.plan")

    # Output paths that cannot be written are refused before the build, and nothing is written.
    os.mkdir("adir")
    with open("afile", "w") as f:
        f.write("a file")
    base = ["build", CNN, "--device", "cpu"]
    fails_before_build(base + ["-o", "nodir/x.plan"], "-o 'nodir/x.plan'", "folder 'nodir' does not exist")
    no_file("nodir")
    fails_before_build(base + ["-o", "adir"], "-o 'adir'", "is a folder")
    check(os.listdir("adir") == [], "a refused build wrote into the folder given as -o")
    fails_before_build(base + ["-o", "afile/x.plan"], "-o 'afile/x.plan'", "'afile' is not a folder")
    fails_before_build(base + ["-o", "x.plan", "--report", "nodir/r.json"], "--report 'nodir/r.json'", "does not exist")
    no_file("x.plan")
    fails_before_build(base + ["-o", "x.plan", "--report", "adir"], "--report 'adir'", "is a folder")
    no_file("x.plan")
    fails_before_build(base + ["-o", "x.plan", "--timing-cache", "nodir/tc.bin"], "--timing-cache 'nodir/tc.bin'",
                       "does not exist")
    no_file("x.plan")
    fails_before_build(base + ["-o", "x.plan", "--timing-cache", "adir"], "--timing-cache 'adir'", "is a folder")
    no_file("x.plan")
    # No timing work either: a new timing cache is not created.
    fails_before_build(base + ["-o", "nodir/x.plan", "--timing-cache", "new_tc.bin"], "nodir")
    no_file("new_tc.bin")
    ro = unwritable_folder("ro")
    if ro:
        fails_before_build(base + ["-o", "ro/x.plan"], "-o 'ro/x.plan'", "folder 'ro' is not writable")
        fails_before_build(base + ["-o", "x.plan", "--report", "ro/r.json"], "--report 'ro/r.json'", "not writable")
        no_file("x.plan")
    else:
        print("         (build: running as root, the unwritable-folder checks are skipped)")

    # Progress on a terminal: one line redrawn in place ('\r', clear to end of line), never
    # wider than the terminal, ended by one newline; plain lines for a "dumb" terminal.
    env = dict(os.environ, TERM="xterm")
    out = on_terminal(base + ["-o", "tty.plan", "--opt-level", "1"], 40, env)
    check("\r\033[K" in out and "building:" not in out, f"no in-place progress on a terminal: {out!r}")
    check(out.endswith("\n") and out.count("\n") == 1, f"the progress line is not ended by one newline: {out!r}")
    draws = [d for d in out.rstrip("\n").split("\r\033[K") if d]
    check(draws and all("\r" not in d and "\n" not in d for d in draws), f"progress draws: {draws!r}")
    check(all(len(d) < 40 for d in draws), f"a progress line is wider than the 40-column terminal: {draws!r}")
    check("100%" in draws[-1], f"the last progress draw is not 100%: {draws[-1]!r}")
    out = on_terminal(base + ["-o", "tty.plan", "--opt-level", "1"], 40, dict(os.environ, TERM="dumb"))
    check("\r" not in out and re.search(r"^building: (\d+)/\1 layers \(100%\)$", out, re.M),
          f"a dumb terminal got in-place progress: {out!r}")
    # kiln's log messages during the build get lines of their own, the bar is redrawn below.
    out = on_terminal(base + ["-o", "tty.plan", "-v", "--deny-tactic", "conv.*:reference"], 80, env)
    at = [i for i in range(len(out)) if out.startswith("kiln: verbose:", i)]
    check(at and all(i == 0 or out[:i].endswith(("\r\033[K", "\n")) for i in at),
          f"log messages written into the progress line: {out!r}")
    check(out.endswith("softmax\n"), f"the bar is not redrawn after a log message: {out[-200:]!r}")
    out = on_terminal(base + ["-o", "tty.plan", "--opt-level", "1"], 100, env)
    draws = [d for d in out.rstrip("\n").split("\r\033[K") if d]
    check(all(len(d) < 100 for d in draws) and "[" + "#" * 30 + "]" in draws[-1], f"no full bar at 100 columns: {draws!r}")


def case_inspect():
    with open("garbage.onnx", "wb") as f:
        f.write(b"not a model")
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "-q"])
    p = run(["inspect", "cnn.plan"])
    for word in ("inputs", "outputs", "profiles", "layers", "memory", "refittable weights", "compatibility", "image", "conv"):
        check(word in p.stdout, f"inspect text output has no '{word}'")
    j = inspect_json("cnn.plan")
    check(list(j.keys()) == ["inputs", "outputs", "profiles", "layers", "views", "memory", "refittable_weights",
                             "compatibility"], f"inspect --json keys: {list(j.keys())}")
    # Views (the CNN's Flatten) alias their input: named apart, never listed as layers.
    check(j["views"] and not set(j["views"]) & {l["name"] for l in j["layers"]}, f"inspect views: {j['views']}")
    check(j["inputs"][0]["name"] == "image" and j["inputs"][0]["shape"] == [1, 3, 32, 32], f"inputs: {j['inputs']}")
    check(j["outputs"][0]["name"] == "probabilities", f"outputs: {j['outputs']}")
    for l in j["layers"]:
        for k in ("name", "op", "tactic", "source", "precision"):
            check(k in l, f"layer entry without '{k}': {l}")
    check(j["refittable_weights"] == [], "a plain plan lists refittable weights")
    c = j["compatibility"]
    check(c["device"] == "cpu" and c["architecture"] and c["format_version"] >= 1, f"compatibility: {c}")

    build_mlp("mlp.plan", "--refittable")
    j = inspect_json("mlp.plan")
    check(sorted(j["refittable_weights"]) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"], f"{j['refittable_weights']}")
    check(j["inputs"][0]["shape"] == [-1, 8], f"dynamic input shape: {j['inputs'][0]['shape']}")
    check(j["profiles"][0]["inputs"]["x"] == {"min": [1, 8], "opt": [4, 8], "max": [16, 8]}, f"{j['profiles']}")

    # Weight-stripped plans: a clear error without --weights, fine with them.
    build_mlp("stripped.plan", "--refittable", "--strip-weights")
    fails(["inspect", "stripped.plan"], "--weights")
    j = inspect_json("stripped.plan", "--weights", "mlp.onnx")
    check(j["compatibility"]["weights_stripped"], "stripped plan not reported as such")

    # Damaged plans.
    for keep in (0.5, 0.9, 0.02):
        truncate("cnn.plan", "cut.plan", keep)
        fails(["inspect", "cut.plan"], "cut.plan")
    fails(["inspect", "no_such.plan"], "no_such.plan")
    # A model: I/O with named dynamic dimensions, layers, weights.
    m = inspect_json("mlp.onnx")
    check(m["inputs"][0]["shape"] == ["batch", 8], f"model input: {m['inputs']}")
    check([l["name"] for l in m["layers"]] == ["fc1", "fc1_bias", "relu", "fc2", "fc2_bias"], f"model layers: {m['layers']}")
    check(len(m["weights"]) == 4, f"model weights: {m['weights']}")
    check("conv1" in run(["inspect", CNN]).stdout, "inspect of a model lists no layers")
    fails(["inspect", "garbage.onnx"], "garbage.onnx")


def case_bench():
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "-q"])
    p = run(["bench", "cnn.plan", "--iterations", "5", "--warmup", "0", "--layer-times", "--json", "bench.json"])
    for word in ("throughput", "latency", "median", "p90", "p99", "host-to-device", "compute", "device-to-host", "memory",
                 "overlapped", "conv1", "share"):
        check(word in p.stdout, f"bench output has no '{word}':\n{p.stdout}")
    j = load_json("bench.json")
    check(j["runs"] == 5, f"--iterations 5 made {j['runs']} runs")
    for k in ("min", "mean", "median", "p90", "p99"):
        check(k in j["latency_ms"], f"latency without {k}")
    check(j["throughput_qps"] > 0, "no throughput")
    times = [l["median_ms"] for l in j["layers"]]
    check(times == sorted(times, reverse=True), "--layer-times not sorted by cost")
    check(abs(sum(l["share"] for l in j["layers"]) - 1) < 1e-6 or sum(times) == 0, "layer shares do not add up")
    # Several contexts (threads) and streams; --duration; an .onnx model built first.
    j2 = run(["bench", "cnn.plan", "--contexts", "2", "--streams", "2", "--iterations", "3", "--warmup", "0", "--json", "b2.json",
              "-q"])
    j2 = load_json("b2.json")
    check(j2["runs"] == 6 and j2["contexts"] == 2 and j2["streams"] == 2, f"2 contexts x 3 iterations: {j2['runs']} runs")
    run(["bench", "mlp.onnx", "--device", "cpu", "--shapes", "x:3x8", "--duration", "0.2", "--warmup", "0", "-q"])
    run(["bench", "cnn.plan", "--cuda-graph", "--iterations", "2", "--warmup", "0", "-q"])
    truncate("cnn.plan", "cut.plan", 0.6)
    fails(["bench", "cut.plan", "--iterations", "2", "--json", "cut.json"], "cut.plan")
    no_file("cut.json")
    fails(["bench", "cnn.plan", "--contexts", "0"], "--contexts")
    fails(["bench", "cnn.plan", "--shapes", "image:1x3x64x64", "--iterations", "1"], "image")
    fails(["bench", "cnn.plan", "--shapes", "imgae:1x3x32x32", "--iterations", "1"], "--shapes 'imgae'", "no such input",
          "the engine's inputs are: image [1x3x32x32 float32]")
    # --json is checked before the model is built and timed.
    os.mkdir("adir")
    fails_before_build(["bench", CNN, "--device", "cpu", "--iterations", "1", "--json", "nodir/b.json"],
                       "--json 'nodir/b.json'", "folder 'nodir' does not exist")
    fails_before_build(["bench", CNN, "--device", "cpu", "--iterations", "1", "--json", "adir"], "--json 'adir'",
                       "is a folder")


def case_refit():
    build_mlp("mlp.plan", "--refittable")
    p = run(["refit", "mlp.plan", "--weights", "mlp_b.onnx", "-o", "mlp_b.plan"])
    check("updated: 4 of 4" in p.stdout, f"refit output:\n{p.stdout}")
    # The refitted plan computes what the model with the new weights computes.
    run(["compare", "mlp_b.onnx", "mlp_b.plan", "--shapes", "x:5x8", "-q"])
    run(["compare", "mlp.onnx", "mlp_b.plan", "--shapes", "x:5x8", "-q"], rc=1)
    run(["refit", "mlp.plan", "--weights", "mlp_b.safetensors", "-o", "mlp_b2.plan", "-q"])
    run(["compare", "mlp_b.onnx", "mlp_b2.plan", "--shapes", "x:5x8", "-q"])
    # A weight-stripped plan refits too.
    build_mlp("stripped.plan", "--refittable", "--strip-weights")
    run(["refit", "stripped.plan", "--weights", "mlp_b.onnx", "-o", "stripped_b.plan", "-q"])
    run(["compare", "mlp_b.onnx", "stripped_b.plan", "--weights", "mlp_b.onnx", "-q"])
    # Only part of a fused group (conv1 folded with bn1): error, nothing written.
    run(["build", CNN, "-o", "cnn_r.plan", "--device", "cpu", "--refittable", "-q"])
    fails(["refit", "cnn_r.plan", "--weights", "conv_only.safetensors", "-o", "out.plan"], "missing", "bn1")
    no_file("out.plan")
    # Weights of another model, a plan that is not refittable, missing files.
    fails(["refit", "cnn_r.plan", "--weights", "mlp_b.onnx", "-o", "out.plan"], "none")
    no_file("out.plan")
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "-q"])
    fails(["refit", "cnn.plan", "--weights", CNN, "-o", "out.plan"], "refittable")
    no_file("out.plan")
    fails(["refit", "mlp.plan", "--weights", "nope.onnx", "-o", "out.plan"], "nope.onnx")
    no_file("out.plan")
    truncate("mlp.plan", "cut.plan", 0.5)
    fails(["refit", "cut.plan", "--weights", "mlp_b.onnx", "-o", "out.plan"], "cut.plan")
    no_file("out.plan")
    # -o is checked before the plan is loaded and refitted.
    fails(["refit", "mlp.plan", "--weights", "mlp_b.onnx", "-o", "nodir/out.plan"], "-o 'nodir/out.plan'",
          "folder 'nodir' does not exist")
    os.mkdir("adir")
    fails(["refit", "mlp.plan", "--weights", "mlp_b.onnx", "-o", "adir"], "-o 'adir'", "is a folder")
    check(os.listdir("adir") == [], "a refused refit wrote into the folder given as -o")


def case_compare():
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "-q"])
    p = run(["compare", CNN, "cnn.plan"])
    check("PASS" in p.stdout and "probabilities" in p.stdout and "max abs" in p.stdout, p.stdout)
    p = run(["compare", CNN, "cnn.plan", "--all-layers", "--device", "cpu"])
    for layer in ("conv1", "bn1", "relu1", "conv2", "pool", "fc", "softmax"):
        check(layer in p.stdout, f"--all-layers does not list {layer}:\n{p.stdout}")
    check("every layer within tolerance" in p.stdout, p.stdout)
    build_mlp("mlp.plan")
    run(["compare", "mlp.onnx", "mlp.plan", "--shapes", "x:3x8", "--rtol", "1e-5", "--atol", "1e-5", "-q"])
    write_npy("x.npy", [2, 8], [(i % 7) * 0.25 - 0.75 for i in range(16)])
    p = run(["compare", "mlp.onnx", "mlp.plan", "--input", "x=x.npy"])
    check("(given)" in p.stdout and "2x8" in p.stdout, p.stdout)
    # An engine of other weights is past tolerance: exit 1, naming the output...
    run(["build", "mlp_b.onnx", "-o", "other.plan", "--device", "cpu", "--profile", MLP_PROFILE, "-q"])
    fails(["compare", "mlp.onnx", "other.plan"], "y")
    # ... unless the tolerance allows it.
    run(["compare", "mlp.onnx", "other.plan", "--rtol", "1e3", "--atol", "1e3", "-q"])
    fails(["compare", "mlp.onnx", "cnn.plan"], "'y'")  # plan of another model
    fails(["compare", "nope.onnx", "mlp.plan"], "nope.onnx")
    truncate("mlp.plan", "cut.plan", 0.7)
    fails(["compare", "mlp.onnx", "cut.plan"], "cut.plan")
    fails(["compare", "mlp.onnx", "mlp.plan", "--shapes", "x:99x8"], "x")  # outside the profile
    fails(["compare", "mlp.onnx", "mlp.plan", "--fp16"], "--all-layers")
    # --input that names no input, or whose file does not fit it: the input and the file named.
    fails(["compare", "mlp.onnx", "mlp.plan", "--input", "z=x.npy"], "--input 'z': no such input",
          "the engine's inputs are: x [?x8 float32]")
    write_npy("x_int.npy", [2, 8], list(range(16)), "<i4")
    fails(["compare", "mlp.onnx", "mlp.plan", "--input", "x=x_int.npy"], "--input 'x'", "x_int.npy", "int32", "float32")
    write_npy("x_big.npy", [32, 8], [0.0] * 256)
    fails(["compare", "mlp.onnx", "mlp.plan", "--input", "x=x_big.npy"], "--input 'x'", "x_big.npy", "32x8", "outside",
          "1x8 to 16x8")
    fails(["compare", "mlp.onnx", "mlp.plan", "--input", "x=x.npy", "--shapes", "x:3x8"], "--input 'x'", "x.npy",
          "--shapes")
    fails(["compare", "mlp.onnx", "mlp.plan", "--input", "x=x.npy", "--input", "x=x.npy"], "given twice")


def case_cache():
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "--timing-cache", "a.bin", "-q"])
    run(["build", "mlp.onnx", "-o", "mlp.plan", "--device", "cpu", "--profile", MLP_PROFILE, "--timing-cache", "b.bin", "-q"])
    p = run(["cache", "inspect", "a.bin"])
    check("entries" in p.stdout and "Conv" in p.stdout, p.stdout)
    a = json.loads(run(["cache", "inspect", "a.bin", "--json"]).stdout)
    b = json.loads(run(["cache", "inspect", "b.bin", "--json"]).stdout)
    check(len(a["entries"]) > 0 and len(b["entries"]) > 0, "empty caches")
    p = run(["cache", "merge", "a.bin", "b.bin", "-o", "merged.bin"])
    m = json.loads(run(["cache", "inspect", "merged.bin", "--json"]).stdout)
    keys = {(e["key"], e["device"]) for e in a["entries"]} | {(e["key"], e["device"]) for e in b["entries"]}
    check(len(m["entries"]) == len(keys), f"merged {len(m['entries'])} entries, expected {len(keys)}")
    # A build with the merged cache does no timing.
    run(["build", CNN, "-o", "warm.plan", "--device", "cpu", "--timing-cache", "merged.bin", "--report", "r.json", "-q"])
    check(load_json("r.json")["timing_cache"]["misses"] == 0, "merged cache missed")
    fails(["cache", "inspect", "nope.bin"], "nope.bin")
    fails(["cache", "merge", "a.bin", "nope.bin", "-o", "out.bin"], "nope.bin")
    no_file("out.bin")
    truncate("a.bin", "cut.bin", 0.5)
    fails(["cache", "inspect", "cut.bin"], "cut.bin")
    fails(["cache", "merge", "a.bin", "cut.bin", "-o", "out.bin"], "cut.bin")
    no_file("out.bin")
    fails(["cache", "merge", "a.bin", "b.bin", "-o", "nodir/out.bin"], "-o 'nodir/out.bin'", "folder 'nodir' does not exist")
    os.mkdir("adir")
    fails(["cache", "merge", "a.bin", "b.bin", "-o", "adir"], "-o 'adir'", "is a folder")
    run(["cache", "--help"])
    run(["cache", "merge", "--help"])


def case_run():
    run(["build", CNN, "-o", "cnn.plan", "--device", "cpu", "-q"])
    build_mlp("mlp.plan")
    write_npy("image.npy", [1, 3, 32, 32], [((i * 7) % 13) / 13 - 0.5 for i in range(3 * 32 * 32)])
    p = run(["run", "cnn.plan", "--input", "image=image.npy", "--output-dir", "out/sub", "--iterations", "1"])
    check("probabilities" in p.stdout and "1x3x32x32" in p.stdout, p.stdout)
    check(os.path.getsize("out/sub/probabilities.npy") > 0, "run --output-dir wrote no probabilities.npy")
    write_npy("x.npy", [2, 8], [(i % 7) * 0.25 - 0.75 for i in range(16)])
    p = run(["run", "mlp.plan", "--input", "x=x.npy", "--iterations", "1"])
    check("x float32 2x8" in p.stdout and "y float32 2x4" in p.stdout, p.stdout)
    # A model is built first: progress as plain lines on a non-terminal.
    p = run(["run", CNN, "--device", "cpu", "--iterations", "1"])
    check("building:" in p.stderr and "\r" not in p.stderr, f"run of a model: progress {p.stderr!r}")

    # --input naming no input: an error listing the inputs (not random values silently).
    fails(["run", "cnn.plan", "--input", "imgae=image.npy"], "--input 'imgae': no such input",
          "the engine's inputs are: image [1x3x32x32 float32]")
    fails(["run", "mlp.plan", "--input", "z=x.npy"], "--input 'z': no such input", "x [?x8 float32]")
    # ... also for a model, before it is built.
    fails_before_build(["run", CNN, "--device", "cpu", "--input", "imgae=image.npy"], "--input 'imgae': no such input",
                       "the model's inputs are: image [1x3x32x32 float32]")
    fails(["run", "cnn.plan", "--shapes", "imgae:1x3x32x32"], "--shapes 'imgae': no such input", "image [1x3x32x32")
    # Files that do not fit their input name both.
    write_npy("small.npy", [1, 3, 16, 16], [0.0] * (3 * 16 * 16))
    fails(["run", "cnn.plan", "--input", "image=small.npy"], "--input 'image'", "small.npy", "1x3x16x16", "1x3x32x32")
    fails_before_build(["run", CNN, "--device", "cpu", "--input", "image=small.npy"], "--input 'image'", "small.npy",
                       "1x3x16x16")
    write_npy("int.npy", [1, 3, 32, 32], [1] * (3 * 32 * 32), "<i4")
    fails(["run", "cnn.plan", "--input", "image=int.npy"], "--input 'image'", "int.npy", "int32", "float32")
    write_npy("x1d.npy", [8], [0.0] * 8)
    fails(["run", "mlp.plan", "--input", "x=x1d.npy"], "--input 'x'", "x1d.npy", "has shape 8,", "?x8")
    write_npy("x_big.npy", [32, 8], [0.0] * 256)
    fails(["run", "mlp.plan", "--input", "x=x_big.npy"], "--input 'x'", "x_big.npy", "outside", "1x8 to 16x8")
    fails(["run", "mlp.plan", "--input", "x=x.npy", "--shapes", "x:3x8"], "--input 'x'", "x.npy", "--shapes gives x:3x8")
    fails(["run", "mlp.plan", "--input", "x"], "bad --input 'x'")
    fails(["run", "mlp.plan", "--input", "x=nope.npy"], "nope.npy")

    # --output-dir is checked before anything is built or run; a missing one is made (above).
    with open("afile", "w") as f:
        f.write("a file")
    fails_before_build(["run", CNN, "--device", "cpu", "--output-dir", "afile"], "--output-dir 'afile'", "is a file")
    fails_before_build(["run", CNN, "--device", "cpu", "--output-dir", "afile/out"], "--output-dir 'afile/out'",
                       "is a file")
    ro = unwritable_folder("ro")
    if ro:
        fails_before_build(["run", CNN, "--device", "cpu", "--output-dir", "ro/out"], "--output-dir 'ro/out'",
                           "not writable")
        no_file("ro/out")


def case_shape_values():
    model = "reshape_input.onnx"  # x [2, 3, 4] -> Reshape(x, shape) -> Relu -> y; shape is an int64 [2] input
    p = run(["inspect", model])
    check("shape  int64  2  (shape input: build with --shape-values)" in p.stdout, p.stdout)
    j = json.loads(run(["inspect", model, "--json"]).stdout)
    check([i.get("shape_input", False) for i in j["inputs"]] == [False, True], str(j["inputs"]))
    # Without values: one error naming the shape input and the flag.
    fails(["build", model, "-o", "r.plan", "--device", "cpu"], "shape input 'shape'", "--shape-values")
    no_file("r.plan")
    fails(["build", model, "-o", "r.plan", "--device", "cpu", "--shape-values", "shape:6,x"], "bad --shape-values",
          "'x' is not an integer")
    fails(["build", model, "-o", "r.plan", "--device", "cpu", "--shape-values", "shape:6,4,1"], "'shape'",
          "3 shape values")
    fails(["build", model, "-o", "r.plan", "--device", "cpu", "--shape-values", "shape:6,4", "--shape-values",
           "shape:4,6", "--profile", "x:2x3x4,2x3x4,2x3x4"], "2 --shape-values flags for 1 --profile")
    no_file("r.plan")
    run(["build", model, "-o", "r.plan", "--device", "cpu", "--shape-values", "shape:6,4", "-q"])
    p = run(["inspect", "r.plan"])
    check("shape values [6, 4]" in p.stdout and "format v3" in p.stdout, p.stdout)
    # run and bench take the plan's values by default, or the same ones given.
    p = run(["run", "r.plan", "--iterations", "1"])
    check("y float32 6x4" in p.stdout, p.stdout)
    p = run(["run", "r.plan", "--iterations", "1", "--shape-values", "shape:6,4"])
    check("y float32 6x4" in p.stdout, p.stdout)
    fails(["run", "r.plan", "--shape-values", "shape:4,6"], "shape input 'shape'", "[4, 6]", "[6, 4]")
    fails(["run", "r.plan", "--shape-values", "x:1"], "--shape-values 'x'")
    p = run(["bench", "r.plan", "--iterations", "2", "--warmup", "0", "--shape-values", "shape:6,4"])
    check("throughput" in p.stdout, p.stdout)
    # Two profiles, one flag each; run picks the profile by the values.
    run(["build", model, "-o", "r2.plan", "--device", "cpu", "--profile", "x:2x3x4,2x3x4,2x3x4", "--profile",
         "x:2x3x4,2x3x4,2x3x4", "--shape-values", "shape:6,4", "--shape-values", "shape:-1,12", "-q"])
    p = run(["run", "r2.plan", "--iterations", "1", "--shape-values", "shape:-1,12"])
    check("y float32 2x12" in p.stdout, p.stdout)
    # A range of values: contexts run any values within it.
    run(["build", model, "-o", "r3.plan", "--device", "cpu", "--shape-values", "shape:2,-1/3,-1/4,-1", "-q"])
    p = run(["inspect", "r3.plan"])
    check("shape values min [2, -1] opt [3, -1] max [4, -1]" in p.stdout, p.stdout)
    for values, out in (("2,-1", "2x12"), ("4,-1", "4x6")):
        p = run(["run", "r3.plan", "--iterations", "1", "--shape-values", "shape:" + values])
        check(f"y float32 {out}" in p.stdout, p.stdout)
    p = run(["run", "r3.plan", "--iterations", "1"])  # the profile's opt values
    check("y float32 3x8" in p.stdout, p.stdout)
    fails(["run", "r3.plan", "--shape-values", "shape:5,-1"], "shape input 'shape'", "[2, -1] to [4, -1]")
    fails(["run", "r3.plan", "--shape-values", "shape:2,-1/3,-1/4,-1"], "a range MIN/OPT/MAX is for kiln build")
    fails(["build", model, "-o", "r4.plan", "--device", "cpu", "--shape-values", "shape:4,-1/3,-1/2,-1"],
          "shape input 'shape'", "min <= opt <= max")
    # A model is built for the values given, by the flag or by an --input file.
    p = run(["run", model, "--device", "cpu", "--iterations", "1", "--shape-values", "shape:3,8"])
    check("y float32 3x8" in p.stdout, p.stdout)
    write_npy("shape.npy", [2], [12, 2], "<i8")
    p = run(["run", model, "--device", "cpu", "--iterations", "1", "--input", "shape=shape.npy"])
    check("y float32 12x2" in p.stdout, p.stdout)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global KILN, CNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="default: all")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    KILN = os.path.abspath(args.kiln)
    source = os.path.abspath(args.source)
    CNN = os.path.join(source, "examples", "tiny_cnn.onnx")
    failed = 0
    for name in args.case or sorted(CASES):
        work = tempfile.mkdtemp(prefix=f"kiln-e2e-{name}-")
        cwd = os.getcwd()
        try:
            os.chdir(work)
            subprocess.run([sys.executable, os.path.join(source, "tests", "e2e", "make_models.py"), work], check=True)
            CASES[name]()
            print(f"[ PASS ] {name}")
        except AssertionError as e:
            failed += 1
            print(f"[ FAIL ] {name}: {e}")
        finally:
            os.chdir(cwd)
            if args.keep:
                print(f"         work folder: {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
