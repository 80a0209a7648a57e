"""Shared by the samples in this folder: the --device flag, importing kiln from the source
tree when it is not installed, and small ONNX models written without the `onnx` package (the
few protobuf messages needed are encoded by hand, as tests/e2e/make_models.py does)."""
import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TINY_CNN = os.path.join(ROOT, "examples", "tiny_cnn.onnx")

try:
    import kiln  # noqa: F401
except ImportError:  # not installed: use the package in the source tree (python/)
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import kiln  # noqa: F401

import numpy as np


def parse_args(description, extra=None):
    """--device cpu|gpu (default: gpu when one is usable, else cpu); `extra(parser)` adds more."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", choices=["cpu", "gpu"], default="gpu" if kiln.gpu_available() else "cpu",
                   help="where the engine runs (default: gpu when available, else cpu)")
    if extra:
        extra(p)
    args = p.parse_args()
    args.device_kind = kiln.DeviceKind[args.device.upper()]
    return args


def config_for(args, optimization_level=1):
    """A BuilderConfig for the chosen device; a low optimization level keeps the samples fast."""
    config = kiln.BuilderConfig()
    config.device = args.device_kind
    config.optimization_level = optimization_level
    return config


# ---- a hand-written ONNX encoder ----------------------------------------------------------

def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _int(field, n):
    return _key(field, 0) + _varint(n)


def _bytes(field, data):
    data = data.encode() if isinstance(data, str) else data
    return _key(field, 2) + _varint(len(data)) + data


def tensor(name, array):
    """A float32 TensorProto."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    return b"".join(_int(1, d) for d in a.shape) + _int(2, 1) + _bytes(8, name) + _bytes(9, a.tobytes())


def value_info(name, dims):
    """A float32 ValueInfoProto; a str dimension is dynamic (named)."""
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, _int(1, 1) + _bytes(2, shape)))


def node(op, inputs, outputs, name, ints=None):
    """A NodeProto; `ints` maps attribute names to int lists."""
    attrs = b""
    for k, v in (ints or {}).items():
        attrs += _bytes(5, _bytes(1, k) + b"".join(_int(8, x) for x in v) + _int(20, 7))  # INTS
    return (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs) + _bytes(3, name) +
            _bytes(4, op) + attrs)


def model(nodes, inits, inputs, outputs, opset=17):
    """A ModelProto (IR version 8)."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "g") + b"".join(_bytes(5, t) for t in inits) +
             b"".join(_bytes(11, v) for v in inputs) + b"".join(_bytes(12, v) for v in outputs))
    return _int(1, 8) + _bytes(2, "kiln-samples") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, opset))


def mlp_weights(seed=1, sizes=(8, 16, 4)):
    """Weights of `mlp_model`: fc1.weight [in, hidden], fc1.bias, fc2.weight, fc2.bias."""
    rng = np.random.default_rng(seed)
    i, h, o = sizes
    return {
        "fc1.weight": rng.uniform(-0.5, 0.5, (i, h)).astype(np.float32),
        "fc1.bias": rng.uniform(-0.5, 0.5, (h,)).astype(np.float32),
        "fc2.weight": rng.uniform(-0.5, 0.5, (h, o)).astype(np.float32),
        "fc2.bias": rng.uniform(-0.5, 0.5, (o,)).astype(np.float32),
    }


def mlp_model(weights=None, sizes=(8, 16, 4)):
    """x [batch, in] -> MatMul -> Add -> Relu -> MatMul -> Add -> y [batch, out] (batch dynamic)."""
    w = weights if weights is not None else mlp_weights(sizes=sizes)
    nodes = [
        node("MatMul", ["x", "fc1.weight"], ["h1"], "fc1"),
        node("Add", ["h1", "fc1.bias"], ["h2"], "fc1_bias"),
        node("Relu", ["h2"], ["h3"], "relu"),
        node("MatMul", ["h3", "fc2.weight"], ["h4"], "fc2"),
        node("Add", ["h4", "fc2.bias"], ["y"], "fc2_bias"),
    ]
    inits = [tensor(n, a) for n, a in w.items()]
    return model(nodes, inits, [value_info("x", ["batch", sizes[0]])], [value_info("y", ["batch", sizes[2]])])


def mlp_reference(x, w):
    """What `mlp_model` computes, in NumPy."""
    h = np.maximum(x @ w["fc1.weight"] + w["fc1.bias"], 0)
    return h @ w["fc2.weight"] + w["fc2.bias"]


def batch_profile(lo, opt, hi, features=8, name="x"):
    """A profile for a [batch, features] input."""
    p = kiln.OptimizationProfile()
    p.set_shape(name, (lo, features), (opt, features), (hi, features))
    return p
