#!/usr/bin/env python3
"""Hardware and version compatibility: a plan built for every Ampere-or-later GPU and for
later kiln versions records it; the engine says what it is compatible with, and a plan
loaded back runs the same. (On the CPU backend the hardware level is kept but has no
effect: CPU plans are for the machine's architecture.)"""
import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__)
network = kiln.Network.from_file(c.TINY_CNN)
image = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
results = {}
for hw, vc in ((kiln.HardwareCompatibility.SAME_ARCHITECTURE, False), (kiln.HardwareCompatibility.AMPERE_PLUS, True)):
    config = c.config_for(args)
    config.hardware_compatibility = hw
    config.version_compatible = vc
    plan = kiln.Builder().build_serialized_network(network, config)
    engine = kiln.Engine(plan)
    info = engine.compatibility
    print(f"built with hardware={hw.name}, version_compatible={vc}: {len(plan)} bytes")
    print(f"  plan says: device {info['device']} {info['architecture']}, hardware "
          f"{info['hardware_compatibility']}, version compatible {info['version_compatible']}, "
          f"format {info['format_version']}, kiln {info['kiln_version']}")
    assert info["version_compatible"] == vc
    results[hw] = kiln.Engine(engine.serialize()).create_execution_context().execute(image=image)["probabilities"]
a, b = results.values()
assert np.allclose(a, b, rtol=1e-3, atol=1e-4)
print(f"both plans run (reloaded) and agree: max difference {np.abs(a - b).max():.1e}")
try:
    kiln.Engine(b"not a plan")
except kiln.InvalidPlanError as e:
    print(f"a damaged plan is refused: {e}")
