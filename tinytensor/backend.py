"""The backend: the one file where NumPy (CPU) and CuPy (GPU) differ.

Every array in tinytensor is either a ``numpy.ndarray`` (device ``"cpu"``) or a
``cupy.ndarray`` (device ``"cuda:N"``). The two libraries share almost the whole
array API, so the ops are written once against an *array module* ``xp`` and this
file answers the few questions whose answers differ:

* which array module holds an array, and on which device it lives;
* how to move an array between devices;
* which GPU is current while an op runs (CuPy computes on the current one,
  whatever the device of its arrays: ``on_device``);
* how to scatter-add (``add.at``), which the backward of indexing and
  embedding needs;
* where random numbers come from (one seeded generator per device), and how
  their states go into a checkpoint;
* how arrays are written to and read from a checkpoint file.

No other module imports NumPy or CuPy (a test checks that), so a reader who
wants to port tinytensor to another array library reads this file only.
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
bool_ = numpy.dtype("bool")

DEFAULT_FLOAT = float32


def _keep_freed_memory_for_reuse() -> None:
    """Ask glibc's malloc to keep freed blocks for the next array instead of unmapping them.

    By default glibc hands every freed block over 128 KiB back to the OS, so each
    new activation or gradient array of a training step is fresh memory that the
    kernel must fault in page by page: in a step of the block stack that was
    19,000 page faults and 46 ms of system time (PyTorch's allocator keeps its
    blocks). So arrays of up to 32 MiB (glibc's maximum for this threshold) come
    from malloc's heap, and up to 64 MiB freed at its top stay there for the next
    step: a step reuses the memory the last one freed (benchmarks/profile_step.py).
    It changes malloc for the whole process; TINYTENSOR_KEEP_FREED_MEMORY=0 leaves
    glibc's defaults. Only where glibc is the C library (Linux); elsewhere nothing changes.
    """
    import ctypes
    import os
    import platform
    if os.environ.get("TINYTENSOR_KEEP_FREED_MEMORY") == "0":
        return
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024)


_keep_freed_memory_for_reuse()


class Device:
    """Where a tensor's memory lives: ``Device("cpu")`` or ``Device("cuda:0")``.

    Compares equal to its string form, so ``t.device == "cpu"`` reads naturally.
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
        self.index = int(index) if index else (0 if name == "cuda" else None)

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


@functools.lru_cache(maxsize=None)
def _cupy_or_reason() -> tuple[Any, str]:
    """Return (cupy, "") when a GPU is usable, else (None, why not)."""
    cupy = _cuda_module
    if cupy is None:
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported on demand
        except ImportError:
            return None, ("CuPy is not installed. Install it with "
                          "`pip install 'tinytensor[cuda]'` (CUDA 13) or pick the wheel for your "
                          "CUDA version, e.g. `pip install cupy-cuda12x`.")
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
    generators made so far are forgotten, as they belonged to the other module.
    """
    global _cuda_module
    _cuda_module = module
    _cupy_or_reason.cache_clear()
    cuda_device_count.cache_clear()
    for device in [d for d in _generators if d.type == "cuda"]:
        del _generators[device]


def cuda_is_available() -> bool:
    """True when CuPy is installed and at least one GPU answers (as torch.cuda.is_available)."""
    return _cupy_or_reason()[0] is not None


@functools.lru_cache(maxsize=None)
def cuda_device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or without a GPU)."""
    cupy = _cupy_or_reason()[0]
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def synchronize(device: Device) -> None:
    """Wait until the GPU has finished the work queued on it (before reading a clock, say)."""
    if device.type == "cuda":
        with on_device(device):
            _cupy().cuda.Device(device.index).synchronize()


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
            return array.get()
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


def to_numpy(array: Any) -> numpy.ndarray:
    return to_device(array, CPU)


# ----------------------------------------------------------------------------
# Scatter-add: the backward of indexing with repeated indices
# ----------------------------------------------------------------------------
def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where repeated indices *accumulate*.

    Plain ``target[index] += values`` writes once per distinct index, so a row
    picked twice would get only one gradient; ``add.at`` adds every time.
    """
    xp_of(target).add.at(target, index, values)  # cupy.add.at exists since CuPy 12


# ----------------------------------------------------------------------------
# Random numbers: one seeded generator per device
# ----------------------------------------------------------------------------
_generators: dict[Device, Any] = {}
_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Seed every device's generator, so runs repeat bit for bit (as torch.manual_seed)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def generator(device: Device) -> Any:
    """The random generator of ``device``, created from the seed on first use."""
    gen = _generators.get(device)
    if gen is None:
        if device.type == "cpu":
            gen = numpy.random.default_rng(_seed)
        else:
            with on_device(device):
                gen = _cupy().random.default_rng(_seed)
        _generators[device] = gen
    return gen


def uniform(shape: tuple[int, ...], dtype: numpy.dtype, device: Device) -> Any:
    """Samples from U[0, 1)."""
    with on_device(device):
        return generator(device).random(shape, dtype=_sampled(dtype)).astype(dtype, copy=False)


def normal(shape: tuple[int, ...], dtype: numpy.dtype, device: Device) -> Any:
    """Samples from N(0, 1)."""
    with on_device(device):
        return generator(device).standard_normal(shape, dtype=_sampled(dtype)).astype(dtype, copy=False)


def integers(low: int, high: int, shape: tuple[int, ...], device: Device) -> Any:
    """int64 samples, each of low..high-1 equally likely."""
    with on_device(device):
        return generator(device).integers(low, high, size=shape, dtype=int64)


def permutation(n: int, device: Device) -> Any:
    """0..n-1 in a random order (int64).

    CuPy's Generator has no ``permutation``: on the GPU, the order that sorts n
    random floats is the permutation (a tie, rare in float64, still gives one).
    """
    with on_device(device):
        if device.type == "cpu":
            return generator(device).permutation(n).astype(int64, copy=False)
        return generator(device).random(n).argsort().astype(int64, copy=False)


def _sampled(dtype: numpy.dtype) -> numpy.dtype:
    """The generators sample float32 and float64 only: float16 is sampled as float32, then cast."""
    if dtype.kind != "f":
        raise TypeError(f"random tensors must have a floating dtype, got {dtype}")
    return float64 if dtype == float64 else float32


def new_generator(seed: int) -> Any:
    """A CPU generator of one's own, apart from manual_seed's (as torch.Generator().manual_seed)."""
    return numpy.random.default_rng(seed)


def get_rng_state() -> dict[str, Any]:
    """Every device's generator state, as plain data to save in a checkpoint.

    ``{"seed": manual_seed's seed, "cpu": NumPy's state (str and int), "cuda:0":
    the GPU generator's state (an int8 NumPy array), ...}``, for the GPU
    generators made so far; the others will be made from the seed, as they
    would have been in the run that is saved.
    """
    state: dict[str, Any] = {"seed": _seed, "cpu": generator(CPU).bit_generator.state}
    for device, gen in _generators.items():
        if device.type == "cuda":
            with on_device(device):
                state[str(device)] = _cuda_state(gen).get()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Continue every generator from a state ``get_rng_state`` returned.

    The states of GPUs this machine lacks are passed over: a GPU run resumed on
    the CPU draws from the CPU generator. A state without a "seed" is the CPU
    generator's alone, as checkpoints held it before the GPUs' were saved too.
    """
    global _seed
    if "seed" not in state:
        state = {"seed": _seed, "cpu": state}
    _seed = state["seed"]
    _generators.clear()
    for name, saved in state.items():
        if name == "seed":
            continue
        device = Device(name)
        if device.type == "cpu":
            generator(device).bit_generator.state = saved
            continue
        if device.index >= cuda_device_count():
            continue
        with on_device(device):
            current = _cuda_state(generator(device))
            if current.shape != saved.shape:
                raise ValueError(f"set_rng_state: the saved state of {device}'s generator has "
                                 f"{saved.size} bytes, this GPU's has {current.size} (another GPU "
                                 f"model?), so its numbers cannot continue; leave {name!r} out of "
                                 f"the state to start that generator from the seed")
            current[...] = _cupy().asarray(saved)


def _cuda_state(gen: Any) -> Any:
    """The device array that holds a CuPy generator's whole state, which every draw updates.

    CuPy has no public way to save a Generator (cupy/cupy#5430); its XORWOW bit
    generator keeps its cuRAND states in ``_state`` (cupy/random/_bit_generator.pyx),
    so copying that array out and back in resumes the stream exactly.
    """
    return gen.bit_generator._state


# ----------------------------------------------------------------------------
# Checkpoint files: named arrays in a NumPy .npz archive, never pickles
# ----------------------------------------------------------------------------
def write_npz(file: Any, arrays: dict[str, numpy.ndarray]) -> None:
    """Write ``arrays`` into the open binary ``file`` as an uncompressed .npz archive."""
    numpy.savez(file, **arrays)


def read_npz(file: Any) -> dict[str, numpy.ndarray]:
    """Every array of the .npz archive in ``file``; refuses pickled objects (they can run code)."""
    loaded = numpy.load(file, allow_pickle=False)
    if not isinstance(loaded, numpy.lib.npyio.NpzFile):
        raise ValueError("it holds a single array (.npy), not an .npz archive")
    with loaded as archive:
        return {name: archive[name] for name in archive.files}
