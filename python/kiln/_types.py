"""kiln's enumerations (the values of the C and C++ APIs) and small value types."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List, Tuple

Shape = Tuple[int, ...]


class DataType(enum.IntEnum):
    """Element type of a tensor."""
    FLOAT = 0
    HALF = 1
    BF16 = 2
    DOUBLE = 3
    INT8 = 4
    UINT8 = 5
    INT16 = 6
    UINT16 = 7
    INT32 = 8
    UINT32 = 9
    INT64 = 10
    UINT64 = 11
    BOOL = 12

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return {0: 4, 1: 2, 2: 2, 3: 8, 4: 1, 5: 1, 6: 2, 7: 2, 8: 4, 9: 4, 10: 8, 11: 8, 12: 1}[int(self)]

    @property
    def label(self) -> str:
        """kiln's name of the type, as in its messages ("float32", "float16", "bfloat16", ...)."""
        return ("float32 float16 bfloat16 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64 "
                "bool").split()[int(self)]


class DeviceKind(enum.IntEnum):
    """Where an engine runs."""
    CPU = 0
    GPU = 1


class BuilderFlag(enum.IntEnum):
    """Switches of a build (BuilderConfig.set_flag)."""
    FP16 = 0  #: allow float16 tactics
    BF16 = 1  #: allow bfloat16 tactics
    TF32 = 2  #: allow TF32 tensor cores for float32 (GPU)
    REFIT = 3  #: the engine can be refitted with new weights
    STRIP_WEIGHTS = 4  #: with REFIT: the plan leaves the weights out
    VERSION_COMPATIBLE = 5  #: the plan may be loaded by later kiln versions


class HardwareCompatibility(enum.IntEnum):
    """Which GPUs an engine may run on."""
    SAME_ARCHITECTURE = 0  #: only the architecture it was built on (default)
    AMPERE_PLUS = 1  #: only tactics valid on every sm >= 80 GPU


class TacticSource(enum.IntEnum):
    """Where a tactic comes from."""
    REFERENCE = 0  #: kiln's CPU reference kernels
    CPU = 1  #: kiln's faster CPU kernels
    OPENBLAS = 2  #: OpenBLAS GEMM on the CPU
    KILN_CUDA = 3  #: kiln's own CUDA kernels
    CUBLAS = 4
    CUBLAS_LT = 5
    CUDNN = 6

    @classmethod
    def parse(cls, value: "TacticSource | str | int") -> "TacticSource":
        """A source from itself, its value, or a name as the tool takes ("cudnn", "cublaslt")."""
        if isinstance(value, cls):
            return value
        if isinstance(value, int):
            return cls(value)
        from . import _lib
        out = _lib.ctypes.c_int32()
        _lib.call("kiln_parse_tactic_source", _lib.enc(str(value)), _lib.ctypes.byref(out))
        return cls(out.value)

    @property
    def label(self) -> str:
        """kiln's name of the source ("reference", "cpu", "openblas", "kiln", "cublas", ...)."""
        return {0: "reference", 1: "cpu", 2: "openblas", 3: "kiln", 4: "cublas", 5: "cublaslt", 6: "cudnn"}[int(self)]


class TensorIOMode(enum.IntEnum):
    """Whether an engine tensor is an input or an output."""
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class ContextMemory(enum.IntEnum):
    """How an execution context gets its activation memory."""
    ENGINE_MANAGED = 0  #: allocated for its profile's max shapes
    USER_MANAGED = 1  #: none: call ExecutionContext.set_device_memory before running
    SHAPE_SIZED = 2  #: allocated for the shapes given (grown when they grow)


class Severity(enum.IntEnum):
    """Severity of a log message."""
    ERROR = 0
    WARNING = 1
    INFO = 2
    VERBOSE = 3


@dataclass(frozen=True)
class TacticInfo:
    """One candidate tactic of one layer, as the algorithm selector sees it."""
    source: TacticSource  #: where it comes from
    id: int  #: stable id (hash of source, kernel and configuration)
    name: str  #: kernel and configuration, human readable
    formats: str  #: tensor formats and precision, e.g. "fp32 linear"
    workspace: int  #: scratch bytes it needs
    time_ms: float  #: median time at the profile's opt shape; < 0 when untimed


@dataclass(frozen=True)
class LayerInfo:
    """A layer of a built engine and the tactic chosen for it."""
    name: str
    op: str
    tactic: str
    source: str
    tactic_id: int
    precision: str
    inputs: List[str] = field(default_factory=list)
    outputs: List[str] = field(default_factory=list)
