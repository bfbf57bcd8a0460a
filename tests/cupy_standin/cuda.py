"""``cupy.cuda`` of the stand-in: two pretend GPUs and the "current device".

CuPy allocates and launches on the *current* device, which ``with
cupy.cuda.Device(i):`` changes for the block and restores after it; an array
remembers the device it was allocated on. The stand-in keeps the same stack
of current devices, so code that forgets to make its arrays' device current
gets its arrays, or an error, where CuPy would give them. Entering a device
that does not exist raises ``CUDARuntimeError`` as ``cudaSetDevice`` does.
As in CUDA, the current device is each thread's own, and a new thread starts on device 0.
"""
from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

DEVICE_COUNT = 2


class _Current(threading.local):
    def __init__(self) -> None:
        self.stack = [0]  # this thread's current device is the last entry


_current = _Current()


class CUDARuntimeError(RuntimeError):
    """What CuPy raises when a CUDA runtime call fails (cupy_backends.cuda.api.runtime)."""


def get_device_id() -> int:
    """The current device, as ``cupy.cuda.get_device_id()``."""
    return _current.stack[-1]


def _check(device_id: int) -> int:
    if not 0 <= device_id < DEVICE_COUNT:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    return device_id


class Device:
    """``cupy.cuda.Device(i)``: a context manager that makes device i current for its block."""

    def __init__(self, device: Any = None) -> None:
        self.id = get_device_id() if device is None else int(device)

    def __enter__(self) -> "Device":
        _current.stack.append(_check(self.id))
        return self

    def __exit__(self, *exc: Any) -> None:
        _current.stack.pop()

    def synchronize(self) -> None:
        _check(self.id)  # nothing is ever queued: NumPy has finished by the time a call returns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


def get_device_properties(device_id: int) -> dict[str, Any]:
    """``cupy.cuda.runtime.getDeviceProperties(i)``: a dict of the driver's facts; the name as bytes."""
    return {"name": f"CuPy stand-in {_check(device_id)}".encode()}


runtime = SimpleNamespace(getDeviceCount=lambda: DEVICE_COUNT, getDevice=get_device_id,
                          getDeviceProperties=get_device_properties, CUDARuntimeError=CUDARuntimeError)
