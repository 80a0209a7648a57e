#!/usr/bin/env python3
"""Tactic sources: the same model built with every source, then with some disabled; each
layer's chosen tactic and its source show the difference, and the outputs agree."""
import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__)
network = kiln.Network.from_file(c.TINY_CNN)
image = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)


def build(sources=None):
    config = c.config_for(args)
    if sources is not None:
        config.tactic_sources = sources
    print(f"sources {sorted(s.label for s in config.tactic_sources)}:")
    engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
    for layer in engine.layers():
        print(f"  {layer.name:10s} {layer.op:18s} {layer.source:9s} {layer.tactic}")
    return engine.create_execution_context().execute(image=image)["probabilities"]


everything = build()
if args.device == "gpu":
    limited = build(["kiln", "cublas"])  # no cuDNN, no cuBLASLt
else:
    limited = build(["reference"])  # the CPU reference kernels only
assert np.allclose(everything, limited, rtol=1e-3, atol=1e-4)
print(f"outputs agree (max difference {np.abs(everything - limited).max():.1e})")
