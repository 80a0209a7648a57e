"""kiln: build, load and run ONNX inference engines (on the GPU, or on the CPU backend).

A pure-Python package over kiln's C API (libkiln.so), through ctypes: one install works on
any CPython >= 3.9. The library is found through KILN_LIBRARY, else the build this package
was installed from (see kiln._lib). The vocabulary is TensorRT's::

    import kiln, numpy as np
    network = kiln.Network.from_file("examples/tiny_cnn.onnx")
    config = kiln.BuilderConfig()
    engine = kiln.Engine(kiln.Builder().build_serialized_network(network, config))
    context = engine.create_execution_context()
    out = context.execute(image=np.zeros((1, 3, 32, 32), np.float32))["probabilities"]

Errors are kiln.Error subclasses (one per kiln::ErrorCode) carrying kiln's message.
"""
from ._errors import (BuildFailedError, CancelledError, Error, ErrorCode, ExecutionError, InternalError,
                      InvalidArgumentError, InvalidCacheError, InvalidModelError, InvalidPlanError, IoError,
                      UnsupportedError, error_class)
from ._types import (BuilderFlag, ContextMemory, DataType, DeviceKind, HardwareCompatibility, LayerInfo, Severity,
                     TacticInfo, TacticSource, TensorIOMode)
from ._lib import library_path
from ._core import (AlgorithmSelector, Builder, BuilderConfig, DeviceBuffer, Engine, ExecutionContext, ILogger,
                    Network, OptimizationProfile, PinnedBuffer, Profiler, ProgressMonitor, Refitter, Stream,
                    TimingCache, copy_to_device, copy_to_host, gpu_available, parse_onnx, set_log_level, set_logger,
                    synchronize, version)
from ._arrays import numpy_dtype

__version__ = version()

__all__ = [
    "AlgorithmSelector", "Builder", "BuilderConfig", "BuilderFlag", "BuildFailedError", "CancelledError",
    "ContextMemory", "DataType", "DeviceBuffer", "DeviceKind", "Engine", "Error", "ErrorCode", "ExecutionContext",
    "ExecutionError", "HardwareCompatibility", "ILogger", "InternalError", "InvalidArgumentError",
    "InvalidCacheError", "InvalidModelError", "InvalidPlanError", "IoError", "LayerInfo", "Network",
    "OptimizationProfile", "PinnedBuffer", "Profiler", "ProgressMonitor", "Refitter", "Severity", "Stream",
    "TacticInfo", "TacticSource", "TensorIOMode", "TimingCache", "UnsupportedError", "copy_to_device",
    "copy_to_host", "error_class", "gpu_available", "library_path", "numpy_dtype", "parse_onnx", "set_log_level",
    "set_logger", "synchronize", "version",
]
