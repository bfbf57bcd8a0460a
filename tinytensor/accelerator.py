"""tinytensor.accelerator: PyTorch's device-agnostic torch.accelerator, where the accelerator is CUDA.

PyTorch's beginner tutorials start with

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"

tinytensor's one accelerator is an NVIDIA GPU driven by CuPy (device "cuda"); it
has no MPS, XPU or others. Without a GPU, ``is_available()`` is False,
``current_accelerator()`` is None and ``device_count()`` is 0, as in PyTorch.
"""
from __future__ import annotations

from . import backend, cuda, missing


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> "backend.Device | None":
    """Device "cuda" where a GPU answers, else None (``check_available`` changes nothing here:
    tinytensor knows of a GPU only when it is usable)."""
    return backend.Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    _require("current_device_index")
    return cuda.current_device()


def set_device_index(device: "int | str | backend.Device") -> None:
    _require("set_device_index")
    cuda.set_device(device)


def synchronize(device: "int | str | backend.Device | None" = None) -> None:
    _require("synchronize")
    cuda.synchronize(device)


def _require(name: str) -> None:
    if not cuda.is_available():
        raise RuntimeError(f"torch.accelerator.{name}: cannot access an accelerator device when none "
                           f"is available ({backend.cuda_unavailable_reason()})")


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
