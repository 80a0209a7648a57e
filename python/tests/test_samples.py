"""Every sample of examples/advanced/ runs on the CPU backend and finishes cleanly."""
import glob
import os
import subprocess
import sys

import pytest

import _common

SAMPLES = sorted(p for p in glob.glob(os.path.join(_common.HERE, "*.py")) if not os.path.basename(p).startswith("_"))


def test_there_are_samples():
    assert len(SAMPLES) >= 9


@pytest.mark.parametrize("sample", SAMPLES, ids=[os.path.basename(s)[:-3] for s in SAMPLES])
def test_sample_runs_on_cpu(sample):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", "")
    import kiln
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(kiln.__file__)) + os.pathsep + env["PYTHONPATH"]
    env.setdefault("KILN_LIBRARY", kiln.library_path)
    r = subprocess.run([sys.executable, sample, "--device", "cpu"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip(), "the sample printed nothing"
