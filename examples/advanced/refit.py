#!/usr/bin/env python3
"""Refit: a refittable engine takes new weights in place, without a rebuild, and its outputs
follow (checked against NumPy). Weights fused at build time must be given together: giving
one lists the others as missing (a convolution folded with its BatchNorm)."""
import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__)
builder = kiln.Builder()

# 1. An MLP: new weights, outputs follow.
w1 = c.mlp_weights(seed=1)
config = c.config_for(args)
config.refittable = True
config.add_optimization_profile(c.batch_profile(1, 4, 8))
engine = kiln.Engine(builder.build_serialized_network(kiln.Network.from_bytes(c.mlp_model(w1)), config))
context = engine.create_execution_context()
x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
before = context.execute(x=x)["y"]
print(f"refittable weights: {kiln.Refitter(engine).weight_names}")
w2 = c.mlp_weights(seed=2)
refitter = kiln.Refitter(engine)
for name, value in w2.items():
    refitter.set_named_weights(name, value)
print(f"refitted: {refitter.refit()}")
after = context.execute(x=x)["y"]
err = float(np.abs(after - c.mlp_reference(x, w2)).max())
assert err < 1e-4 and not np.allclose(before, after)
print(f"outputs changed by {np.abs(after - before).max():.3f}; max error vs NumPy with the new weights {err:.1e}")

# 2. tiny_cnn: conv1 is folded with bn1, so conv1.weight alone is not enough.
config = c.config_for(args)
config.refittable = True
engine = kiln.Engine(builder.build_serialized_network(kiln.Network.from_file(c.TINY_CNN), config))
refitter = kiln.Refitter(engine)
refitter.set_named_weights("conv1.weight", np.zeros((16, 3, 3, 3), np.float32))
missing = refitter.get_missing()
print(f"conv1.weight alone: missing {missing}")
try:
    refitter.refit()
except kiln.InvalidArgumentError as e:
    print(f"refit() refuses: {e}")
assert missing
