#!/usr/bin/env python3
"""Writes small ONNX models and weight files for the `kiln` end-to-end tests, without the
`onnx` package: the few protobuf messages needed are encoded by hand.

  mlp.onnx          x [batch, 8] -> MatMul(fc1.weight) -> Add(fc1.bias) -> Relu
                    -> MatMul(fc2.weight) -> Add(fc2.bias) -> y [batch, 4]   (batch dynamic)
  mlp_b.onnx        the same graph with other weights (seed 2): refit source
  mlp_b.safetensors the weights of mlp_b.onnx
  conv_only.safetensors  conv1.weight of tiny_cnn alone (its BatchNorm partners missing)
  reshape_input.onnx     x [2, 3, 4], shape (int64 [2], a shape input) -> Reshape -> Relu -> y

Usage: make_models.py OUT_DIR
"""
import json
import os
import random
import struct
import sys


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint((field << 3) | wire)


def f_int(field, n):
    return key(field, 0) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


FLOAT = 1
INT64 = 7


def tensor(name, dims, values):
    raw = struct.pack("<%df" % len(values), *values)
    msg = b"".join(f_int(1, d) for d in dims) + f_int(2, FLOAT) + f_bytes(8, name) + f_bytes(9, raw)
    return msg


def value_info(name, dims, elem_type=FLOAT):
    shape = b""
    for d in dims:
        dim = f_bytes(2, d) if isinstance(d, str) else f_int(1, d)
        shape += f_bytes(1, dim)
    tensor_type = f_int(1, elem_type) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tensor_type))


def node(op, inputs, outputs, name):
    return (b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs) +
            f_bytes(3, name) + f_bytes(4, op))


def model(nodes, inits, inputs, outputs, opset=17):
    graph = (b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g") +
             b"".join(f_bytes(5, t) for t in inits) +
             b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs))
    opset_id = f_bytes(1, "") + f_int(2, opset)
    return f_int(1, 8) + f_bytes(2, "kiln-e2e") + f_bytes(7, graph) + f_bytes(8, opset_id)


def mlp_weights(seed):
    rng = random.Random(seed)
    w = {}
    for name, dims in (("fc1.weight", [8, 16]), ("fc1.bias", [16]), ("fc2.weight", [16, 4]), ("fc2.bias", [4])):
        n = 1
        for d in dims:
            n *= d
        w[name] = (dims, [rng.uniform(-0.5, 0.5) for _ in range(n)])
    return w


def mlp(seed):
    w = mlp_weights(seed)
    nodes = [
        node("MatMul", ["x", "fc1.weight"], ["h1"], "fc1"),
        node("Add", ["h1", "fc1.bias"], ["h2"], "fc1_bias"),
        node("Relu", ["h2"], ["h3"], "relu"),
        node("MatMul", ["h3", "fc2.weight"], ["h4"], "fc2"),
        node("Add", ["h4", "fc2.bias"], ["y"], "fc2_bias"),
    ]
    inits = [tensor(n, d, v) for n, (d, v) in w.items()]
    return model(nodes, inits, [value_info("x", ["batch", 8])], [value_info("y", ["batch", 4])])


def reshape_input():
    nodes = [node("Reshape", ["x", "shape"], ["reshaped"], "reshape"), node("Relu", ["reshaped"], ["y"], "relu")]
    y = f_bytes(1, "y") + f_bytes(2, f_bytes(1, f_int(1, FLOAT)))  # no shape: it follows from the values
    return model(nodes, [], [value_info("x", [2, 3, 4]), value_info("shape", [2], INT64)], [y])


def safetensors(weights):
    header, data = {}, b""
    for name, (dims, values) in weights.items():
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": dims, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main(out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "mlp.onnx"), "wb") as f:
        f.write(mlp(1))
    with open(os.path.join(out, "mlp_b.onnx"), "wb") as f:
        f.write(mlp(2))
    with open(os.path.join(out, "mlp_b.safetensors"), "wb") as f:
        f.write(safetensors(mlp_weights(2)))
    with open(os.path.join(out, "reshape_input.onnx"), "wb") as f:
        f.write(reshape_input())
    rng = random.Random(3)
    with open(os.path.join(out, "conv_only.safetensors"), "wb") as f:
        f.write(safetensors({"conv1.weight": ([16, 3, 3, 3], [rng.uniform(-0.3, 0.3) for _ in range(16 * 27)])}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
