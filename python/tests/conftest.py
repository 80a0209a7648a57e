"""Shared fixtures: kiln imported from this source tree when it is not installed, small models."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples", "advanced"))  # _common: the ONNX writer
try:
    import kiln  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))

import _common  # noqa: E402
import kiln  # noqa: E402,F811


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU and PyTorch (skipped otherwise)")


@pytest.fixture
def tiny_cnn_path():
    return _common.TINY_CNN


@pytest.fixture
def mlp_bytes():
    return _common.mlp_model()


@pytest.fixture
def cpu_config():
    config = kiln.BuilderConfig()
    config.device = kiln.DeviceKind.CPU
    config.optimization_level = 1
    return config


@pytest.fixture
def mlp_engine(mlp_bytes, cpu_config):
    cpu_config.add_optimization_profile(_common.batch_profile(1, 4, 8))
    cpu_config.add_optimization_profile(_common.batch_profile(9, 16, 64))
    cpu_config.refittable = True
    return kiln.Engine(kiln.Builder().build_serialized_network(kiln.Network.from_bytes(mlp_bytes), cpu_config))
