"""kiln's exceptions: one class per kiln::ErrorCode, all subclasses of kiln.Error."""
from __future__ import annotations

import enum
from typing import Dict, Type


class ErrorCode(enum.IntEnum):
    """The code of a kiln error (kiln::ErrorCode; the C API's KILN_ERROR_*)."""
    INVALID_ARGUMENT = 1  #: a value the caller passed is out of range or inconsistent
    INVALID_MODEL = 2  #: the ONNX model is broken
    UNSUPPORTED = 3  #: valid input that kiln does not implement
    INVALID_PLAN = 4  #: a plan is damaged, from a newer format or another device
    INVALID_CACHE = 5  #: a timing cache is damaged
    IO = 6  #: a file could not be read or written
    BUILD_FAILED = 7  #: no valid tactic, denied tactics, workspace too small
    CANCELLED = 8  #: the progress monitor cancelled the build
    RUNTIME = 9  #: a failure while running (device error, bad binding)
    INTERNAL = 10  #: a bug in kiln


class Error(Exception):
    """Base class of every kiln error.

    ``str(error)`` is kiln's one-line message (the same text as the C++ error and the
    ``kiln`` tool print); ``error.code`` is its :class:`ErrorCode`.
    """
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, code: "ErrorCode | None" = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            try:
                self.code = ErrorCode(code)
            except ValueError:
                pass


class InvalidArgumentError(Error, ValueError):
    """A value passed to kiln is out of range or inconsistent (also a ValueError)."""
    code = ErrorCode.INVALID_ARGUMENT


class InvalidModelError(Error):
    """The ONNX model is broken (parse error, missing tensor, bad shape)."""
    code = ErrorCode.INVALID_MODEL


class UnsupportedError(Error):
    """Valid input that kiln does not implement (operator, opset, type)."""
    code = ErrorCode.UNSUPPORTED


class InvalidPlanError(Error):
    """A plan is damaged, from a newer format, or for another backend or architecture."""
    code = ErrorCode.INVALID_PLAN


class InvalidCacheError(Error):
    """A timing cache is damaged."""
    code = ErrorCode.INVALID_CACHE


class IoError(Error):
    """A file could not be read or written."""
    code = ErrorCode.IO


class BuildFailedError(Error):
    """The build found no valid tactic for a layer (denied tactics, workspace too small...)."""
    code = ErrorCode.BUILD_FAILED


class CancelledError(Error):
    """The progress monitor cancelled the build."""
    code = ErrorCode.CANCELLED


class ExecutionError(Error):
    """A failure while running (device error, bad binding): kiln's ErrorCode.RUNTIME."""
    code = ErrorCode.RUNTIME


class InternalError(Error):
    """A bug in kiln."""
    code = ErrorCode.INTERNAL


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (InvalidArgumentError, InvalidModelError, UnsupportedError, InvalidPlanError, InvalidCacheError,
                IoError, BuildFailedError, CancelledError, ExecutionError, InternalError)
}


def error_class(code: int) -> Type[Error]:
    """The exception class for an error code (kiln.Error for an unknown one)."""
    return _BY_CODE.get(int(code), Error)


def _raise_for(status: int, message: str) -> None:
    cls = error_class(status)
    raise cls(message, status if cls is Error else None)
