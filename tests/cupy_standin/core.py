"""The stand-in's array, and the rules every one of its operations follows.

An ``ndarray`` here is a NumPy array plus the number of the pretend GPU it
lives on. Every function and method unwraps its arguments, lets NumPy compute,
and wraps the result, applying CuPy's rules on the way:

* operands must be stand-in arrays, Python numbers or NumPy scalars; a NumPy
  array raises TypeError, as CuPy's ``CScalar`` does for anything else
  (cupy/_core/_scalar.pyx);
* an operation that computes new values runs "a kernel on the current
  device": every array it reads must be there, else ValueError, as
  ``_check_peer_access`` raises without peer access (cupy/_core/_kernel.pyx);
  a view (slice, reshape, transpose, broadcast) stays on its array's device
  and checks nothing;
* what NumPy returns as a scalar (a reduction, ``a[0, 1]``) is a 0-d array;
* reading values on the host is a device-to-host transfer, and is counted.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy

from . import cuda

# ----------------------------------------------------------------------------
# Device-to-host transfers: each one makes the host wait for the GPU (a sync)
# ----------------------------------------------------------------------------
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Transfers:
    """The transfers seen while counting: what each was, and the callers that made it."""

    events: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.events)

    def __str__(self) -> str:
        return "\n".join(f"  {what} at {where}" for what, where in self.events) or "  (none)"


_counters: list[Transfers] = []


@contextlib.contextmanager
def count_transfers() -> Iterator[Transfers]:
    """Count the device-to-host transfers made inside the block."""
    counter = Transfers()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


def transfer(what: str) -> None:
    """Record one device-to-host transfer in every counter that is counting."""
    if _counters:
        where = _callers()
        for counter in _counters:
            counter.events.append((what, where))


def _callers(depth: int = 3) -> str:
    """The first ``depth`` frames outside the stand-in, innermost first: who asked for the values."""
    frame, found = sys._getframe(1), []
    while frame is not None and len(found) < depth:
        path = frame.f_code.co_filename
        if not path.startswith(_HERE):
            found.append(f"{os.path.basename(path)}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " <- ".join(found)


# ----------------------------------------------------------------------------
# Unwrapping arguments, wrapping results
# ----------------------------------------------------------------------------
def _operand(value: Any, inputs: list["ndarray"]) -> Any:
    """An operand of an elementwise operation: a stand-in array, a Python number or a NumPy scalar."""
    if isinstance(value, ndarray):
        inputs.append(value)
        return value._array
    if isinstance(value, (bool, int, float, complex, numpy.generic)) or value is None:
        return value
    raise TypeError(f"Unsupported type {type(value)}")


def _argument(value: Any, inputs: list["ndarray"]) -> Any:
    """Any other argument: sequences (of arrays, of sizes) are unwrapped item by item."""
    if isinstance(value, (list, tuple)):
        return type(value)(_argument(item, inputs) for item in value)
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(value)}")
    if isinstance(value, ndarray):
        inputs.append(value)
        return value._array
    return value


def require_current(inputs: list["ndarray"]) -> int:
    """A kernel is about to read ``inputs``: they must be on the current device (returned)."""
    current = cuda.get_device_id()
    for array in inputs:
        if array._device != current:
            raise ValueError(f"The device where the array resides ({array._device}) is different "
                             f"from the current device ({current}). Peer access is unavailable "
                             f"between these devices.")
    return current


def wrap(result: Any, inputs: list["ndarray"], writes: bool = False) -> Any:
    """The stand-in form of what NumPy returned, on the device CuPy would have put it.

    A result that shares memory with an input (and was not written) is a view of
    it, on its device; anything else was computed by a kernel on the current device.
    """
    if isinstance(result, tuple):
        return tuple(wrap(item, inputs, writes) for item in result)
    if result is None:  # it wrote into an argument
        require_current(inputs)
        return None
    for source in inputs:
        if result is source._array:  # an out= argument, or the array itself (astype without a copy)
            return source
        if not writes and isinstance(result, numpy.ndarray) and numpy.may_share_memory(result, source._array):
            return ndarray._wrap(result, source._device, source if source._base is None else source._base)
    return ndarray._wrap(numpy.asarray(result), require_current(inputs))


def call(function: Callable, args: tuple, kwargs: dict, elementwise: bool = False,
         writes: bool = False) -> Any:
    """Run NumPy's ``function`` on the unwrapped arguments; wrap what it returns.

    ``writes``: it writes into an argument (as ``out=`` does), so it is a kernel
    whatever it returns, and the devices are checked before anything is written.
    """
    unwrap = _operand if elementwise else _argument
    inputs: list[ndarray] = []
    plain = [unwrap(a, inputs) for a in args]
    named = {key: unwrap(value, inputs) for key, value in kwargs.items()}
    writes = writes or "out" in kwargs
    if writes:
        require_current(inputs)
    return wrap(function(*plain, **named), inputs, writes)


def new(array: numpy.ndarray) -> "ndarray":
    """A fresh array on the current device (what CuPy's creation functions make)."""
    return ndarray._wrap(array, cuda.get_device_id())


# ----------------------------------------------------------------------------
# Indices: integer arrays wrap around, boolean masks sync
# ----------------------------------------------------------------------------
def numpy_index(index: Any, shape: tuple[int, ...], inputs: list["ndarray"]) -> Any:
    """``index`` for NumPy, with CuPy's meaning.

    Out-of-range entries of integer index arrays wrap around (CuPy's take and
    scatter kernels compute ``i % n``, cupy/_core/_routines_indexing.pyx) where
    NumPy raises IndexError; a plain integer out of range raises, in CuPy's
    words. A boolean mask makes CuPy read its number of True values on the
    host (``int(mask_scanned[-1])``), a transfer. Lists and
    NumPy arrays are copied to the device, as CuPy's ``_prepare_slice_list``
    does. Without any array the index gets a trailing ``...``, so that
    ``a[0, 1]`` is a 0-d view, as on CuPy, not a NumPy scalar.
    """
    parts = list(index) if isinstance(index, tuple) else [index]
    for i, part in enumerate(parts):
        if isinstance(part, ndarray):
            inputs.append(part)
            parts[i] = part._array
        elif isinstance(part, (list, numpy.ndarray)):
            parts[i] = numpy.asarray(part)
    used, dim = sum(_dims_used(p) for p in parts), 0
    for i, part in enumerate(parts):
        if part is Ellipsis:
            dim += len(shape) - used
        elif _is_mask(part):
            transfer("boolean mask index")
            dim += part.ndim
        elif part is not None:
            size = shape[dim] if dim < len(shape) else None
            if isinstance(part, numpy.ndarray) and size:
                parts[i] = part % size
            elif isinstance(part, int) and not isinstance(part, bool) and size is not None \
                    and not -size <= part < size:  # CuPy's words (_view_getitem)
                raise IndexError(f"Index {part} is out of bounds for axis {dim} with size {size}")
            dim += 1
    if any(isinstance(p, numpy.ndarray) for p in parts) or any(p is Ellipsis for p in parts):
        return tuple(parts)
    return (*parts, Ellipsis)


def _is_mask(part: Any) -> bool:
    return isinstance(part, numpy.ndarray) and part.dtype == bool


def _dims_used(part: Any) -> int:
    """How many dimensions of the array an index entry consumes (``...`` counted apart)."""
    if part is None or part is Ellipsis:
        return 0
    return part.ndim if _is_mask(part) else 1


# ----------------------------------------------------------------------------
# The array
# ----------------------------------------------------------------------------
class ndarray:  # noqa: N801 - CuPy's name
    """A stand-in for ``cupy.ndarray``: a NumPy array on a pretend GPU."""

    __slots__ = ("_array", "_device", "_base", "__weakref__")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("make stand-in arrays with asarray, zeros, full, arange...")

    @classmethod
    def _wrap(cls, array: numpy.ndarray, device: int, base: "ndarray | None" = None) -> "ndarray":
        self = object.__new__(cls)
        self._array, self._device, self._base = array, device, base
        return self

    # -- what an array is ---------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    strides = property(lambda self: self._array.strides)
    base = property(lambda self: self._base)
    device = property(lambda self: cuda.Device(self._device))
    T = property(lambda self: self.transpose())
    mT = property(lambda self: self.swapaxes(-1, -2))

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.shape, "typestr": self.dtype.str, "strides": self.strides,
                "data": (self._array.__array_interface__["data"][0], False), "version": 3}

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self) -> Iterator["ndarray"]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    # -- reading values on the host: each is a transfer ----------------------
    def get(self, stream: Any = None) -> numpy.ndarray:
        transfer("get")
        return self._array.copy()

    def item(self) -> Any:
        transfer("item")
        return self._array.item()

    def tolist(self) -> Any:
        transfer("tolist")
        return self._array.tolist()

    def __bool__(self) -> bool:
        if self.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous.", DeprecationWarning)
            return False
        if self.size > 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        transfer("bool")
        return bool(self._array)

    def __int__(self) -> int:
        transfer("int")
        return int(self._array)

    def __float__(self) -> float:
        transfer("float")
        return float(self._array)

    def __format__(self, spec: str) -> str:
        transfer("format")
        return format(self._array, spec)

    def __repr__(self) -> str:
        transfer("repr")
        return repr(self._array)

    def __array__(self, *args: Any, **kwargs: Any) -> numpy.ndarray:
        transfer("numpy.asarray")
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """A NumPy ufunc called on a stand-in array runs the stand-in's own (CuPy does the same)."""
        if method != "__call__" or ufunc.__name__ not in ELEMENTWISE:
            return NotImplemented
        if "out" in kwargs:
            kwargs["out"] = kwargs["out"][0]
        return call(ufunc, inputs, kwargs, elementwise=True)

    # -- copies ---------------------------------------------------------------
    def copy(self, order: str = "C") -> "ndarray":
        """A copy on the *current* device: CuPy copies across devices here, without complaint."""
        return new(self._array.copy(order))

    def __copy__(self) -> "ndarray":
        return self.copy()

    def __deepcopy__(self, memo: dict) -> "ndarray":
        with self.device:
            return self.copy()

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> "ndarray":
        if not copy and numpy.dtype(dtype) == self.dtype:
            return self
        require_current([self])
        return new(self._array.astype(dtype, order=order))

    def fill(self, value: Any) -> None:
        call(numpy.copyto, (self, value), {}, writes=True)

    # -- indexing -------------------------------------------------------------
    def __getitem__(self, index: Any) -> "ndarray":
        inputs = [self]
        return wrap(self._array[numpy_index(index, self.shape, inputs)], inputs)

    def __setitem__(self, index: Any, value: Any) -> None:
        inputs = [self]
        where = numpy_index(index, self.shape, inputs)
        value = _operand(value, inputs)
        require_current(inputs)
        self._array[where] = value

    def argsort(self, axis: int = -1, kind: Any = None) -> "ndarray":
        if kind not in (None, "stable"):  # CuPy sorts stably and accepts no other kind
            raise ValueError(f"Unsupported kind {kind!r} for argsort")
        return call(numpy.argsort, (self,), {"axis": axis, "kind": "stable"})

    def nonzero(self) -> tuple["ndarray", ...]:
        """CuPy counts the nonzero elements on the host first, to size the result: a transfer
        (``_ndarray_argwhere`` in cupy/_core/_routines_indexing.pyx)."""
        transfer("nonzero")
        return call(numpy.nonzero, (self,), {})

    def take(self, indices: Any, axis: Any = None) -> "ndarray":
        """Out-of-range indices wrap around: CuPy's take kernel computes ``i % n``."""
        return call(numpy.take, (self, indices), {"axis": axis, "mode": "wrap"})


def _method(name: str) -> Callable:
    function = getattr(numpy.ndarray, name)

    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        return call(function, (self, *args), kwargs)

    method.__name__ = name
    return method


def _binary(ufunc: Callable, reflected: bool = False, in_place: bool = False) -> Callable:
    def operator(self: ndarray, other: Any) -> Any:
        args = (other, self) if reflected else (self, other)
        return call(ufunc, args, {"out": self} if in_place else {}, elementwise=True)

    return operator


def _unary(ufunc: Callable) -> Callable:
    return lambda self: call(ufunc, (self,), {}, elementwise=True)


# The methods CuPy's ndarray has that tinytensor calls (checked against cupy/_core/core.pyx).
METHODS = ("all", "any", "argmax", "argmin", "clip", "cumprod", "cumsum", "max", "mean", "min", "prod",
           "ravel", "repeat", "reshape", "squeeze", "std", "sum", "swapaxes", "transpose", "var", "view")
for _name in METHODS:
    setattr(ndarray, _name, _method(_name))

_BINARY = {"add": numpy.add, "sub": numpy.subtract, "mul": numpy.multiply, "truediv": numpy.divide,
           "floordiv": numpy.floor_divide, "mod": numpy.remainder, "pow": numpy.power,
           "matmul": numpy.matmul, "and": numpy.bitwise_and, "or": numpy.bitwise_or,
           "xor": numpy.bitwise_xor}
for _name, _ufunc in _BINARY.items():
    setattr(ndarray, f"__{_name}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_name}__", _binary(_ufunc, reflected=True))
    if _name != "matmul":
        setattr(ndarray, f"__i{_name}__", _binary(_ufunc, in_place=True))
for _name, _ufunc in {"eq": numpy.equal, "ne": numpy.not_equal, "lt": numpy.less,
                      "le": numpy.less_equal, "gt": numpy.greater, "ge": numpy.greater_equal}.items():
    setattr(ndarray, f"__{_name}__", _binary(_ufunc))
for _name, _ufunc in {"neg": numpy.negative, "pos": numpy.positive, "abs": numpy.absolute,
                      "invert": numpy.invert}.items():
    setattr(ndarray, f"__{_name}__", _unary(_ufunc))

# The elementwise functions tinytensor calls through ``xp`` (all of them are in CuPy 14).
ELEMENTWISE = {name: getattr(numpy, name) for name in (
    "abs", "absolute", "add", "clip", "copysign", "cos", "divide", "equal", "exp", "greater",
    "greater_equal", "invert", "isfinite", "isinf", "less", "less_equal", "log", "maximum", "minimum",
    "multiply", "nan_to_num", "negative", "not_equal", "positive", "power", "remainder", "sign",
    "sin", "sqrt", "subtract", "tanh", "where", "floor_divide", "bitwise_and", "bitwise_or",
    "bitwise_xor", "matmul", "true_divide")}
