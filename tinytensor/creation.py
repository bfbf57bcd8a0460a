"""Making tensors: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``rand``, ``randn``, ``*_like``...

Every function takes ``dtype=`` (default float32 for floating values) and
``device=`` ("cpu", "cuda", "cuda:1"), as in PyTorch. Random tensors come from
the device's seeded generator: ``manual_seed(0)`` makes them repeat; given
``generator=`` (a tinytensor.Generator, generator.py) they come from that one.

``empty`` gives zeros: PyTorch's leaves the memory as it was, which is faster and
whose values mean nothing; here the values at least mean something.
``from_numpy`` shares the array's memory, as PyTorch's does; ``tensor`` copies.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import backend
from .backend import Device
from .generator import Generator
from .ops.axes import shape_arg
from .tensor import Tensor


def _make(array: Any, requires_grad: bool) -> Tensor:
    t = Tensor._make(array, None)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, dtype: Any = None, device: "str | Device | None" = None,
           requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (a number, nested lists, an array)."""
    if isinstance(data, Tensor):
        data = data.array
    elif isinstance(data, (list, tuple)) and any(isinstance(item, Tensor) for item in data):
        data = [item.item() if isinstance(item, Tensor) else item for item in data]  # scalars
    array = backend.as_array(data, dtype, device, copy=True)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: cannot make a tensor of dtype {array.dtype} from {type(data).__name__}; "
                        "give numbers, nested lists of numbers, or an array (to join tensors use "
                        "tinytensor.stack)")
    return _make(array, requires_grad)


def full(size: "int | Sequence[int]", fill_value: float, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (as torch.full(size, fill_value))."""
    if dtype is None and isinstance(fill_value, (bool, int)):  # full(2, 7) is int64, as PyTorch
        dtype = backend.bool_ if isinstance(fill_value, bool) else backend.int64
    shape = (size,) if isinstance(size, int) else tuple(size)
    array = backend.full(shape, fill_value, backend.resolve_dtype(dtype), Device(device or "cpu"))
    return _make(array, requires_grad)


def zeros(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(shape_arg(shape), 0, dtype=backend.resolve_dtype(dtype), device=device,
                requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(shape_arg(shape), 1, dtype=backend.resolve_dtype(dtype), device=device,
                requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None) -> Tensor:
    """``arange(5)`` is 0..4 as int64; with a float anywhere it is float32, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = backend.int64 if all(isinstance(v, int) for v in (start, end, step)) else None
    array = backend.arange(start, end, step, backend.resolve_dtype(dtype), Device(device or "cpu"))
    return Tensor._make(array, None)


def rand(*shape: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _make(_floats("rand", shape, generator, dtype, device), requires_grad)


def randn(*shape: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples, N(0, 1)."""
    return _make(_floats("randn", shape, generator, dtype, device), requires_grad)


def _floats(op: str, shape: tuple, generator: Generator | None, dtype: Any, device: Any) -> Any:
    """rand's or randn's array, from ``generator`` or else the device's own generator."""
    shape, dtype, device = shape_arg(shape), backend.resolve_dtype(dtype), Device(device or "cpu")
    if generator is None:
        return (backend.uniform if op == "rand" else backend.normal)(shape, dtype, device)
    if not backend.is_floating(dtype):
        raise TypeError(f"{op}: random tensors must have a floating dtype, got {dtype}")
    sampled = backend.float64 if dtype == backend.float64 else backend.float32  # what NumPy can draw
    source = generator.draws_on(device, op)
    draw = source.random if op == "rand" else source.standard_normal
    return draw(shape, dtype=sampled).astype(dtype, copy=False)


def _like(maker: Any, x: Tensor, dtype: Any, device: Any, requires_grad: bool, **kw: Any) -> Tensor:
    return maker(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                 requires_grad=requires_grad, **kw)


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(ones, x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value: float, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _like(full, x, dtype, device, requires_grad, fill_value=fill_value)


def rand_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(rand, x, dtype, device, requires_grad)


def randn_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(randn, x, dtype, device, requires_grad)


def empty(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``shape`` (of zeros: see the module docstring)."""
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, x, dtype, device, requires_grad)


def randint(low: int, high: int | None = None, size: "Sequence[int] | None" = None, *,
            generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Random integers in low..high-1 (``randint(high, size)`` counts from 0), as torch.randint."""
    if size is None:  # randint(high, size), positionally
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if size is None or high is None:
        raise TypeError("randint: give the size, e.g. randint(0, 10, (3, 4)) or randint(10, (3, 4))")
    device, shape = Device(device or "cpu"), shape_arg((size,))
    if generator is None:
        return _cast(backend.integers(low, high, shape, device), dtype, device)
    ids = generator.draws_on(device, "randint").integers(low, high, size=shape, dtype=backend.int64)
    return _cast(ids, dtype, device)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """0..n-1 in a random order."""
    device = Device(device or "cpu")
    if generator is None:
        return _cast(backend.permutation(n, device), dtype, device)
    return _cast(generator.draws_on(device, "randperm").permutation(n).astype(backend.int64), dtype, device)


def _cast(array: Any, dtype: Any, device: Device) -> Tensor:
    """int64 ``array`` as a tensor of ``dtype`` (cast on its own device)."""
    if dtype is not None:
        with backend.on_device(device):
            array = array.astype(backend.resolve_dtype(dtype))
    return Tensor._make(array, None)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix, n x m (n x n by default)."""
    array = backend.eye(n, n if m is None else m, backend.resolve_dtype(dtype), Device(device or "cpu"))
    return _make(array, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    array = backend.linspace(start, end, steps, backend.resolve_dtype(dtype), Device(device or "cpu"))
    return _make(array, requires_grad)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing ``array``'s memory: writing one writes the other, as torch.from_numpy."""
    if type(array).__module__ != "numpy" or not hasattr(array, "__array_interface__"):
        raise TypeError(f"from_numpy: expects a NumPy array, got {type(array).__name__}; "
                        f"tinytensor.tensor(data) copies anything array-like")
    return Tensor._make(backend.as_array(array), None)
