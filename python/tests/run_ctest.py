#!/usr/bin/env python3
"""ctest entry (label python): runs this folder's pytest suite, or exits 77 (skipped) when
NumPy or pytest is missing. KILN_LIBRARY names the build's libkiln.so."""
import os
import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print(f"python tests skipped: {e} (Debian: apt-get install python3-numpy python3-pytest)")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
sys.exit(pytest.main([here, "-q", "-p", "no:cacheprovider", "-rs"] + sys.argv[1:]))
