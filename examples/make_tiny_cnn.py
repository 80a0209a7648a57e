#!/usr/bin/env python3
"""Writes examples/tiny_cnn.onnx: a small CNN image classifier with random weights.

  image [1,3,32,32] float
  -> Conv 3x3 (16) -> BatchNormalization -> Relu
  -> Conv 3x3 (32) -> BatchNormalization -> Relu
  -> MaxPool 2x2 -> GlobalAveragePool -> Flatten -> Gemm (10) -> Softmax -> probabilities [1,10]

The .onnx file is committed, so nobody needs the `onnx` Python package to try kiln; this
script only documents how it was made (Debian: apt-get install python3-onnx python3-numpy).
The weights come from a fixed seed, so rerunning it writes the same bytes.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def conv_bn_relu(rng, index, x, in_ch, out_ch, nodes, inits):
    p = f"conv{index}"
    w = rng.standard_normal((out_ch, in_ch, 3, 3)).astype(np.float32) * np.float32(np.sqrt(2.0 / (in_ch * 9)))
    b = rng.standard_normal(out_ch).astype(np.float32) * np.float32(0.1)
    inits += [numpy_helper.from_array(w, f"{p}.weight"), numpy_helper.from_array(b, f"{p}.bias")]
    nodes.append(helper.make_node("Conv", [x, f"{p}.weight", f"{p}.bias"], [f"{p}_out"], name=p,
                                  kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
    q = f"bn{index}"
    inits += [
        numpy_helper.from_array((1.0 + 0.1 * rng.standard_normal(out_ch)).astype(np.float32), f"{q}.scale"),
        numpy_helper.from_array((0.1 * rng.standard_normal(out_ch)).astype(np.float32), f"{q}.bias"),
        numpy_helper.from_array((0.1 * rng.standard_normal(out_ch)).astype(np.float32), f"{q}.mean"),
        numpy_helper.from_array((1.0 + 0.1 * rng.random(out_ch)).astype(np.float32), f"{q}.var"),
    ]
    nodes.append(helper.make_node("BatchNormalization",
                                  [f"{p}_out", f"{q}.scale", f"{q}.bias", f"{q}.mean", f"{q}.var"],
                                  [f"{q}_out"], name=q, epsilon=1e-5))
    r = f"relu{index}"
    nodes.append(helper.make_node("Relu", [f"{q}_out"], [f"{r}_out"], name=r))
    return f"{r}_out"


def main(path):
    rng = np.random.default_rng(20240601)
    nodes, inits = [], []
    x = conv_bn_relu(rng, 1, "image", 3, 16, nodes, inits)
    x = conv_bn_relu(rng, 2, x, 16, 32, nodes, inits)
    nodes.append(helper.make_node("MaxPool", [x], ["pool_out"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("GlobalAveragePool", ["pool_out"], ["gap_out"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap_out"], ["features"], name="flatten", axis=1))
    fc_w = (rng.standard_normal((10, 32)) * np.sqrt(1.0 / 32)).astype(np.float32)
    fc_b = (0.1 * rng.standard_normal(10)).astype(np.float32)
    inits += [numpy_helper.from_array(fc_w, "fc.weight"), numpy_helper.from_array(fc_b, "fc.bias")]
    nodes.append(helper.make_node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1))

    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kiln examples/make_tiny_cnn.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "tiny_cnn.onnx"))
