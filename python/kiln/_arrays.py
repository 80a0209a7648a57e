"""Tensors going in and out of kiln: NumPy arrays on the host, and zero-copy GPU tensors
through ``__cuda_array_interface__`` (PyTorch, CuPy, Numba) or DLPack."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ._errors import InvalidArgumentError
from ._types import DataType

try:  # NumPy is needed for host arrays only
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

# DataType -> array-interface type string (bfloat16 has none in NumPy: see numpy_dtype).
_TYPESTR = {
    DataType.FLOAT: "<f4", DataType.HALF: "<f2", DataType.BF16: "<V2", DataType.DOUBLE: "<f8",
    DataType.INT8: "|i1", DataType.UINT8: "|u1", DataType.INT16: "<i2", DataType.UINT16: "<u2",
    DataType.INT32: "<i4", DataType.UINT32: "<u4", DataType.INT64: "<i8", DataType.UINT64: "<u8",
    DataType.BOOL: "|b1",
}

# DLPack type codes: kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4, kDLBool 6.
_DLPACK = {
    (2, 32): DataType.FLOAT, (2, 16): DataType.HALF, (4, 16): DataType.BF16, (2, 64): DataType.DOUBLE,
    (0, 8): DataType.INT8, (1, 8): DataType.UINT8, (0, 16): DataType.INT16, (1, 16): DataType.UINT16,
    (0, 32): DataType.INT32, (1, 32): DataType.UINT32, (0, 64): DataType.INT64, (1, 64): DataType.UINT64,
    (6, 8): DataType.BOOL, (1, 1): DataType.BOOL,
}


def numpy_dtype(t: DataType):
    """The NumPy dtype of a kiln DataType; bfloat16 is ml_dtypes.bfloat16 when that package
    is installed, else uint16 (the raw bits)."""
    t = DataType(t)
    if t == DataType.BF16:
        try:
            import ml_dtypes  # type: ignore
            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            return np.dtype(np.uint16)
    return np.dtype(_TYPESTR[t])


def _typestr_type(typestr: str) -> Optional[DataType]:
    norm = typestr.replace("=", "<")
    if norm[0] == "|" or norm[1:] in ("i1", "u1", "b1"):
        norm = "|" + norm[1:]
    for t, s in _TYPESTR.items():
        if s == norm and t != DataType.BF16:
            return t
    return None


@dataclass
class DeviceTensor:
    """A GPU tensor seen through its interface: address, shape, kiln type, owner kept alive."""
    ptr: int
    shape: Tuple[int, ...]
    dtype: Optional[DataType]
    owner: Any
    keepalive: Any = None


def _contiguous_strides(shape, itemsize):
    strides, acc = [], itemsize
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(int(d), 1)
    return tuple(reversed(strides))


def _torch_dtype_type(obj) -> Optional[DataType]:
    """kiln type of a torch tensor (its CUDA array interface cannot express bfloat16)."""
    dt = getattr(obj, "dtype", None)
    name = str(dt)
    return {
        "torch.float32": DataType.FLOAT, "torch.float16": DataType.HALF, "torch.bfloat16": DataType.BF16,
        "torch.float64": DataType.DOUBLE, "torch.int8": DataType.INT8, "torch.uint8": DataType.UINT8,
        "torch.int16": DataType.INT16, "torch.int32": DataType.INT32, "torch.int64": DataType.INT64,
        "torch.bool": DataType.BOOL,
    }.get(name)


def is_torch(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "torch"


def as_device_tensor(obj, name: str) -> Optional[DeviceTensor]:
    """The GPU tensor behind `obj` (no copy), or None when `obj` is not on a GPU.

    Accepted: objects with ``__cuda_array_interface__`` (PyTorch CUDA tensors, CuPy arrays)
    and DLPack producers on a CUDA device. They must be C-contiguous."""
    if is_torch(obj) and getattr(obj, "is_cuda", False):
        # data_ptr() works for every dtype (bfloat16 included); contiguity checked by torch.
        if not obj.is_contiguous():
            raise InvalidArgumentError(f"tensor '{name}': the torch tensor is not contiguous (call .contiguous())")
        return DeviceTensor(int(obj.data_ptr()), tuple(int(x) for x in obj.shape), _torch_dtype_type(obj), obj)
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        shape = tuple(int(x) for x in cai["shape"])
        ptr = int(cai["data"][0] or 0)
        typestr = cai["typestr"]
        itemsize = int(typestr[2:])
        strides = cai.get("strides")
        if strides is not None and tuple(strides) != _contiguous_strides(shape, itemsize) and \
                any(d > 1 for d in shape):
            raise InvalidArgumentError(f"tensor '{name}': the GPU array is not C-contiguous")
        return DeviceTensor(ptr, shape, _typestr_type(typestr), obj)
    dl_device = getattr(obj, "__dlpack_device__", None)
    if dl_device is not None and hasattr(obj, "__dlpack__"):
        kind, _ = dl_device()
        if int(kind) not in (2, 13):  # kDLCUDA, kDLCUDAManaged
            return None
        return _from_dlpack(obj, name)
    return None


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


def _from_dlpack(obj, name: str) -> DeviceTensor:
    capsule = obj.__dlpack__()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    # The capsule is only read, not consumed: its producer keeps the memory while it lives.
    t = _DLTensor.from_address(get(capsule, b"dltensor"))
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    dtype = _DLPACK.get((t.dtype.code, t.dtype.bits)) if t.dtype.lanes == 1 else None
    if t.strides:
        itemsize = max(t.dtype.bits // 8, 1)
        strides = tuple(int(t.strides[i]) * itemsize for i in range(t.ndim))
        if strides != _contiguous_strides(shape, itemsize) and any(d > 1 for d in shape):
            raise InvalidArgumentError(f"tensor '{name}': the DLPack tensor is not C-contiguous")
    return DeviceTensor(int(t.data or 0) + int(t.byte_offset), shape, dtype, obj, capsule)


def stream_handle(stream) -> Optional[int]:
    """A raw cudaStream_t from None, an int, a kiln.Stream, a torch.cuda.Stream (or
    ExternalStream), a CuPy stream, or anything with ``cuda_stream`` / ``ptr`` / ``handle``."""
    if stream is None:
        return None
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr", "handle"):
        v = getattr(stream, attr, None)
        if isinstance(v, int) or v is None and hasattr(stream, attr):
            return v
    raise TypeError(f"not a CUDA stream: {stream!r} (pass an int, kiln.Stream, torch.cuda.Stream or cupy stream)")


def current_stream_of(obj) -> Optional[int]:
    """The current stream of the framework that made `obj` (torch, CuPy), else None."""
    mod = type(obj).__module__.split(".")[0]
    try:
        if mod == "torch":
            import torch
            return int(torch.cuda.current_stream(obj.device).cuda_stream)
        if mod == "cupy":
            import cupy
            return int(cupy.cuda.get_current_stream().ptr)
    except Exception:  # pragma: no cover - framework without CUDA
        return None
    return None


def empty_like_framework(like, shape, dtype: DataType):
    """A new GPU tensor of the framework that made `like` (torch, CuPy) on its device."""
    mod = type(like).__module__.split(".")[0]
    if mod == "torch":
        import torch
        tdt = {
            DataType.FLOAT: torch.float32, DataType.HALF: torch.float16, DataType.BF16: torch.bfloat16,
            DataType.DOUBLE: torch.float64, DataType.INT8: torch.int8, DataType.UINT8: torch.uint8,
            DataType.INT16: torch.int16, DataType.INT32: torch.int32, DataType.INT64: torch.int64,
            DataType.BOOL: torch.bool,
        }.get(dtype)
        if tdt is None:
            raise InvalidArgumentError(f"no torch dtype for kiln type {dtype.name}; pass outputs= explicitly")
        return torch.empty(tuple(shape), dtype=tdt, device=like.device)
    if mod == "cupy":
        import cupy
        with cupy.cuda.Device(like.device.id):
            return cupy.empty(tuple(shape), dtype=numpy_dtype(dtype))
    raise InvalidArgumentError(f"cannot allocate outputs like a {type(like).__name__}; pass outputs= explicitly")
