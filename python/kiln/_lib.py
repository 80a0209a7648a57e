"""Loading libkiln.so and declaring its C API (include/kiln/kiln_c.h) for ctypes.

The library is found, in this order, at:
  1. the path in the environment variable KILN_LIBRARY;
  2. the path written by CMake into ``kiln/_libpath.txt`` (the build this package was
     installed from);
  3. ``libkiln.so`` inside the package folder (a copy shipped with it);
  4. when the package is used from a kiln source tree (python/kiln): the build folders
     ``build*/libkiln.so`` of that tree, the most recently built first;
  5. the system's library search path (``ctypes.util.find_library("kiln")``).
The first that exists and loads is used.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int32, c_int64, c_size_t,
                    c_uint64, c_void_p)
from typing import List, Optional

from ._errors import _raise_for

KILN_MAX_DIMS = 16


class Dims(Structure):
    """kiln_dims: rank and up to KILN_MAX_DIMS dimensions."""
    _fields_ = [("rank", c_int32), ("d", c_int64 * KILN_MAX_DIMS)]

    @classmethod
    def of(cls, shape) -> "Dims":
        shape = [int(x) for x in shape]
        if len(shape) > KILN_MAX_DIMS:
            from ._errors import UnsupportedError
            raise UnsupportedError(f"rank {len(shape)} is above the C API's limit of {KILN_MAX_DIMS}")
        d = cls()
        d.rank = len(shape)
        for i, x in enumerate(shape):
            d.d[i] = x
        return d

    def to_tuple(self) -> tuple:
        return tuple(int(self.d[i]) for i in range(self.rank))


class TacticInfoC(Structure):
    """kiln_tactic_info."""
    _fields_ = [("source", c_int32), ("id", c_uint64), ("name", c_char_p), ("formats", c_char_p),
                ("workspace", c_size_t), ("time_ms", c_double)]


LOG_FN = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)
SELECT_FN = CFUNCTYPE(c_int32, c_void_p, c_char_p, c_char_p, c_int32, POINTER(TacticInfoC), c_int32,
                      POINTER(c_int32), POINTER(c_int32))
REPORT_FN = CFUNCTYPE(None, c_void_p, c_int32, POINTER(c_char_p), POINTER(TacticInfoC), c_int32)
PROGRESS_FN = CFUNCTYPE(c_int32, c_void_p, c_int32, c_int32, c_char_p)
PROFILER_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_char_p, c_int32, c_float)

_P = c_void_p  # every handle is an opaque pointer
_PP = POINTER(c_void_p)
_S = c_int32  # kiln_status
_i32p = POINTER(c_int32)
_szp = POINTER(c_size_t)
_i64p = POINTER(c_int64)
_dp = POINTER(Dims)
_strp = POINTER(c_char_p)

# name: (restype, argtypes). Functions returning kiln_status are checked by `call`.
_SIGNATURES = {
    "kiln_last_error": (c_char_p, []),
    "kiln_last_status": (_S, []),
    "kiln_status_name": (c_char_p, [_S]),
    "kiln_version": (c_char_p, []),
    "kiln_gpu_available": (c_int32, []),
    "kiln_free": (None, [c_void_p]),
    "kiln_set_logger": (_S, [LOG_FN, c_void_p]),
    "kiln_set_log_level": (_S, [c_int32]),
    "kiln_element_size": (c_size_t, [c_int32]),
    "kiln_data_type_name": (c_char_p, [c_int32]),
    "kiln_tactic_source_name": (c_char_p, [c_int32]),
    "kiln_parse_tactic_source": (_S, [c_char_p, _i32p]),
    "kiln_string_list_size": (c_int32, [_P]),
    "kiln_string_list_get": (c_char_p, [_P, c_int32]),
    "kiln_string_list_destroy": (None, [_P]),
    "kiln_network_parse_file": (_S, [c_char_p, _PP]),
    "kiln_network_parse": (_S, [c_void_p, c_size_t, c_char_p, _PP]),
    "kiln_network_destroy": (None, [_P]),
    "kiln_network_num_inputs": (_S, [_P, _i32p]),
    "kiln_network_num_outputs": (_S, [_P, _i32p]),
    "kiln_network_input_name": (_S, [_P, c_int32, _strp]),
    "kiln_network_output_name": (_S, [_P, c_int32, _strp]),
    "kiln_network_tensor_type": (_S, [_P, c_char_p, _i32p]),
    "kiln_network_tensor_dims": (_S, [_P, c_char_p, _dp]),
    "kiln_network_num_layers": (_S, [_P, _i32p]),
    "kiln_network_weight_names": (_S, [_P, _PP]),
    "kiln_network_mark_debug": (_S, [_P, c_char_p]),
    "kiln_profile_create": (_S, [_PP]),
    "kiln_profile_destroy": (None, [_P]),
    "kiln_profile_set_dimensions": (_S, [_P, c_char_p, _dp, _dp, _dp]),
    "kiln_profile_get_dimensions": (_S, [_P, c_char_p, _dp, _dp, _dp]),
    "kiln_profile_set_shape_values": (_S, [_P, c_char_p, _i64p, _i64p, _i64p, c_size_t]),
    "kiln_timing_cache_create": (_S, [_PP]),
    "kiln_timing_cache_deserialize": (_S, [c_void_p, c_size_t, _PP]),
    "kiln_timing_cache_load": (_S, [c_char_p, _PP]),
    "kiln_timing_cache_destroy": (None, [_P]),
    "kiln_timing_cache_serialize": (_S, [_P, _PP, _szp]),
    "kiln_timing_cache_save": (_S, [_P, c_char_p]),
    "kiln_timing_cache_combine": (_S, [_P, _P]),
    "kiln_timing_cache_size": (_S, [_P, _szp]),
    "kiln_timing_cache_entries_json": (_S, [_P, _PP]),
    "kiln_builder_config_create": (_S, [_PP]),
    "kiln_builder_config_destroy": (None, [_P]),
    "kiln_builder_config_set_flag": (_S, [_P, c_int32, c_int32]),
    "kiln_builder_config_get_flag": (_S, [_P, c_int32, _i32p]),
    "kiln_builder_config_add_optimization_profile": (_S, [_P, _P, _i32p]),
    "kiln_builder_config_num_optimization_profiles": (_S, [_P, _i32p]),
    "kiln_builder_config_set_tactic_source": (_S, [_P, c_int32, c_int32]),
    "kiln_builder_config_get_tactic_source": (_S, [_P, c_int32, _i32p]),
    "kiln_builder_config_set_workspace_limit": (_S, [_P, c_size_t]),
    "kiln_builder_config_get_workspace_limit": (_S, [_P, _szp]),
    "kiln_builder_config_set_optimization_level": (_S, [_P, c_int32]),
    "kiln_builder_config_get_optimization_level": (_S, [_P, _i32p]),
    "kiln_builder_config_set_hardware_compatibility": (_S, [_P, c_int32]),
    "kiln_builder_config_get_hardware_compatibility": (_S, [_P, _i32p]),
    "kiln_builder_config_set_device": (_S, [_P, c_int32]),
    "kiln_builder_config_get_device": (_S, [_P, _i32p]),
    "kiln_builder_config_set_timing_cache": (_S, [_P, _P]),
    "kiln_builder_config_set_algorithm_selector": (_S, [_P, SELECT_FN, REPORT_FN, c_void_p]),
    "kiln_builder_config_set_progress_monitor": (_S, [_P, PROGRESS_FN, c_void_p]),
    "kiln_build_serialized_network": (_S, [_P, _P, _PP, _szp, _PP]),
    "kiln_engine_deserialize": (_S, [c_void_p, c_size_t, c_char_p, _PP]),
    "kiln_engine_load": (_S, [c_char_p, c_char_p, _PP]),
    "kiln_engine_destroy": (None, [_P]),
    "kiln_engine_serialize": (_S, [_P, _PP, _szp]),
    "kiln_engine_save": (_S, [_P, c_char_p]),
    "kiln_engine_num_io_tensors": (_S, [_P, _i32p]),
    "kiln_engine_io_tensor_name": (_S, [_P, c_int32, _strp]),
    "kiln_engine_tensor_io_mode": (_S, [_P, c_char_p, _i32p]),
    "kiln_engine_tensor_type": (_S, [_P, c_char_p, _i32p]),
    "kiln_engine_tensor_shape": (_S, [_P, c_char_p, _dp]),
    "kiln_engine_num_optimization_profiles": (_S, [_P, _i32p]),
    "kiln_engine_profile_dims": (_S, [_P, c_char_p, c_int32, _dp, _dp, _dp]),
    "kiln_engine_is_shape_input": (_S, [_P, c_char_p, _i32p]),
    "kiln_engine_device_memory_size": (_S, [_P, c_int32, _szp]),
    "kiln_engine_weights_size": (_S, [_P, _szp]),
    "kiln_engine_refittable": (_S, [_P, _i32p]),
    "kiln_engine_weights_stripped": (_S, [_P, _i32p]),
    "kiln_engine_device": (_S, [_P, _i32p]),
    "kiln_engine_debug_tensors": (_S, [_P, _PP]),
    "kiln_engine_layers_json": (_S, [_P, c_int32, _PP]),
    "kiln_engine_compatibility_json": (_S, [_P, _PP]),
    "kiln_engine_create_execution_context": (_S, [_P, c_int32, _PP]),
    "kiln_context_destroy": (None, [_P]),
    "kiln_context_set_optimization_profile": (_S, [_P, c_int32]),
    "kiln_context_get_optimization_profile": (_S, [_P, _i32p]),
    "kiln_context_set_input_shape": (_S, [_P, c_char_p, _dp]),
    "kiln_context_set_input_shape_values": (_S, [_P, c_char_p, _i64p, c_size_t]),
    "kiln_context_get_tensor_shape": (_S, [_P, c_char_p, _dp]),
    "kiln_context_all_input_shapes_specified": (_S, [_P, _i32p]),
    "kiln_context_set_tensor_address": (_S, [_P, c_char_p, c_void_p]),
    "kiln_context_get_tensor_address": (_S, [_P, c_char_p, _PP]),
    "kiln_context_set_device_memory": (_S, [_P, c_void_p, c_size_t]),
    "kiln_context_required_memory_size": (_S, [_P, _szp]),
    "kiln_context_enqueue": (_S, [_P, c_void_p]),
    "kiln_context_set_cuda_graph_mode": (_S, [_P, c_int32]),
    "kiln_context_get_cuda_graph_mode": (_S, [_P, _i32p]),
    "kiln_context_cuda_graph_count": (_S, [_P, _szp]),
    "kiln_context_set_profiler": (_S, [_P, PROFILER_FN, c_void_p]),
    "kiln_context_report_profile": (_S, [_P]),
    "kiln_context_read_debug_tensor": (_S, [_P, c_char_p, _PP, _szp, _dp, _i32p]),
    "kiln_refitter_create": (_S, [_P, _PP]),
    "kiln_refitter_destroy": (None, [_P]),
    "kiln_refitter_weight_names": (_S, [_P, _PP]),
    "kiln_refitter_set_named_weights": (_S, [_P, c_char_p, c_int32, _dp, c_void_p, c_size_t]),
    "kiln_refitter_missing_weights": (_S, [_P, _PP]),
    "kiln_refitter_refit": (_S, [_P, _PP]),
    "kiln_buffer_create": (_S, [c_int32, c_int32, c_size_t, _PP]),
    "kiln_buffer_data": (c_void_p, [_P]),
    "kiln_buffer_size": (c_size_t, [_P]),
    "kiln_buffer_destroy": (None, [_P]),
    "kiln_stream_create": (_S, [c_int32, _PP]),
    "kiln_stream_handle": (c_void_p, [_P]),
    "kiln_stream_destroy": (None, [_P]),
    "kiln_copy_to_device": (_S, [c_int32, c_void_p, c_void_p, c_size_t, c_void_p]),
    "kiln_copy_to_host": (_S, [c_int32, c_void_p, c_void_p, c_size_t, c_void_p]),
    "kiln_synchronize": (_S, [c_int32, c_void_p]),
}


def _candidates() -> List[str]:
    out = []
    env = os.environ.get("KILN_LIBRARY")
    if env:
        return [env]  # an explicit choice: nothing else is tried
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        with open(os.path.join(here, "_libpath.txt"), encoding="utf-8") as f:
            p = f.read().strip()
        if p:
            out.append(p)
    except OSError:
        pass
    out.append(os.path.join(here, "libkiln.so"))
    root = os.path.dirname(os.path.dirname(here))
    if os.path.isfile(os.path.join(root, "include", "kiln", "kiln_c.h")):
        builds = glob.glob(os.path.join(root, "build*", "libkiln.so"))
        out += sorted(builds, key=lambda p: -os.path.getmtime(p))
    found = ctypes.util.find_library("kiln")
    if found:
        out.append(found)
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (no such file)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        lib._kiln_path = path
        return lib
    raise ImportError("kiln: cannot load libkiln.so; tried " + "; ".join(tried) +
                      ". Build kiln with CMake (it writes python/kiln/_libpath.txt) and reinstall "
                      "this package, or set KILN_LIBRARY=/path/to/libkiln.so")


lib = _load()
library_path: str = lib._kiln_path


def call(name: str, *args) -> None:
    """Calls a C API function that returns a kiln_status; raises the matching kiln.Error."""
    status = getattr(lib, name)(*args)
    if status != 0:
        _raise_for(status, lib.kiln_last_error().decode("utf-8", "replace"))


def take_bytes(ptr: c_void_p, size: int) -> bytes:
    """Copies a kiln-allocated buffer into bytes and frees it."""
    try:
        return ctypes.string_at(ptr, size) if size else b""
    finally:
        lib.kiln_free(ptr)


def take_string(ptr: c_void_p) -> str:
    """Copies a kiln-allocated C string and frees it."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.kiln_free(ptr)


def take_list(handle: c_void_p) -> List[str]:
    """Copies a kiln_string_list and destroys it."""
    try:
        n = lib.kiln_string_list_size(handle)
        return [lib.kiln_string_list_get(handle, i).decode("utf-8", "replace") for i in range(n)]
    finally:
        lib.kiln_string_list_destroy(handle)


def enc(s: Optional[str]) -> Optional[bytes]:
    """A str as the UTF-8 bytes ctypes passes as const char* (None stays NULL)."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fspath(s).encode("utf-8")
