#!/usr/bin/env python3
"""The timing cache: the first build times every candidate tactic and records the times; a
second build with the same cache hits on every layer, does no timing, is faster, and makes
the same plan. The cache is saved to a file and loaded back."""
import os
import tempfile
import time

import _common as c
import kiln

args = c.parse_args(__doc__)
network = kiln.Network.from_file(c.TINY_CNN)
builder = kiln.Builder()


def build(cache):
    config = c.config_for(args, optimization_level=2)
    config.timing_cache = cache
    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    return plan, time.perf_counter() - start, builder.last_report["timing_cache"]


with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "kiln.cache")
    cache = kiln.TimingCache.load(path)  # a missing file: an empty cache
    plan1, t1, stats1 = build(cache)
    cache.save(path)
    print(f"first build : {t1 * 1e3:8.1f} ms, cache {stats1}, saved {len(cache)} entries "
          f"({os.path.getsize(path)} bytes)")
    loaded = kiln.TimingCache.load(path)
    plan2, t2, stats2 = build(loaded)
    print(f"second build: {t2 * 1e3:8.1f} ms, cache {stats2} ({t1 / max(t2, 1e-9):.1f}x faster)")
    assert stats2["misses"] == 0 and stats2["hits"] > 0, stats2
    assert plan1 == plan2, "the plans differ"
    print(f"same plan: {len(plan1)} bytes, byte for byte")
    entry = loaded.entries()[0]
    best = min(entry["timings"], key=lambda t: t["time_ms"])
    print(f"an entry: {entry['key'][:60]}... -> best {best['tactic']} {best['time_ms']:.4f} ms "
          f"of {len(entry['timings'])} timed")
