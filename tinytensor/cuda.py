"""tinytensor.cuda: what PyTorch keeps in torch.cuda, for the GPU that CuPy drives.

    tinytensor.cuda.is_available()     True when CuPy is installed and a GPU answers
    tinytensor.cuda.device_count()     how many GPUs
    tinytensor.cuda.synchronize()      wait for the GPU's queued work (time GPU code with it)
"""
from __future__ import annotations

from . import backend


def is_available() -> bool:
    return backend.cuda_is_available()


def device_count() -> int:
    return backend.cuda_device_count()


def synchronize(device: "str | int | None" = None) -> None:
    index = 0 if device is None else device
    backend.synchronize(backend.Device(f"cuda:{index}" if isinstance(index, int) else index))
