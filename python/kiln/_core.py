"""kiln's Python API over the C API: building, loading and running engines."""
from __future__ import annotations

import ctypes
import json
import os
import threading
from ctypes import byref, c_char_p, c_int32, c_size_t, c_void_p
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from . import _arrays
from ._errors import Error, InvalidArgumentError
from ._lib import (LOG_FN, PROFILER_FN, PROGRESS_FN, REPORT_FN, SELECT_FN, Dims, call, enc, lib, take_bytes,
                   take_list, take_string)
from ._types import (BuilderFlag, ContextMemory, DataType, DeviceKind, HardwareCompatibility, LayerInfo, Severity,
                     Shape, TacticInfo, TacticSource, TensorIOMode)

PathLike = Union[str, "os.PathLike[str]"]
BytesLike = Union[bytes, bytearray, memoryview]


def _out_i32(name: str, *args) -> int:
    v = c_int32()
    call(name, *args, byref(v))
    return v.value


def _out_size(name: str, *args) -> int:
    v = c_size_t()
    call(name, *args, byref(v))
    return v.value


def _out_dims(name: str, *args) -> Shape:
    d = Dims()
    call(name, *args, byref(d))
    return d.to_tuple()


def _buffer_of(data: BytesLike) -> Tuple[Any, int]:
    """A ctypes pointer to bytes-like data (copied only when it is not writable) and its size."""
    mv = memoryview(data).cast("B")
    n = mv.nbytes
    if n == 0:
        return None, 0
    if mv.readonly:
        buf = ctypes.create_string_buffer(bytes(mv), n)
    else:
        buf = (ctypes.c_char * n).from_buffer(mv)
    return buf, n


class _Handle:
    """Owns one C handle; freed by close(), `with`, or garbage collection."""
    _destroy: str = ""

    def __init__(self, handle: c_void_p):
        self._h = handle

    def close(self) -> None:
        """Frees the object now (it is unusable afterwards)."""
        h, self._h = getattr(self, "_h", None), None
        if h and self._destroy and lib is not None:
            getattr(lib, self._destroy)(h)

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def _handle(self) -> c_void_p:
        if not self._h:
            raise InvalidArgumentError(f"this {type(self).__name__} is closed")
        return self._h


# ---- library-wide -------------------------------------------------------------------------

def version() -> str:
    """kiln's version, "major.minor.patch"."""
    return lib.kiln_version().decode()


def gpu_available() -> bool:
    """True when kiln was built with CUDA and a GPU is usable."""
    return bool(lib.kiln_gpu_available())


class ILogger:
    """Receives kiln's log messages; subclass it and override :meth:`log`, then install it with
    :func:`set_logger`. Called from any thread; exceptions it raises are ignored."""

    def log(self, severity: Severity, message: str) -> None:
        """One message of the given :class:`Severity`."""
        raise NotImplementedError


_logger_state: Dict[str, Any] = {}


def set_logger(logger: Union[ILogger, Callable[[Severity, str], None], None]) -> None:
    """Sends kiln's messages to an :class:`ILogger` (or a function ``f(severity, message)``);
    None restores the default logger (warnings and errors on stderr)."""
    if logger is None:
        call("kiln_set_logger", LOG_FN(), None)
        _logger_state.clear()
        return
    fn = logger.log if isinstance(logger, ILogger) else logger

    def trampoline(user, severity, message):
        try:
            fn(Severity(severity), message.decode("utf-8", "replace"))
        except Exception:
            pass

    cb = LOG_FN(trampoline)
    call("kiln_set_logger", cb, None)
    _logger_state["cb"] = cb  # kept alive while installed
    _logger_state["logger"] = logger


def set_log_level(severity: Severity) -> None:
    """Messages above this :class:`Severity` are dropped (default WARNING)."""
    call("kiln_set_log_level", int(severity))


# ---- network ------------------------------------------------------------------------------

class Network(_Handle):
    """A model's graph after import (TensorRT's INetworkDefinition), made from an ONNX file
    with :meth:`from_file` or ONNX bytes with :meth:`from_bytes`; consumed by a :class:`Builder`.
    """
    _destroy = "kiln_network_destroy"

    @classmethod
    def from_file(cls, path: PathLike) -> "Network":
        """Parses an .onnx file (external data is read from its folder)."""
        h = c_void_p()
        call("kiln_network_parse_file", enc(os.fspath(path)), byref(h))
        return cls(h)

    @classmethod
    def from_bytes(cls, model: BytesLike, name: str = "model") -> "Network":
        """Parses an ONNX model held in memory; `name` names it in error messages."""
        buf, n = _buffer_of(model)
        h = c_void_p()
        call("kiln_network_parse", buf, n, enc(name), byref(h))
        return cls(h)

    @property
    def num_inputs(self) -> int:
        """Number of model inputs."""
        return _out_i32("kiln_network_num_inputs", self._handle)

    @property
    def num_outputs(self) -> int:
        """Number of model outputs."""
        return _out_i32("kiln_network_num_outputs", self._handle)

    @property
    def input_names(self) -> List[str]:
        """Names of the model inputs, in order."""
        out = []
        for i in range(self.num_inputs):
            s = c_char_p()
            call("kiln_network_input_name", self._handle, i, byref(s))
            out.append(s.value.decode())
        return out

    @property
    def output_names(self) -> List[str]:
        """Names of the model outputs, in order."""
        out = []
        for i in range(self.num_outputs):
            s = c_char_p()
            call("kiln_network_output_name", self._handle, i, byref(s))
            out.append(s.value.decode())
        return out

    @property
    def num_layers(self) -> int:
        """Number of layers (ONNX nodes after import)."""
        return _out_i32("kiln_network_num_layers", self._handle)

    @property
    def weight_names(self) -> List[str]:
        """The model's weights (ONNX initializers), in model order."""
        h = c_void_p()
        call("kiln_network_weight_names", self._handle, byref(h))
        return take_list(h)

    def get_tensor_dtype(self, name: str) -> DataType:
        """Element type of any tensor of the model."""
        return DataType(_out_i32("kiln_network_tensor_type", self._handle, enc(name)))

    def get_tensor_shape(self, name: str) -> Shape:
        """Shape of any tensor of the model; dynamic dimensions are negative."""
        return _out_dims("kiln_network_tensor_dims", self._handle, enc(name))

    def mark_debug(self, name: str) -> None:
        """Keeps an intermediate tensor readable after each run
        (:meth:`ExecutionContext.read_debug_tensor`)."""
        call("kiln_network_mark_debug", self._handle, enc(name))


def parse_onnx(model: Union[PathLike, BytesLike]) -> Network:
    """A :class:`Network` from an .onnx path or ONNX bytes."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return Network.from_bytes(model)
    return Network.from_file(model)


# ---- profile ------------------------------------------------------------------------------

class OptimizationProfile(_Handle):
    """min/opt/max shapes of every dynamic input. Tactics are timed at opt and valid over
    min..max; an engine built with several profiles picks, at run time, the tightest profile
    holding the given shapes."""
    _destroy = "kiln_profile_destroy"

    def __init__(self):
        h = c_void_p()
        call("kiln_profile_create", byref(h))
        super().__init__(h)
        self._inputs: List[str] = []

    def set_shape(self, input: str, min: Sequence[int], opt: Sequence[int], max: Sequence[int]) -> None:
        """Sets the range of `input` (checked by the build: min <= opt <= max)."""
        call("kiln_profile_set_dimensions", self._handle, enc(input), byref(Dims.of(min)), byref(Dims.of(opt)),
             byref(Dims.of(max)))
        if input not in self._inputs:
            self._inputs.append(input)

    def set_shape_values(self, input: str, min: Sequence[int], opt: Sequence[int], max: Sequence[int]) -> None:
        """Values of a shape input (an int32/int64 input whose values determine shapes, e.g. a
        Reshape's target): min <= opt <= max entry by entry (equal lists fix the profile's
        shapes); the build checks them."""
        if not (len(min) == len(opt) == len(max)):
            raise InvalidArgumentError(f"shape values of '{input}': min, opt and max differ in length")
        arrays = [(ctypes.c_int64 * len(v))(*[int(x) for x in v]) for v in (min, opt, max)]
        call("kiln_profile_set_shape_values", self._handle, enc(input), *arrays, len(min))

    def get_shape(self, input: str) -> Tuple[Shape, Shape, Shape]:
        """(min, opt, max) of `input`; InvalidArgumentError when it has none."""
        mn, op, mx = Dims(), Dims(), Dims()
        call("kiln_profile_get_dimensions", self._handle, enc(input), byref(mn), byref(op), byref(mx))
        return mn.to_tuple(), op.to_tuple(), mx.to_tuple()

    @property
    def inputs(self) -> List[str]:
        """The inputs given a range, in the order they were set."""
        return list(self._inputs)

    def __repr__(self) -> str:
        parts = []
        for name in self._inputs:
            mn, op, mx = self.get_shape(name)
            parts.append(f"{name}: {list(mn)}..{list(op)}..{list(mx)}")
        return "OptimizationProfile(" + ", ".join(parts) + ")"


# ---- timing cache -------------------------------------------------------------------------

class TimingCache(_Handle):
    """Measured tactic times keyed by layer signature and device. Shared by builds (set it
    with :attr:`BuilderConfig.timing_cache`): a build whose every layer hits does no timing.
    ``TimingCache()`` is empty; :meth:`load` and :meth:`from_bytes` read saved ones."""
    _destroy = "kiln_timing_cache_destroy"

    def __init__(self, _handle: Optional[c_void_p] = None):
        if _handle is None:
            _handle = c_void_p()
            call("kiln_timing_cache_create", byref(_handle))
        super().__init__(_handle)

    @classmethod
    def from_bytes(cls, data: BytesLike) -> "TimingCache":
        """A cache from :meth:`serialize`'s bytes; InvalidCacheError when damaged."""
        buf, n = _buffer_of(data)
        h = c_void_p()
        call("kiln_timing_cache_deserialize", buf, n, byref(h))
        return cls(h)

    @classmethod
    def load(cls, path: PathLike) -> "TimingCache":
        """A cache file; a missing file gives an empty cache, a damaged one InvalidCacheError."""
        h = c_void_p()
        call("kiln_timing_cache_load", enc(os.fspath(path)), byref(h))
        return cls(h)

    def serialize(self) -> bytes:
        """The cache as bytes."""
        p, n = c_void_p(), c_size_t()
        call("kiln_timing_cache_serialize", self._handle, byref(p), byref(n))
        return take_bytes(p, n.value)

    def save(self, path: PathLike) -> None:
        """Writes the cache atomically."""
        call("kiln_timing_cache_save", self._handle, enc(os.fspath(path)))

    def combine(self, other: "TimingCache") -> None:
        """Adds `other`'s entries; on conflict the faster measurement wins."""
        call("kiln_timing_cache_combine", self._handle, other._handle)

    def entries(self) -> List[Dict[str, Any]]:
        """Every entry: {"key", "device", "timings": [{"tactic_id", "tactic", "time_ms"}]}."""
        p = c_void_p()
        call("kiln_timing_cache_entries_json", self._handle, byref(p))
        return json.loads(take_string(p))

    def __len__(self) -> int:
        return _out_size("kiln_timing_cache_size", self._handle)

    def __repr__(self) -> str:
        return f"TimingCache({len(self)} entries)"


# ---- builder callbacks --------------------------------------------------------------------

class AlgorithmSelector:
    """Sees every candidate tactic of every layer and decides which the builder may choose.
    Subclass it, override :meth:`select_algorithms` (and :meth:`report_algorithms` to see
    the final choices), and set it as :attr:`BuilderConfig.algorithm_selector`. An exception
    raised here fails the build and is re-raised by the build call."""

    def select_algorithms(self, layer: str, op: str, profile: int, candidates: List[TacticInfo]) -> Iterable[int]:
        """Indices into `candidates` the builder may choose for `layer` (an ONNX op type `op`)
        in `profile`. Returning none is a build error naming the layer. Default: all."""
        return range(len(candidates))

    def report_algorithms(self, profile: int, layers: List[str], choices: List[TacticInfo]) -> None:
        """The final choice of each layer of `profile`, in layer order. Default: nothing."""


class ProgressMonitor:
    """Sees a build progress and may cancel it: subclass it, override :meth:`layer_done`,
    and set it as :attr:`BuilderConfig.progress_monitor`."""

    def layer_done(self, done: int, total: int, layer: str) -> bool:
        """`done` of `total` layers (over all profiles) are built, `layer` just now. Return
        False to cancel the build (it raises CancelledError and produces nothing)."""
        return True


class Profiler:
    """Receives each layer's time after each run: subclass it, override
    :meth:`report_layer_time`, and set it as :attr:`ExecutionContext.profiler`."""

    def report_layer_time(self, layer: str, tactic: str, source: TacticSource, ms: float) -> None:
        """One layer's time in milliseconds (in layer order, once per run)."""
        raise NotImplementedError


def _tactic(c) -> TacticInfo:
    return TacticInfo(TacticSource(c.source), int(c.id), c.name.decode("utf-8", "replace"),
                      c.formats.decode("utf-8", "replace"), int(c.workspace), float(c.time_ms))


class _CallbackErrors:
    """The first exception a Python callback raised during a C call, re-raised after it."""

    def __init__(self):
        self.error: Optional[BaseException] = None

    def keep(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e

    def reraise(self, cause: Optional[BaseException] = None) -> None:
        e, self.error = self.error, None
        if e is not None:
            raise e from cause


# ---- builder configuration ----------------------------------------------------------------

_Source = Union[TacticSource, str, int]


class BuilderConfig(_Handle):
    """How to build an engine: precision, optimization profiles, tactic sources, workspace,
    optimization level, hardware and version compatibility, timing cache, algorithm selector
    and progress monitor.

    Example::

        config = kiln.BuilderConfig()
        config.device = kiln.DeviceKind.CPU
        config.fp16 = True
        profile = kiln.OptimizationProfile()
        profile.set_shape("x", (1, 8), (4, 8), (16, 8))
        config.add_optimization_profile(profile)
        config.timing_cache = kiln.TimingCache.load("kiln.cache")
    """
    _destroy = "kiln_builder_config_destroy"

    def __init__(self):
        h = c_void_p()
        call("kiln_builder_config_create", byref(h))
        super().__init__(h)
        self._timing_cache: Optional[TimingCache] = None
        self._selector: Optional[AlgorithmSelector] = None
        self._monitor: Optional[ProgressMonitor] = None
        self._callbacks: Tuple[Any, ...] = ()
        self._errors = _CallbackErrors()
        self._profiles: List[OptimizationProfile] = []

    # flags and precision
    def set_flag(self, flag: BuilderFlag, on: bool = True) -> None:
        """Sets (or clears, with on=False) a :class:`BuilderFlag`."""
        call("kiln_builder_config_set_flag", self._handle, int(flag), int(bool(on)))

    def clear_flag(self, flag: BuilderFlag) -> None:
        """Clears a :class:`BuilderFlag`."""
        self.set_flag(flag, False)

    def get_flag(self, flag: BuilderFlag) -> bool:
        """Whether a :class:`BuilderFlag` is set."""
        return bool(_out_i32("kiln_builder_config_get_flag", self._handle, int(flag)))

    @property
    def flags(self) -> Set[BuilderFlag]:
        """The flags set, as a set of :class:`BuilderFlag` (assign a set to replace them)."""
        return {f for f in BuilderFlag if self.get_flag(f)}

    @flags.setter
    def flags(self, flags: Iterable[BuilderFlag]) -> None:
        wanted = {BuilderFlag(f) for f in flags}
        for f in BuilderFlag:
            self.set_flag(f, f in wanted)

    fp16 = property(lambda self: self.get_flag(BuilderFlag.FP16),
                    lambda self, on: self.set_flag(BuilderFlag.FP16, on),
                    doc="Allow float16 tactics (BuilderFlag.FP16).")
    bf16 = property(lambda self: self.get_flag(BuilderFlag.BF16),
                    lambda self, on: self.set_flag(BuilderFlag.BF16, on),
                    doc="Allow bfloat16 tactics (BuilderFlag.BF16).")
    tf32 = property(lambda self: self.get_flag(BuilderFlag.TF32),
                    lambda self, on: self.set_flag(BuilderFlag.TF32, on),
                    doc="Allow TF32 tensor cores for float32 on the GPU (BuilderFlag.TF32).")
    refittable = property(lambda self: self.get_flag(BuilderFlag.REFIT),
                          lambda self, on: self.set_flag(BuilderFlag.REFIT, on),
                          doc="The engine can take new weights with a Refitter (BuilderFlag.REFIT).")
    version_compatible = property(lambda self: self.get_flag(BuilderFlag.VERSION_COMPATIBLE),
                                  lambda self, on: self.set_flag(BuilderFlag.VERSION_COMPATIBLE, on),
                                  doc="Later kiln versions may load the plan (BuilderFlag.VERSION_COMPATIBLE).")

    # profiles
    def add_optimization_profile(self, profile: OptimizationProfile) -> int:
        """Adds a copy of `profile`; returns its index. Validated by the build."""
        i = _out_i32("kiln_builder_config_add_optimization_profile", self._handle, profile._handle)
        self._profiles.append(profile)
        return i

    @property
    def num_optimization_profiles(self) -> int:
        """Number of profiles added."""
        return _out_i32("kiln_builder_config_num_optimization_profiles", self._handle)

    # tactic sources
    def set_tactic_source(self, source: _Source, enabled: bool = True) -> None:
        """Enables or disables one :class:`TacticSource` (or its name: "cudnn", "openblas")."""
        call("kiln_builder_config_set_tactic_source", self._handle, int(TacticSource.parse(source)),
             int(bool(enabled)))

    def get_tactic_source(self, source: _Source) -> bool:
        """Whether a :class:`TacticSource` is enabled."""
        return bool(_out_i32("kiln_builder_config_get_tactic_source", self._handle, int(TacticSource.parse(source))))

    @property
    def tactic_sources(self) -> Set[TacticSource]:
        """The enabled tactic sources; assign an iterable of sources (or names) to enable
        exactly those."""
        return {s for s in TacticSource if self.get_tactic_source(s)}

    @tactic_sources.setter
    def tactic_sources(self, sources: Iterable[_Source]) -> None:
        wanted = {TacticSource.parse(s) for s in sources}
        for s in TacticSource:
            self.set_tactic_source(s, s in wanted)

    # limits and levels
    @property
    def workspace_limit(self) -> int:
        """Largest scratch memory a tactic may use, in bytes (default 1 GiB)."""
        return _out_size("kiln_builder_config_get_workspace_limit", self._handle)

    @workspace_limit.setter
    def workspace_limit(self, nbytes: int) -> None:
        call("kiln_builder_config_set_workspace_limit", self._handle, int(nbytes))

    @property
    def optimization_level(self) -> int:
        """0: first valid tactic, no timing; 1..5: more candidates and repeats (default 3)."""
        return _out_i32("kiln_builder_config_get_optimization_level", self._handle)

    @optimization_level.setter
    def optimization_level(self, level: int) -> None:
        call("kiln_builder_config_set_optimization_level", self._handle, int(level))

    @property
    def hardware_compatibility(self) -> HardwareCompatibility:
        """Which GPUs the engine may run on (:class:`HardwareCompatibility`)."""
        return HardwareCompatibility(_out_i32("kiln_builder_config_get_hardware_compatibility", self._handle))

    @hardware_compatibility.setter
    def hardware_compatibility(self, level: HardwareCompatibility) -> None:
        call("kiln_builder_config_set_hardware_compatibility", self._handle, int(level))

    @property
    def device(self) -> DeviceKind:
        """Where the engine runs (default: the GPU when one is usable, else the CPU); also
        accepts "cpu" / "gpu"."""
        return DeviceKind(_out_i32("kiln_builder_config_get_device", self._handle))

    @device.setter
    def device(self, device: Union[DeviceKind, str]) -> None:
        if isinstance(device, str):
            device = DeviceKind[device.upper()]
        call("kiln_builder_config_set_device", self._handle, int(device))

    # attached objects
    @property
    def timing_cache(self) -> Optional[TimingCache]:
        """The :class:`TimingCache` builds read and update (None: none)."""
        return self._timing_cache

    @timing_cache.setter
    def timing_cache(self, cache: Optional[TimingCache]) -> None:
        call("kiln_builder_config_set_timing_cache", self._handle, cache._handle if cache is not None else None)
        self._timing_cache = cache

    @property
    def algorithm_selector(self) -> Optional[AlgorithmSelector]:
        """An :class:`AlgorithmSelector` consulted for every layer (None: all candidates)."""
        return self._selector

    @algorithm_selector.setter
    def algorithm_selector(self, selector: Optional[AlgorithmSelector]) -> None:
        if selector is None:
            call("kiln_builder_config_set_algorithm_selector", self._handle, SELECT_FN(), REPORT_FN(), None)
            self._selector = None
            self._refresh_callbacks()
            return
        errors = self._errors

        def select(user, layer, op, profile, cands, n, selected, num_selected):
            try:
                infos = [_tactic(cands[i]) for i in range(n)]
                chosen = [int(i) for i in selector.select_algorithms(layer.decode(), op.decode(), profile, infos)]
                if len(chosen) > n:
                    raise InvalidArgumentError(f"algorithm selector chose {len(chosen)} of {n} candidates")
                for j, i in enumerate(chosen):
                    if not 0 <= i < n:
                        raise InvalidArgumentError(
                            f"algorithm selector returned index {i} for layer '{layer.decode()}' ({n} candidates)")
                    selected[j] = i
                num_selected[0] = len(chosen)
                return 0
            except BaseException as e:  # noqa: B902 - re-raised by the build
                errors.keep(e)
                return 1

        def report(user, profile, layers, choices, count):
            try:
                selector.report_algorithms(profile, [layers[i].decode() for i in range(count)],
                                           [_tactic(choices[i]) for i in range(count)])
            except BaseException as e:  # noqa: B902
                errors.keep(e)

        self._select_cb, self._report_cb = SELECT_FN(select), REPORT_FN(report)
        call("kiln_builder_config_set_algorithm_selector", self._handle, self._select_cb, self._report_cb, None)
        self._selector = selector
        self._refresh_callbacks()

    @property
    def progress_monitor(self) -> Optional[ProgressMonitor]:
        """A :class:`ProgressMonitor` told of each layer built; it may cancel the build."""
        return self._monitor

    @progress_monitor.setter
    def progress_monitor(self, monitor: Optional[ProgressMonitor]) -> None:
        if monitor is None:
            call("kiln_builder_config_set_progress_monitor", self._handle, PROGRESS_FN(), None)
            self._monitor = None
            self._refresh_callbacks()
            return
        errors = self._errors

        def progress(user, done, total, layer):
            try:
                return 1 if monitor.layer_done(done, total, layer.decode()) else 0
            except BaseException as e:  # noqa: B902
                errors.keep(e)
                return 0

        self._progress_cb = PROGRESS_FN(progress)
        call("kiln_builder_config_set_progress_monitor", self._handle, self._progress_cb, None)
        self._monitor = monitor
        self._refresh_callbacks()

    def _refresh_callbacks(self) -> None:
        # ctypes callbacks must outlive their use by the C side: kept on the config.
        self._callbacks = tuple(getattr(self, a) for a in ("_select_cb", "_report_cb", "_progress_cb")
                                if hasattr(self, a))

    def __repr__(self) -> str:
        return (f"BuilderConfig(device={self.device.name}, flags={sorted(f.name for f in self.flags)}, "
                f"profiles={self.num_optimization_profiles}, optimization_level={self.optimization_level}, "
                f"workspace_limit={self.workspace_limit})")


# ---- builder ------------------------------------------------------------------------------

class Builder:
    """Builds engines: a :class:`Network` and a :class:`BuilderConfig` in, a serialized plan
    (or an :class:`Engine`) out. :attr:`last_report` holds the last build's report."""

    def __init__(self):
        self.last_report: Optional[Dict[str, Any]] = None

    @staticmethod
    def gpu_available() -> bool:
        """True when kiln was built with CUDA and a GPU is usable."""
        return gpu_available()

    def create_network(self, model: Union[PathLike, BytesLike]) -> Network:
        """Parses an ONNX model (a path or bytes) into a :class:`Network`."""
        return parse_onnx(model)

    def create_builder_config(self) -> BuilderConfig:
        """A new :class:`BuilderConfig`."""
        return BuilderConfig()

    def create_optimization_profile(self) -> OptimizationProfile:
        """A new :class:`OptimizationProfile`."""
        return OptimizationProfile()

    def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytes:
        """Builds and serializes an engine (a plan: save it, or load it with :class:`Engine`).
        The build report (per layer candidates, times and choice; timing cache hits and
        misses; wall time) is kept in :attr:`last_report`. Raises BuildFailedError,
        CancelledError, InvalidArgumentError (naming the profile or input), ...; an exception
        raised by the algorithm selector or progress monitor is re-raised as it is."""
        plan, size, report = c_void_p(), c_size_t(), c_void_p()
        status = lib.kiln_build_serialized_network(network._handle, config._handle, byref(plan), byref(size),
                                                   byref(report))
        if status != 0:
            from ._errors import _raise_for
            try:
                _raise_for(status, lib.kiln_last_error().decode("utf-8", "replace"))
            except Error as e:
                config._errors.reraise(e)
                raise
        config._errors.reraise()
        self.last_report = json.loads(take_string(report)) if report else None
        return take_bytes(plan, size.value)

    def build_engine(self, network: Network, config: BuilderConfig) -> "Engine":
        """Builds an engine and loads it (:meth:`build_serialized_network` + :class:`Engine`)."""
        return Engine(self.build_serialized_network(network, config))


# ---- memory and streams -------------------------------------------------------------------

class Stream(_Handle):
    """A stream on a device (a cudaStream_t on the GPU; None and synchronous on the CPU).
    Pass it (or its :attr:`handle`) to :meth:`ExecutionContext.execute_async`."""
    _destroy = "kiln_stream_destroy"

    def __init__(self, device: Union[DeviceKind, str] = DeviceKind.GPU):
        if isinstance(device, str):
            device = DeviceKind[device.upper()]
        h = c_void_p()
        call("kiln_stream_create", int(device), byref(h))
        super().__init__(h)
        self.device = DeviceKind(device)

    @property
    def handle(self) -> Optional[int]:
        """The raw cudaStream_t as an int (None on the CPU)."""
        return lib.kiln_stream_handle(self._handle)

    def synchronize(self) -> None:
        """Waits for everything queued on the stream."""
        call("kiln_synchronize", int(self.device), self.handle)


class DeviceBuffer(_Handle):
    """Memory on a device (host memory for DeviceKind.CPU); :attr:`ptr` is its address."""
    _destroy = "kiln_buffer_destroy"
    _pinned = 0

    def __init__(self, nbytes: int, device: Union[DeviceKind, str] = DeviceKind.GPU):
        if isinstance(device, str):
            device = DeviceKind[device.upper()]
        h = c_void_p()
        call("kiln_buffer_create", int(device), self._pinned, int(nbytes), byref(h))
        super().__init__(h)
        self.device = DeviceKind(device)
        self.nbytes = int(nbytes)

    @property
    def ptr(self) -> int:
        """The address of the memory."""
        return lib.kiln_buffer_data(self._handle) or 0


class PinnedBuffer(DeviceBuffer):
    """Page-locked host memory (plain host memory on CPU-only machines), so that copies
    overlap compute; :meth:`array` views it as a NumPy array."""
    _pinned = 1

    def array(self, shape: Sequence[int], dtype: Any = "float32"):
        """A NumPy array over this memory (no copy; valid while the buffer lives)."""
        np = _arrays.np
        dt = np.dtype(dtype)
        n = int(np.prod(shape)) if len(shape) else 1
        if n * dt.itemsize > self.nbytes:
            raise InvalidArgumentError(f"{n * dt.itemsize} bytes do not fit in a {self.nbytes}-byte buffer")
        raw = (ctypes.c_char * max(n * dt.itemsize, 1)).from_address(self.ptr)
        arr = np.frombuffer(raw, dtype=dt, count=n).reshape(tuple(shape))
        return arr


def copy_to_device(device: DeviceKind, dst: int, src: int, nbytes: int, stream: Any = None) -> None:
    """Copies host memory to the device on `stream` (asynchronous on the GPU)."""
    call("kiln_copy_to_device", int(device), dst, src, int(nbytes), _arrays.stream_handle(stream))


def copy_to_host(device: DeviceKind, dst: int, src: int, nbytes: int, stream: Any = None) -> None:
    """Copies device memory to the host on `stream` (asynchronous on the GPU)."""
    call("kiln_copy_to_host", int(device), dst, src, int(nbytes), _arrays.stream_handle(stream))


def synchronize(device: DeviceKind, stream: Any = None) -> None:
    """Waits for everything queued on `stream` (None: the default stream)."""
    call("kiln_synchronize", int(device), _arrays.stream_handle(stream))


# ---- engine -------------------------------------------------------------------------------

class Engine(_Handle):
    """An optimized model loaded from a plan: ``Engine(plan_bytes)`` or ``Engine("model.plan")``
    (a weight-stripped plan needs `weights`: an .onnx or .safetensors file). Immutable and
    shared: any number of :class:`ExecutionContext` run it at once, from any threads."""
    _destroy = "kiln_engine_destroy"

    def __init__(self, plan: Union[BytesLike, PathLike], weights: Optional[PathLike] = None):
        h = c_void_p()
        w = enc(os.fspath(weights)) if weights is not None else None
        if isinstance(plan, (bytes, bytearray, memoryview)):
            buf, n = _buffer_of(plan)
            call("kiln_engine_deserialize", buf, n, w, byref(h))
        else:
            call("kiln_engine_load", enc(os.fspath(plan)), w, byref(h))
        super().__init__(h)
        self._names = []
        for i in range(_out_i32("kiln_engine_num_io_tensors", self._handle)):
            s = c_char_p()
            call("kiln_engine_io_tensor_name", self._handle, i, byref(s))
            self._names.append(s.value.decode())
        self._device = DeviceKind(_out_i32("kiln_engine_device", self._handle))

    @classmethod
    def from_bytes(cls, plan: BytesLike, weights: Optional[PathLike] = None) -> "Engine":
        """An engine from plan bytes."""
        return cls(bytes(plan) if isinstance(plan, memoryview) else plan, weights)

    @classmethod
    def load(cls, path: PathLike, weights: Optional[PathLike] = None) -> "Engine":
        """An engine from a plan file."""
        return cls(os.fspath(path), weights)

    def serialize(self) -> bytes:
        """The plan, with the current (possibly refitted) weights."""
        p, n = c_void_p(), c_size_t()
        call("kiln_engine_serialize", self._handle, byref(p), byref(n))
        return take_bytes(p, n.value)

    def save(self, path: PathLike) -> None:
        """Writes the plan atomically."""
        call("kiln_engine_save", self._handle, enc(os.fspath(path)))

    @property
    def device(self) -> DeviceKind:
        """Where the engine runs."""
        return self._device

    @property
    def num_io_tensors(self) -> int:
        """Number of inputs and outputs."""
        return len(self._names)

    @property
    def io_tensor_names(self) -> List[str]:
        """Names of the inputs and outputs."""
        return list(self._names)

    @property
    def input_names(self) -> List[str]:
        """Names of the inputs."""
        return [n for n in self._names if self.get_tensor_mode(n) == TensorIOMode.INPUT]

    @property
    def output_names(self) -> List[str]:
        """Names of the outputs."""
        return [n for n in self._names if self.get_tensor_mode(n) == TensorIOMode.OUTPUT]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        """INPUT, OUTPUT or NONE."""
        return TensorIOMode(_out_i32("kiln_engine_tensor_io_mode", self._handle, enc(name)))

    def get_tensor_dtype(self, name: str) -> DataType:
        """Element type of an I/O tensor."""
        return DataType(_out_i32("kiln_engine_tensor_type", self._handle, enc(name)))

    def get_tensor_shape(self, name: str) -> Shape:
        """Shape as built; dynamic dimensions are -1."""
        return _out_dims("kiln_engine_tensor_shape", self._handle, enc(name))

    @property
    def num_optimization_profiles(self) -> int:
        """Number of optimization profiles."""
        return _out_i32("kiln_engine_num_optimization_profiles", self._handle)

    def get_profile_shape(self, input: str, profile: int = 0) -> Tuple[Shape, Shape, Shape]:
        """(min, opt, max) of `input` in `profile`."""
        mn, op, mx = Dims(), Dims(), Dims()
        call("kiln_engine_profile_dims", self._handle, enc(input), int(profile), byref(mn), byref(op), byref(mx))
        return mn.to_tuple(), op.to_tuple(), mx.to_tuple()

    def is_shape_input(self, input: str) -> bool:
        """True for a shape input: give its values with
        :meth:`ExecutionContext.set_input_shape_values` (it needs no tensor address)."""
        return _out_i32("kiln_engine_is_shape_input", self._handle, enc(input)) != 0

    def device_memory_size(self, profile: int = 0) -> int:
        """Activation memory a context needs for `profile`'s max shapes, in bytes."""
        return _out_size("kiln_engine_device_memory_size", self._handle, int(profile))

    @property
    def weights_size(self) -> int:
        """Bytes of weights."""
        return _out_size("kiln_engine_weights_size", self._handle)

    @property
    def refittable(self) -> bool:
        """Whether a :class:`Refitter` can change the weights."""
        return bool(_out_i32("kiln_engine_refittable", self._handle))

    @property
    def weights_stripped(self) -> bool:
        """Whether the plan was saved without its weights."""
        return bool(_out_i32("kiln_engine_weights_stripped", self._handle))

    @property
    def debug_tensors(self) -> List[str]:
        """Tensors marked with :meth:`Network.mark_debug`."""
        h = c_void_p()
        call("kiln_engine_debug_tensors", self._handle, byref(h))
        return take_list(h)

    def layers(self, profile: int = 0) -> List[LayerInfo]:
        """Every layer with its chosen tactic, source and precision."""
        p = c_void_p()
        call("kiln_engine_layers_json", self._handle, int(profile), byref(p))
        return [LayerInfo(**d) for d in json.loads(take_string(p))]

    @property
    def compatibility(self) -> Dict[str, Any]:
        """{"format_version", "kiln_version", "device", "architecture",
        "hardware_compatibility", "version_compatible"}."""
        p = c_void_p()
        call("kiln_engine_compatibility_json", self._handle, byref(p))
        return json.loads(take_string(p))

    def create_execution_context(self, memory: ContextMemory = ContextMemory.ENGINE_MANAGED) -> "ExecutionContext":
        """A new :class:`ExecutionContext` (its own activations, shapes and CUDA graphs)."""
        h = c_void_p()
        call("kiln_engine_create_execution_context", self._handle, int(memory), byref(h))
        return ExecutionContext(h, self)

    def __repr__(self) -> str:
        return f"Engine({self.device.name}, inputs={self.input_names}, outputs={self.output_names})"


# ---- execution context --------------------------------------------------------------------

class ExecutionContext(_Handle):
    """One in-flight use of an :class:`Engine`: its own activation memory, profile, shapes
    and CUDA graphs. Use a context from one thread at a time; many contexts of one engine run
    concurrently (the GIL is released while kiln runs).

    The simple way is :meth:`execute`, with NumPy arrays or GPU tensors (PyTorch, CuPy: no
    copy). The TensorRT way is :meth:`set_input_shape` + :meth:`set_tensor_address` +
    :meth:`execute_async`."""
    _destroy = "kiln_context_destroy"

    def __init__(self, handle: c_void_p, engine: Engine):
        super().__init__(handle)
        self._engine = engine  # the C context keeps the engine's state; this keeps the object
        self._profiler: Optional[Profiler] = None
        self._profiler_cb = None
        self._errors = _CallbackErrors()
        self._staging: Dict[str, DeviceBuffer] = {}
        self._stream: Optional[Stream] = None

    @property
    def engine(self) -> Engine:
        """The engine this context runs."""
        return self._engine

    @property
    def optimization_profile(self) -> int:
        """The profile in use; assign one to choose it explicitly (else kiln picks the
        tightest profile holding the input shapes given)."""
        return _out_i32("kiln_context_get_optimization_profile", self._handle)

    @optimization_profile.setter
    def optimization_profile(self, profile: int) -> None:
        self.set_optimization_profile(profile)

    def set_optimization_profile(self, profile: int) -> None:
        """Selects a profile explicitly; InvalidArgumentError when out of range."""
        call("kiln_context_set_optimization_profile", self._handle, int(profile))

    def set_input_shape(self, name: str, shape: Sequence[int]) -> None:
        """Sets an input's shape; InvalidArgumentError naming the input and the profile's
        range when it does not fit."""
        call("kiln_context_set_input_shape", self._handle, enc(name), byref(Dims.of(shape)))

    def set_input_shape_values(self, name: str, values: Sequence[int]) -> None:
        """Gives a shape input its values (on the host); InvalidArgumentError naming the input
        when they lie outside its profile's min..max."""
        arr = (ctypes.c_int64 * len(values))(*[int(v) for v in values])
        call("kiln_context_set_input_shape_values", self._handle, enc(name), arr, len(values))

    def get_tensor_shape(self, name: str) -> Shape:
        """Shape of an I/O tensor for the shapes set so far (outputs are inferred)."""
        return _out_dims("kiln_context_get_tensor_shape", self._handle, enc(name))

    @property
    def all_input_shapes_specified(self) -> bool:
        """Whether every input has a shape."""
        return bool(_out_i32("kiln_context_all_input_shapes_specified", self._handle))

    def set_tensor_address(self, name: str, address: int) -> None:
        """Binds an I/O tensor to memory on the engine's device (host memory for CPU engines)."""
        call("kiln_context_set_tensor_address", self._handle, enc(name), c_void_p(int(address)))

    def get_tensor_address(self, name: str) -> int:
        """The address bound to an I/O tensor (0 when none)."""
        p = c_void_p()
        call("kiln_context_get_tensor_address", self._handle, enc(name), byref(p))
        return p.value or 0

    def set_device_memory(self, address: int, size: int) -> None:
        """For ContextMemory.USER_MANAGED: activation memory of :attr:`required_memory_size`
        bytes, owned by the caller and kept while the context lives."""
        call("kiln_context_set_device_memory", self._handle, c_void_p(int(address)), int(size))

    @property
    def required_memory_size(self) -> int:
        """Activation memory this context needs, in bytes."""
        return _out_size("kiln_context_required_memory_size", self._handle)

    def execute_async(self, stream: Any = None) -> None:
        """Runs on `stream` (an int cudaStream_t, :class:`Stream`, torch.cuda.Stream, CuPy
        stream; None: the default stream) with the bound addresses. Does not synchronize on
        the GPU; synchronous on the CPU."""
        h = _arrays.stream_handle(stream)
        status = lib.kiln_context_enqueue(self._handle, h)
        self._check(status)

    def _check(self, status: int) -> None:
        if status != 0:
            from ._errors import _raise_for
            try:
                _raise_for(status, lib.kiln_last_error().decode("utf-8", "replace"))
            except Error as e:
                self._errors.reraise(e)
                raise
        self._errors.reraise()

    # the simple way
    def execute(self, inputs: Optional[Mapping[str, Any]] = None, outputs: Optional[Mapping[str, Any]] = None,
                stream: Any = None, **named: Any) -> Dict[str, Any]:
        """Runs once and returns ``{output name: array}``.

        Inputs come as a dict and/or keywords: NumPy arrays (or anything NumPy converts;
        converted to the input's type when that is a safe cast), or GPU tensors
        (``__cuda_array_interface__`` or DLPack: PyTorch, CuPy), used in place without a
        copy. Their shapes set the input shapes (and so the profile, unless one was chosen).

        Outputs: pass `outputs` to write into given arrays/tensors; otherwise new ones are
        made: GPU tensors of the same framework as the first GPU input, else NumPy arrays.

        With GPU tensors only, the run is queued on `stream` (default: the framework's
        current stream, e.g. ``torch.cuda.current_stream()``) and not waited for, as any
        other GPU operation of that framework. With NumPy arrays the data is staged through
        device memory on the GPU and the call returns when the outputs are ready.
        """
        given: Dict[str, Any] = dict(inputs or {})
        given.update(named)
        engine = self._engine
        in_names = engine.input_names
        unknown = [n for n in given if n not in in_names]
        if unknown:
            raise InvalidArgumentError(f"unknown input '{unknown[0]}' (the engine's inputs: {', '.join(in_names)})")
        # Shape inputs take their values on the host; a context of a one-profile engine has them.
        shape_inputs = {n for n in in_names if engine.is_shape_input(n)}
        missing = [n for n in in_names if n not in given and n not in shape_inputs]
        if missing:
            raise InvalidArgumentError(f"no value for input '{missing[0]}'")
        gpu = engine.device == DeviceKind.GPU
        np = _arrays.np
        keep: List[Any] = []
        bound: Dict[str, Tuple[int, Any]] = {}  # name -> (address, host array or None)
        first_device = None
        for name, value in given.items():
            if name in shape_inputs:
                self.set_input_shape_values(name, [int(v) for v in _arrays.np.asarray(value).reshape(-1)])
                continue
            want = engine.get_tensor_dtype(name)
            dev = _arrays.as_device_tensor(value, name)
            if dev is not None:
                if not gpu:
                    raise InvalidArgumentError(f"input '{name}' is on a GPU but the engine runs on the CPU")
                if dev.dtype is not None and dev.dtype != want:
                    raise InvalidArgumentError(
                        f"input '{name}' is {dev.dtype.label}, the engine wants {want.label}")
                first_device = first_device if first_device is not None else value
                keep.append(dev)
                self.set_input_shape(name, dev.shape)
                bound[name] = (dev.ptr, None)
            else:
                arr = _host_array(value, want, name)
                keep.append(arr)
                self.set_input_shape(name, arr.shape)
                bound[name] = (arr.ctypes.data, arr)
        if stream is None and first_device is not None:
            stream = _arrays.current_stream_of(first_device)
        staged = False
        if gpu and any(a is not None for _, a in bound.values()):
            if stream is None:
                if self._stream is None:
                    self._stream = Stream(DeviceKind.GPU)
                stream = self._stream
        sh = _arrays.stream_handle(stream)
        for name, (addr, arr) in bound.items():
            if gpu and arr is not None:
                buf = self._stage(name, arr.nbytes)
                copy_to_device(DeviceKind.GPU, buf.ptr, addr, arr.nbytes, sh)
                addr = buf.ptr
                staged = True
            self.set_tensor_address(name, addr)

        results: Dict[str, Any] = {}
        copies_out: List[Tuple[int, Any]] = []
        outputs = dict(outputs or {})
        for name in engine.output_names:
            shape = self.get_tensor_shape(name)
            dtype = engine.get_tensor_dtype(name)
            value = outputs.get(name)
            if value is None:
                if first_device is not None:
                    value = _arrays.empty_like_framework(first_device, shape, dtype)
                else:
                    value = np.empty(shape, dtype=_arrays.numpy_dtype(dtype))
            dev = _arrays.as_device_tensor(value, name)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if np is not None else 0
            if dev is not None:
                if not gpu:
                    raise InvalidArgumentError(f"output '{name}' is on a GPU but the engine runs on the CPU")
                if tuple(dev.shape) != tuple(shape):
                    raise InvalidArgumentError(f"output '{name}' has shape {list(dev.shape)}, the run makes {list(shape)}")
                keep.append(dev)
                self.set_tensor_address(name, dev.ptr)
            else:
                if not isinstance(value, np.ndarray) or not value.flags.c_contiguous or not value.flags.writeable:
                    raise InvalidArgumentError(f"output '{name}' must be a writable C-contiguous NumPy array")
                if value.shape != tuple(shape) or value.nbytes != nbytes:
                    raise InvalidArgumentError(
                        f"output '{name}' is {value.dtype}{list(value.shape)}, the run makes "
                        f"{dtype.label}{list(shape)}")
                if gpu:
                    buf = self._stage(name, nbytes)
                    self.set_tensor_address(name, buf.ptr)
                    copies_out.append((buf.ptr, value))
                else:
                    self.set_tensor_address(name, value.ctypes.data)
            results[name] = value
        self.execute_async(sh)
        for src, arr in copies_out:
            copy_to_host(DeviceKind.GPU, arr.ctypes.data, src, arr.nbytes, sh)
        if gpu and (staged or copies_out):
            synchronize(DeviceKind.GPU, sh)
        del keep
        return results

    def _stage(self, name: str, nbytes: int) -> DeviceBuffer:
        buf = self._staging.get(name)
        if buf is None or buf.nbytes < nbytes:
            buf = DeviceBuffer(max(nbytes, 1), DeviceKind.GPU)
            self._staging[name] = buf
        return buf

    # CUDA graphs
    @property
    def cuda_graph_mode(self) -> bool:
        """CUDA graph mode: each input-shape signature is captured once and replayed after;
        a new shape is captured again (GPU engines; no effect on the CPU)."""
        return bool(_out_i32("kiln_context_get_cuda_graph_mode", self._handle))

    @cuda_graph_mode.setter
    def cuda_graph_mode(self, on: bool) -> None:
        call("kiln_context_set_cuda_graph_mode", self._handle, int(bool(on)))

    @property
    def cuda_graph_count(self) -> int:
        """CUDA graphs currently held (a bounded cache)."""
        return _out_size("kiln_context_cuda_graph_count", self._handle)

    # profiling and debugging
    @property
    def profiler(self) -> Optional[Profiler]:
        """A :class:`Profiler` told each layer's time after each run (None: off)."""
        return self._profiler

    @profiler.setter
    def profiler(self, profiler: Optional[Profiler]) -> None:
        if profiler is None:
            call("kiln_context_set_profiler", self._handle, PROFILER_FN(), None)
            self._profiler, self._profiler_cb = None, None
            return
        errors = self._errors

        def report(user, layer, tactic, source, ms):
            try:
                profiler.report_layer_time(layer.decode(), tactic.decode(), TacticSource(source), float(ms))
            except BaseException as e:  # noqa: B902 - re-raised after the run
                errors.keep(e)

        cb = PROFILER_FN(report)
        call("kiln_context_set_profiler", self._handle, cb, None)
        self._profiler, self._profiler_cb = profiler, cb

    def report_profile(self) -> None:
        """Delivers pending profiler times of asynchronous runs (waits for the last run)."""
        self._check(lib.kiln_context_report_profile(self._handle))

    def read_debug_tensor(self, name: str):
        """The latest value of a debug tensor (or an I/O tensor) as a NumPy array."""
        p, n, d, t = c_void_p(), c_size_t(), Dims(), c_int32()
        call("kiln_context_read_debug_tensor", self._handle, enc(name), byref(p), byref(n), byref(d), byref(t))
        raw = take_bytes(p, n.value)
        np = _arrays.np
        return np.frombuffer(raw, dtype=_arrays.numpy_dtype(DataType(t.value))).reshape(d.to_tuple()).copy()

    def close(self) -> None:
        super().close()
        for b in getattr(self, "_staging", {}).values():
            b.close()
        if getattr(self, "_stream", None) is not None:
            self._stream.close()
            self._stream = None


def _host_array(value: Any, want: DataType, name: str):
    np = _arrays.np
    if np is None:  # pragma: no cover
        raise ImportError("kiln: NumPy is needed for host arrays")
    arr = np.asarray(value)
    dt = _arrays.numpy_dtype(want)
    if arr.dtype != dt:
        if not np.can_cast(arr.dtype, dt, casting="same_kind"):
            raise InvalidArgumentError(f"input '{name}' is {arr.dtype}, the engine wants {dt} (no safe conversion)")
        arr = arr.astype(dt)
    return np.ascontiguousarray(arr)


# ---- refitter -----------------------------------------------------------------------------

class Refitter(_Handle):
    """New weights for a refittable engine, in place, without a rebuild. Stage weights with
    :meth:`set_named_weights`, see what else is needed with :meth:`get_missing` (the fused
    partners of what was given, e.g. a folded BatchNorm's), then :meth:`refit`."""
    _destroy = "kiln_refitter_destroy"

    def __init__(self, engine: Engine):
        h = c_void_p()
        call("kiln_refitter_create", engine._handle, byref(h))
        super().__init__(h)
        self._engine = engine  # the engine must outlive the refitter

    @property
    def weight_names(self) -> List[str]:
        """The weights the engine can take (ONNX initializer names)."""
        h = c_void_p()
        call("kiln_refitter_weight_names", self._handle, byref(h))
        return take_list(h)

    def set_named_weights(self, name: str, values: Any) -> None:
        """Stages a new value for a weight (a NumPy array or anything NumPy converts; copied).
        InvalidArgumentError when the name is unknown or the type or shape differs."""
        np = _arrays.np
        arr = np.ascontiguousarray(values)
        t = {np.dtype(_arrays._TYPESTR[k]): k for k in DataType if k != DataType.BF16}.get(arr.dtype)
        if t is None:
            raise InvalidArgumentError(f"weight '{name}': unsupported NumPy type {arr.dtype}")
        call("kiln_refitter_set_named_weights", self._handle, enc(name), int(t), byref(Dims.of(arr.shape)),
             c_void_p(arr.ctypes.data), arr.nbytes)

    def get_missing(self) -> List[str]:
        """Weights that must still be given before :meth:`refit`."""
        h = c_void_p()
        call("kiln_refitter_missing_weights", self._handle, byref(h))
        return take_list(h)

    def refit(self) -> List[str]:
        """Applies the staged weights, all or nothing; returns the names updated. Raises
        InvalidArgumentError naming the missing weights (the engine keeps its old ones). Must
        not run while a context of the engine is running."""
        h = c_void_p()
        call("kiln_refitter_refit", self._handle, byref(h))
        return take_list(h)
