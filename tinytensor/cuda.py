"""tinytensor.cuda: what PyTorch keeps in torch.cuda, for the GPUs that CuPy drives.

    tinytensor.cuda.is_available()      True when CuPy is installed and a GPU answers
    tinytensor.cuda.device_count()      how many GPUs (0 without one)
    tinytensor.cuda.current_device()    the index of the GPU that device "cuda" names
    tinytensor.cuda.set_device(1)       make "cuda" name cuda:1 from now on
    tinytensor.cuda.get_device_name()   the GPU's name, as its driver reports it
    tinytensor.cuda.synchronize()       wait for the GPU's queued work (time GPU code with it)
    tinytensor.cuda.manual_seed(s)      seed the current GPU's random generator
    tinytensor.cuda.manual_seed_all(s)  seed every GPU's

As in PyTorch, seeding is the one thing that does nothing without a GPU, so that a
script seeds every device at its top and runs anywhere; asking which GPU is current,
or for its name, raises an error that says why there is none. ``tinytensor.manual_seed``
already seeds every GPU too: the cuda seeds are for the scripts that also call them.
"""
from __future__ import annotations

from . import backend, missing


def is_available() -> bool:
    return backend.cuda_is_available()


def device_count() -> int:
    return backend.cuda_device_count()


def current_device() -> int:
    return backend.current_gpu()


def set_device(device: "int | str | backend.Device") -> None:
    """Make device "cuda" (and ``.cuda()``) mean this GPU from now on: 1, "cuda:1"."""
    backend.set_current_gpu(_gpu(device).index)


def get_device_name(device: "int | str | backend.Device | None" = None) -> str:
    return backend.gpu_name(_gpu(device).index)


def synchronize(device: "int | str | backend.Device | None" = None) -> None:
    backend.synchronize(_gpu(device))


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator; nothing without a GPU (as torch.cuda.manual_seed)."""
    if is_available():
        backend.seed_gpu(backend.Device("cuda"), seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator; nothing without a GPU (as torch.cuda.manual_seed_all)."""
    for index in range(device_count()):
        backend.seed_gpu(backend.Device(f"cuda:{index}"), seed)


def _gpu(device: "int | str | backend.Device | None") -> backend.Device:
    """A GPU named as torch.cuda's functions take it: None (the current one), an index, "cuda:1"."""
    if device is None:
        device = "cuda"
    found = backend.Device(f"cuda:{device}" if isinstance(device, int) else device)
    if found.type != "cuda":
        raise ValueError(f"tinytensor.cuda: expected a GPU (an index, 'cuda' or 'cuda:N'), got {device!r}")
    return found


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
