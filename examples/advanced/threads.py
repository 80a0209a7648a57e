#!/usr/bin/env python3
"""Several execution contexts on one engine, run from several threads at once (each context
owns its activations; the engine's weights are shared). Every thread's results match a
single-threaded run."""
import threading
import time

import numpy as np

import _common as c
import kiln

args = c.parse_args(__doc__, lambda p: p.add_argument("--threads", type=int, default=4))
network = kiln.Network.from_file(c.TINY_CNN)
config = c.config_for(args)
engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
rng = np.random.default_rng(0)
images = [rng.standard_normal((1, 3, 32, 32)).astype(np.float32) for _ in range(8)]

reference_context = engine.create_execution_context()
expected = [reference_context.execute(image=im)["probabilities"] for im in images]

contexts = [engine.create_execution_context() for _ in range(args.threads)]
errors, runs = [], [0] * args.threads


def worker(t):
    try:
        for rep in range(10):
            for i, im in enumerate(images):
                out = contexts[t].execute(image=im)["probabilities"]
                if not np.array_equal(out, expected[i]):
                    errors.append(f"thread {t}: image {i} differs")
                runs[t] += 1
    except Exception as e:  # reported below
        errors.append(f"thread {t}: {e}")


start = time.perf_counter()
threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
for th in threads:
    th.start()
for th in threads:
    th.join()
elapsed = time.perf_counter() - start
assert not errors, errors[:3]
print(f"{args.threads} threads x 1 context each on one {engine.device.name} engine: {sum(runs)} runs in "
      f"{elapsed * 1e3:.1f} ms, every output equal to the single-threaded run")
