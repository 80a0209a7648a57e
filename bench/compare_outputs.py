#!/usr/bin/env python3
"""Compares kiln's outputs (OUT_DIR/<name>.npy from `kiln run --output-dir`) with PyTorch's
(MODEL_DIR/torch_<name>.npy). Relative error = max |kiln - torch| / max |torch|.
    python3 bench/compare_outputs.py MODEL_DIR KILN_OUT_DIR TOLERANCE
Exit 1 when an output is past the tolerance."""
import glob
import os
import sys

import numpy as np

model_dir, kiln_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
ok = True
for ref_path in sorted(glob.glob(os.path.join(model_dir, "torch_*.npy"))):
    name = os.path.basename(ref_path)[len("torch_"):-len(".npy")]
    ref = np.load(ref_path).astype(np.float64)
    got_path = os.path.join(kiln_dir, name + ".npy")
    if not os.path.exists(got_path):
        print(f"{name}: missing from kiln's outputs")
        ok = False
        continue
    got = np.load(got_path).astype(np.float64)
    if got.shape != ref.shape:
        print(f"{name}: shape {got.shape}, expected {ref.shape}")
        ok = False
        continue
    rel = np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30)
    verdict = "PASS" if rel <= tol else "FAIL"
    ok = ok and rel <= tol
    print(f"{os.path.basename(model_dir)} {name}: relative error {rel:.3e} (tolerance {tol:g}) {verdict}")
sys.exit(0 if ok else 1)
