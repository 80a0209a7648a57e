"""`pip install ./python` works offline (--no-build-isolation --no-index) and the installed
package carries the path of the library it was built with."""
import os
import shutil
import subprocess
import sys

import pytest

import kiln

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_offline(tmp_path):
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if pip.returncode != 0:
        pytest.skip("pip is not available")
    src = tmp_path / "src"  # a copy: the build leaves nothing in the source tree
    shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                        "--disable-pip-version-check", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "kiln" / "__init__.py").exists() and (target / "kiln" / "py.typed").exists()
    if (src / "kiln" / "_libpath.txt").exists():
        assert (target / "kiln" / "_libpath.txt").read_text() == (src / "kiln" / "_libpath.txt").read_text()
    env = dict(os.environ, PYTHONPATH=str(target), KILN_LIBRARY=kiln.library_path)
    r = subprocess.run([sys.executable, "-c", "import kiln; print(kiln.__file__, kiln.version())"], env=env,
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0 and str(target) in r.stdout and kiln.version() in r.stdout, r.stdout + r.stderr


def test_kiln_library_override_is_reported(tmp_path):
    env = dict(os.environ, KILN_LIBRARY=str(tmp_path / "nope.so"), PYTHONPATH=os.path.dirname(os.path.dirname(
        kiln.__file__)))
    r = subprocess.run([sys.executable, "-c", "import kiln"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "nope.so" in r.stderr and "KILN_LIBRARY" in r.stderr
