#!/usr/bin/env python3
"""An algorithm selector: sees every candidate tactic of every layer, denies the fastest
tactic of one layer (the builder then takes the next best), and is told every final choice.
The engine's layer list confirms the denied tactic was not chosen."""
import _common as c
import kiln

args = c.parse_args(__doc__, lambda p: p.add_argument("--layer", default="conv2",
                                                 help="layer to deny a tactic for (fused layers: conv2+bn2 matches too)"))


class DenyFastest(kiln.AlgorithmSelector):
    def __init__(self, layer):
        self.layer, self.denied, self.choices = layer, None, {}

    def select_algorithms(self, layer, op, profile, candidates):
        allowed = list(range(len(candidates)))
        if self.layer in layer.split("+") and len(candidates) > 1:
            fastest = min(allowed, key=lambda i: candidates[i].time_ms)
            self.denied = candidates[fastest]
            allowed.remove(fastest)
            print(f"{layer} ({op}): {len(candidates)} candidates; denying {self.denied.name} "
                  f"({self.denied.time_ms:.4f} ms)")
        return allowed

    def report_algorithms(self, profile, layers, choices):
        for layer, choice in zip(layers, choices):
            self.choices[layer] = choice


network = kiln.Network.from_file(c.TINY_CNN)
config = c.config_for(args, optimization_level=2)
selector = DenyFastest(args.layer)
config.algorithm_selector = selector
engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
print("choices reported:")
for layer, t in selector.choices.items():
    timed = f"{t.time_ms:.4f} ms" if t.time_ms >= 0 else "untimed"
    print(f"  {layer:10s} {t.source.label:9s} {t.name} ({timed})")
assert selector.choices, "no choices reported"
chosen = {l.name: l for l in engine.layers() if args.layer in l.name.split("+")}
if selector.denied is not None:
    (name, layer), = chosen.items()
    assert layer.tactic_id != selector.denied.id
    print(f"{name} runs {layer.tactic}, not the denied {selector.denied.name}")
else:
    print(f"{args.layer} had a single candidate on this device: nothing to deny")
