"""A strict stand-in for CuPy, backed by NumPy, so that CI runs every device test without a GPU.

tests/conftest.py hands this module to the backend as device "cuda" where no
real GPU is usable (``backend.use_cuda_module``). It has the parts of CuPy's
API that tinytensor calls, and behaves like CuPy 14 where CuPy differs from
NumPy, so a test on this "cuda" fails where it would fail on a GPU. Each
difference, and where it was checked (CuPy's source at tag v14.2.0):

* Its own array type, ``ndarray``, distinct from ``numpy.ndarray``;
  ``numpy.asarray`` on it raises TypeError ("Implicit conversion to a NumPy
  array is not allowed", ``__array__`` in cupy/_core/core.pyx). Values reach
  the host only through ``.get()``, ``.item()``, ``.tolist()``, ``bool()``,
  ``int()``, ``float()``, formatting and ``repr``.
* An operation mixing it with a NumPy array raises TypeError ("Unsupported
  type", ``CScalar`` in cupy/_core/_scalar.pyx); Python numbers and NumPy
  scalars are fine, and a NumPy scalar is not "weak": float32 times
  ``numpy.float64(0.1)`` is float64 (NEP 50, which CuPy 14 follows).
* Reductions return 0-d arrays, not scalars; ``allclose`` too; so does
  ``a[0, 1]`` (a 0-d view). A 0-d array has no ``__index__``.
* Only the random-number API of CuPy 14's ``Generator``: ``random``,
  ``standard_normal``, ``integers`` (no ``permutation``), with the whole state
  in ``bit_generator._state`` (random.py).
* ``add.at`` only for int32, int64, float16, float32, float64, uint32 and
  uint64, else TypeError (``_scatter_op_single`` in
  cupy/_core/_routines_indexing.pyx).
* Out-of-range entries of integer index arrays wrap around (``i % n``) in
  ``a[idx]``, ``a[idx] = v``, ``add.at`` and ``take``, where NumPy raises
  IndexError (the take and scatter kernels in _routines_indexing.pyx; CuPy's
  "Differences between CuPy and NumPy" page says the same).
* A boolean mask index makes CuPy read the number of True values on the host
  (``_prepare_mask_indexing_single``), a sync; so does ``putmask`` with a
  scalar (it is ``a[mask] = value``, cupy/_indexing/insert.py).
* ``broadcast_to`` gives a writable view (CuPy arrays have no read-only flag),
  so writing into it writes each memory location several times.
* Two devices, ``cuda:0`` and ``cuda:1`` (cuda.py). Arrays remember theirs;
  a kernel runs on the current device and every array it reads must be
  there (ValueError, as ``_check_peer_access`` without peer access); a view
  stays where its array is; ``asarray`` and ``copy`` copy to the current
  device, and ``zeros_like`` and friends allocate there, whatever the
  device of their argument.
* Each device-to-host transfer is counted: ``with count_transfers() as t:
  ...; t.count`` (and ``str(t)`` says what made each one, and where).

Anything else of CuPy's API is left out on purpose and fails loudly
(AttributeError): before adding a function, check what CuPy 14 does with it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy

from . import core, cuda, random
from .core import Transfers, count_transfers, ndarray

inf, nan = numpy.inf, numpy.nan

_ADD_AT = {numpy.dtype(t) for t in ("int32", "int64", "float16", "float32", "float64", "uint32", "uint64")}


def asarray(obj: Any, dtype: Any = None) -> ndarray:
    """``obj`` on the current device: a stand-in array elsewhere is copied here, host data too."""
    if isinstance(obj, ndarray):
        here = obj if obj._device == cuda.get_device_id() else obj.copy()
        return here.astype(here.dtype if dtype is None else dtype, copy=False)
    return core.new(numpy.array(obj, dtype=dtype))


def _creation(function: Callable) -> Callable:
    return lambda *args, **kwargs: core.call(function, args, kwargs)


def _like(function: Callable) -> Callable:
    """``zeros_like(a)`` and friends read only a's shape and dtype: they allocate on the current device."""
    return lambda a, *args, **kwargs: core.new(function(a._array, *args, **kwargs))


def _elementwise(function: Callable) -> Callable:
    return lambda *args, **kwargs: core.call(function, args, kwargs, elementwise=True)


zeros, full, arange, eye, linspace, tri = (_creation(getattr(numpy, name)) for name in
                                           ("zeros", "full", "arange", "eye", "linspace", "tri"))
zeros_like, ones_like, full_like = (_like(getattr(numpy, name)) for name in
                                    ("zeros_like", "ones_like", "full_like"))
(abs, clip, copysign, cos, divide, exp, isfinite, isinf, log, maximum, minimum, sign, sin, sqrt, tanh,
 where) = (
    _elementwise(numpy.absolute if name == "abs" else getattr(numpy, name)) for name in
    ("abs", "clip", "copysign", "cos", "divide", "exp", "isfinite", "isinf", "log", "maximum", "minimum",
     "sign", "sin", "sqrt", "tanh", "where"))
log1p = _elementwise(numpy.log1p)  # cupy.log1p is a ufunc as NumPy's (cupy/_math/explog.py)


def concatenate(arrays: Any, axis: int = 0) -> ndarray:
    return core.call(numpy.concatenate, (list(arrays),), {"axis": axis})


def take(a: ndarray, indices: Any, axis: Any = None) -> ndarray:
    return a.take(indices, axis=axis)


def argsort(a: ndarray, axis: int = -1, kind: Any = None) -> ndarray:
    return a.argsort(axis=axis, kind=kind)


def roll(a: ndarray, shift: Any, axis: Any = None) -> ndarray:
    return core.call(numpy.roll, (a, shift), {"axis": axis})


def searchsorted(a: ndarray, v: ndarray, side: str = "left") -> ndarray:
    return core.call(numpy.searchsorted, (a, v), {"side": side})


def einsum(subscripts: str, *operands: ndarray, optimize: Any = False) -> ndarray:
    """CuPy's einsum (cupy/linalg/_einsum.py) takes ``optimize`` too; True is its 'greedy' path."""
    return core.call(numpy.einsum, (subscripts, *operands), {"optimize": optimize})


def broadcast_to(array: ndarray, shape: tuple[int, ...]) -> ndarray:
    """A view, and a writable one: CuPy arrays have no read-only flag (NumPy's broadcast is read-only)."""
    strides = numpy.broadcast_to(array._array, shape).strides
    view = numpy.lib.stride_tricks.as_strided(array._array, shape, strides, writeable=True)
    return core.wrap(view, [array])


def allclose(a: ndarray, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> ndarray:
    """A 0-d bool array (CuPy's), not a Python bool (NumPy's)."""
    return core.call(numpy.allclose, (a, b), {"rtol": rtol, "atol": atol, "equal_nan": equal_nan},
                     elementwise=True)


def putmask(a: ndarray, mask: ndarray, values: Any) -> None:
    """CuPy's rules: a and mask of one shape; a scalar value is ``a[mask] = value``, which syncs."""
    if not isinstance(a, ndarray) or not isinstance(mask, ndarray):
        raise TypeError("`a` and `mask` should be of type cupy.ndarray")
    if a.shape != mask.shape:
        raise ValueError("mask and data must be the same size")
    if not isinstance(values, ndarray):
        a[mask.astype(bool, copy=False)] = values
        return
    core.call(numpy.putmask, (a, mask, values), {}, writes=True)


class _Add:
    """``cupy.add``: the ufunc, and ``add.at``, the scatter-add of the backward of indexing."""

    __name__ = "add"

    def __call__(self, *args: Any, **kwargs: Any) -> ndarray:
        return core.call(numpy.add, args, kwargs, elementwise=True)

    def at(self, a: ndarray, indices: Any, b: Any) -> None:
        if a.dtype not in _ADD_AT:
            raise TypeError("cupy.add.at only supports int32, int64, float16, float32, float64, "
                            "uint32, uint64 as data type")
        inputs = [a]
        where = core.numpy_index(indices, a.shape, inputs)
        values = core._operand(b, inputs)
        core.require_current(inputs)
        numpy.add.at(a._array, where, values)


add = _Add()


def __getattr__(name: str) -> Any:
    raise AttributeError(f"the CuPy stand-in has no {name!r}: check what CuPy 14 does with it "
                         f"(and how that differs from NumPy), then add it to tests/cupy_standin/")
