#!/usr/bin/env python3
"""Several optimization profiles: one engine, three batch ranges; each input shape picks the
tightest profile holding it (kiln does it as the shape is set), and the results match NumPy."""
import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__)
network = kiln.Network.from_bytes(c.mlp_model())
config = c.config_for(args)
ranges = [(1, 2, 4), (5, 16, 32), (33, 64, 128)]
for lo, opt, hi in ranges:
    config.add_optimization_profile(c.batch_profile(lo, opt, hi))
engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
print(f"engine on {engine.device.name} with {engine.num_optimization_profiles} profiles:")
for p in range(engine.num_optimization_profiles):
    mn, opt, mx = engine.get_profile_shape("x", p)
    print(f"  profile {p}: x from {mn} to {mx} (tuned for {opt})")

context = engine.create_execution_context()
weights = c.mlp_weights()
rng = np.random.default_rng(0)
for batch in (3, 17, 100, 1):
    x = rng.standard_normal((batch, 8)).astype(np.float32)
    y = context.execute(x=x)["y"]
    err = float(np.abs(y - c.mlp_reference(x, weights)).max())
    expected = next(i for i, (lo, _, hi) in enumerate(ranges) if lo <= batch <= hi)
    assert context.optimization_profile == expected and err < 1e-4, (batch, context.optimization_profile, err)
    print(f"batch {batch:3d}: profile {context.optimization_profile}, y {y.shape}, max error vs NumPy {err:.1e}")

try:
    context.execute(x=np.zeros((200, 8), np.float32))
except kiln.InvalidArgumentError as e:
    print("batch 200: " + str(e).splitlines()[0])
