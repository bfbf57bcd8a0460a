"""Arrays and devices: which library holds an array, where it lives, how it is made and moved.

Every array in tinytensor is either a ``numpy.ndarray`` (device ``"cpu"``) or a
``cupy.ndarray`` (device ``"cuda:N"``). The two libraries share almost the whole
array API, so the ops are written once against an *array module* ``xp``
(``xp_of(array)``), and this file answers the few questions whose answers differ:

* which array module holds an array, and on which device it lives;
* how to move an array between devices;
* which GPU is current while an op runs (CuPy computes on the current one,
  whatever the device of its arrays: ``on_device``);
* how to scatter-add (``add.at``), which the backward of indexing and
  embedding needs.

CuPy is imported lazily: ``import tinytensor`` never needs it.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any

import numpy

ndarray = numpy.ndarray  # the CPU array type, for isinstance checks elsewhere

# The dtypes a learner can name: tinytensor.float32 and friends.
float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
int16 = numpy.dtype("int16")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

DEFAULT_FLOAT = float32


class Device:
    """Where a tensor's memory lives: ``Device("cpu")`` or ``Device("cuda:0")``.

    Compares equal to its string form, so ``t.device == "cpu"`` reads naturally.
    ``Device("cuda")`` is the current GPU (cuda:0 until ``set_current_gpu``), fixed
    when the Device is made.
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | Device") -> None:
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        name, _, index = str(spec).partition(":")
        if name not in ("cpu", "cuda") or (name == "cpu" and index):
            raise ValueError(f"unknown device {spec!r}: use 'cpu', 'cuda' or 'cuda:N'")
        if index and not index.isdigit():
            raise ValueError(f"unknown device {spec!r}: the index after 'cuda:' must be a number")
        self.type = name
        self.index = int(index) if index else (_current_gpu if name == "cuda" else None)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, Device)):
            try:
                other = Device(other)
            except ValueError:
                return False
            return (self.type, self.index) == (other.type, other.index)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = Device("cpu")


# ----------------------------------------------------------------------------
# CuPy, loaded on first use
# ----------------------------------------------------------------------------
_cuda_module: Any = None  # what drives "cuda" instead of CuPy (use_cuda_module), else None
_current_gpu = 0  # the GPU that "cuda" names (set_current_gpu, as torch.cuda.set_device)


@functools.lru_cache(maxsize=None)
def _cupy_or_reason() -> tuple[Any, str]:
    """Return (cupy, "") when a GPU is usable, else (None, why not)."""
    cupy = _cuda_module
    if cupy is None:
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported on demand
        except ImportError:
            return None, ("CuPy is not installed. Install the CuPy wheel for your CUDA version "
                          "(nvidia-smi shows it): `pip install cupy-cuda13x` for CUDA 13, "
                          "`pip install cupy-cuda12x` for CUDA 12; or, in your tinytensor "
                          "checkout, `pip install -e \".[cuda]\"` (CUDA 13).")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDA driver missing or broken
        return None, f"CuPy is installed but no CUDA GPU is usable: {error}"
    if count == 0:
        return None, "CuPy is installed but this machine has no CUDA GPU."
    return cupy, ""


def use_cuda_module(module: Any) -> None:
    """Drive device "cuda" with ``module``, which has CuPy's API, instead of CuPy; None: CuPy again.

    The tests use it where no GPU is: they run every device test on a strict
    CuPy stand-in (tests/cupy_standin) that fails where CuPy would. The GPU
    generators and check reports made so far are forgotten, as they belonged to
    the other module.
    """
    global _cuda_module, _current_gpu
    _cuda_module, _current_gpu = module, 0
    _cupy_or_reason.cache_clear()
    cuda_device_count.cache_clear()
    from .checks import forget_reports  # noqa: PLC0415 - checks.py and generators.py build on this file
    from .generators import forget_gpu_generators  # noqa: PLC0415
    forget_gpu_generators()
    forget_reports()


def cuda_is_available() -> bool:
    """True when CuPy is installed and at least one GPU answers (as torch.cuda.is_available)."""
    return _cupy_or_reason()[0] is not None


@functools.lru_cache(maxsize=None)
def cuda_device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or without a GPU)."""
    cupy = _cupy_or_reason()[0]
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def current_gpu() -> int:
    """The index of the GPU that device "cuda" names (as torch.cuda.current_device)."""
    _cupy()
    return _current_gpu


def set_current_gpu(index: int) -> None:
    """Make device "cuda" name GPU ``index`` from now on (as torch.cuda.set_device)."""
    global _current_gpu
    _cupy()
    count = cuda_device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"device cuda:{index} does not exist: this machine has {count} GPU"
                           f"{'s' if count > 1 else ''} (cuda:0 to cuda:{count - 1})")
    _current_gpu = index


def gpu_name(index: int) -> str:
    """The GPU's name as its driver reports it (as torch.cuda.get_device_name)."""
    with on_device(Device(f"cuda:{index}")):
        name = _cupy().cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def cuda_unavailable_reason() -> str:
    """Why device "cuda" cannot be used here ("" when it can): what to tell a user who asked for it."""
    return _cupy_or_reason()[1]


def _cupy() -> Any:
    cupy, reason = _cupy_or_reason()
    if cupy is None:
        raise RuntimeError(f"device 'cuda' is not available: {reason}")
    return cupy


def array_module(device: Device) -> Any:
    """The array library that holds arrays on ``device``: numpy or cupy."""
    return numpy if device.type == "cpu" else _cupy()


def is_array(value: Any) -> bool:
    """Whether ``value`` is a NumPy or CuPy array (or a NumPy scalar), not a Tensor, list or number."""
    if isinstance(value, (ndarray, numpy.generic)):
        return True
    cupy = _cupy_or_reason()[0] if _cupy_or_reason.cache_info().currsize else None  # never imports CuPy
    return cupy is not None and isinstance(value, cupy.ndarray)


def xp_of(array: Any) -> Any:
    """The array library of an existing array (cheap: a type check on the CPU path)."""
    return numpy if isinstance(array, (ndarray, numpy.generic)) else _cupy()


def device_of(array: Any) -> Device:
    if isinstance(array, (ndarray, numpy.generic)):
        return CPU
    return _cuda_device(array.device.id)


@functools.lru_cache(maxsize=None)
def _cuda_device(index: int) -> Device:
    return Device(f"cuda:{index}")  # made once per GPU: device_of runs for every op on the GPU


def same_device(a: Any, b: Any) -> bool:
    """Whether two arrays live on the same device (fast when both are NumPy)."""
    if type(a) is ndarray and type(b) is ndarray:
        return True
    return device_of(a) == device_of(b)


# ----------------------------------------------------------------------------
# Making and moving arrays
# ----------------------------------------------------------------------------
def resolve_dtype(dtype: Any) -> numpy.dtype:
    """numpy.dtype from anything a user may pass: None, 'float32', tinytensor.float32..."""
    return DEFAULT_FLOAT if dtype is None else numpy.dtype(dtype)


def is_floating(dtype: numpy.dtype) -> bool:
    return dtype.kind == "f"


def as_array(data: Any, dtype: Any = None, device: "Device | str | None" = None,
             copy: bool = False) -> Any:
    """An array of ``data`` on ``device`` (default: where ``data`` already is, else the CPU).

    Python floats become the default float dtype (float32), as in PyTorch; arrays
    keep their dtype; ints and bools stay int64 and bool. ``copy=True`` never
    shares memory with ``data`` (tinytensor.tensor copies, as torch.tensor does).
    """
    on_gpu = hasattr(data, "__cuda_array_interface__")
    device = Device(device) if device is not None else (device_of(data) if on_gpu else CPU)
    if dtype is not None and not hasattr(data, "dtype"):  # Python numbers: NumPy checks each fits
        data = numpy.asarray(data, dtype=dtype)            # (300 is no uint8), where a cast would wrap
    array = to_device(data, device)
    if dtype is None and array.dtype.kind == "f" and not hasattr(data, "dtype"):
        dtype = DEFAULT_FLOAT
    if dtype is None and not copy:
        return array
    with on_device(device):
        return array.astype(array.dtype if dtype is None else dtype, copy=copy)


def python_number(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds; anything else as it is.

    Under NEP 50 (NumPy 2, CuPy 14) a Python float is "weak": ``float32_array *
    0.1`` stays float32. A ``numpy.float64`` is not, and makes the product
    float64: twice the memory traffic, and on most GPUs many times the time.
    """
    return value.item() if isinstance(value, numpy.generic) else value


def ensure_array(value: Any) -> Any:
    """NumPy returns a scalar (not a 0-d array) from some 0-d ops; make it an array again."""
    return numpy.asarray(value) if isinstance(value, numpy.generic) else value


def scalar(value: Any, dtype: numpy.dtype, like: Any) -> Any:
    """A 0-d array holding a Python number, with ``dtype``, on the device of ``like``."""
    if isinstance(like, ndarray):
        return numpy.asarray(value, dtype=dtype)
    with on_device(device_of(like)):
        return xp_of(like).asarray(value, dtype=dtype)


def to_device(array: Any, device: Device) -> Any:
    """A copy of ``array`` on ``device`` (the array itself when it is already there)."""
    if device.type == "cpu":
        if isinstance(array, (ndarray, numpy.generic)):
            return numpy.asarray(array)
        if hasattr(array, "__cuda_array_interface__"):
            from .checks import to_host  # noqa: PLC0415 - checks.py builds on this file
            return to_host(array)  # the one way values leave a GPU: it reports the checks waiting there
        return numpy.asarray(array)
    with on_device(device):
        return _cupy().asarray(array)


def eye(rows: int, columns: int, dtype: numpy.dtype, device: Device) -> Any:
    with on_device(device):
        return array_module(device).eye(rows, columns, dtype=dtype)


def linspace(start: float, end: float, steps: int, dtype: numpy.dtype, device: Device) -> Any:
    with on_device(device):
        return array_module(device).linspace(start, end, steps, dtype=dtype)


def full(shape: tuple[int, ...], fill_value: Any, dtype: numpy.dtype, device: Device) -> Any:
    with on_device(device):
        return array_module(device).full(shape, fill_value, dtype=dtype)


def arange(start: Any, end: Any, step: Any, dtype: numpy.dtype, device: Device) -> Any:
    with on_device(device):
        return array_module(device).arange(start, end, step, dtype=dtype)


def on_device(device: Device) -> Any:
    """A context in which ``device`` is the current GPU: CuPy allocates and launches there.

    CuPy runs every kernel on the *current* GPU, whatever the device of its
    arrays, so the ops (Function.__call__), the backward walk, the optimizers
    and in-place writes run inside this for their tensors' device: a model on
    cuda:1 computes on cuda:1. On the CPU it does nothing.
    """
    if device.type == "cpu":
        return contextlib.nullcontext()
    cupy = _cupy()
    count = cuda_device_count()
    if device.index >= count:
        raise RuntimeError(f"device {device} does not exist: this machine has {count} GPU"
                           f"{'s' if count > 1 else ''} (cuda:0 to cuda:{count - 1})")
    return cupy.cuda.Device(device.index)


def copy(array: Any) -> Any:
    """A copy of ``array`` on its own device (CuPy's ``.copy()`` copies to the *current* one)."""
    with on_device(device_of(array)):
        return array.copy()


# ----------------------------------------------------------------------------
# Scatter-add: the backward of indexing with repeated indices
# ----------------------------------------------------------------------------
def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where repeated indices *accumulate*.

    Plain ``target[index] += values`` writes once per distinct index, so a row
    picked twice would get only one gradient; ``add.at`` adds every time.
    """
    xp_of(target).add.at(target, index, values)  # cupy.add.at exists since CuPy 12
