#!/usr/bin/env python3
"""CUDA graphs: with graph mode on, a context captures its run once per input-shape signature
and replays it after; a new shape is captured again (the old graph is kept for when that
shape comes back). Results equal those without graphs. On the CPU graph mode does nothing."""
import time

import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__)
network = kiln.Network.from_bytes(c.mlp_model())
config = c.config_for(args)
config.add_optimization_profile(c.batch_profile(1, 8, 32))
engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
plain = engine.create_execution_context()
graphed = engine.create_execution_context()
graphed.cuda_graph_mode = True
gpu = engine.device == kiln.DeviceKind.GPU
rng = np.random.default_rng(0)

for batch in (8, 8, 16, 8):
    x = rng.standard_normal((batch, 8)).astype(np.float32)
    start = time.perf_counter()
    y = graphed.execute(x=x)["y"]
    ms = (time.perf_counter() - start) * 1e3
    assert np.array_equal(y, plain.execute(x=x)["y"])
    print(f"batch {batch:2d}: {ms:6.2f} ms, graphs held {graphed.cuda_graph_count}, same as without graphs")
if gpu:
    # batch 8, then 16 (a re-capture); batch 8 again replays, or captures once more when
    # execute() moved its staging buffers to fit batch 16 (graphs are keyed by addresses too).
    assert graphed.cuda_graph_count >= 2, graphed.cuda_graph_count
    print(f"the shape change was captured again: {graphed.cuda_graph_count} graphs held")
else:
    print("CPU engine: graph mode is accepted and runs normally (no graphs)")
