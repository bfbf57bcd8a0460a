"""Comparisons, logic and argmax: their results are booleans and indices, which have no gradient.

They are plain functions, not ``Function`` ops: nothing to record in the graph.
``&``, ``|``, ``^`` and ``~`` combine masks (a padding mask | a causal mask); on
integer tensors they work bit by bit, as in PyTorch and NumPy. ``//`` and ``%``
are index arithmetic on integer tensors (beam search splits a flat index into
hypothesis and token); ``all`` and ``any`` ask whether a mask holds anywhere.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

from .. import backend
from ..autograd.function import _check_same_device
from ..tensor import Tensor
from .axes import dims

_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
            "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_LOGIC = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}
_INTEGER = {"floor_divide": operator.floordiv, "remainder": operator.mod}


def compare(op: str, a: Tensor, b: Tensor) -> Tensor:
    _check_same_device(op, (a, b))
    try:
        return _on_arrays(_COMPARE[op], a, b)
    except ValueError as error:
        raise ValueError(f"{op}: cannot compare shapes {a.shape} and {b.shape}: {error}") from None


def logical(op: str, a: Tensor, b: Tensor) -> Tensor:
    """``a & b``, ``a | b`` or ``a ^ b`` of bool (or integer) tensors."""
    _check_same_device(op, (a, b))
    _bool_or_integer(op, a, b)
    try:
        return _on_arrays(_LOGIC[op], a, b)
    except ValueError as error:
        raise ValueError(f"{op}: cannot combine shapes {a.shape} and {b.shape}: {error}") from None


def logical_not(a: Tensor) -> Tensor:
    """``~a``: True where a is False (bitwise not for integers)."""
    _bool_or_integer("not", a)
    return _on_arrays(operator.invert, a)


def allclose(a: Tensor, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether |a - b| <= atol + rtol |b| everywhere, as torch.allclose."""
    b = b if isinstance(b, Tensor) else Tensor(b, device=a.device)
    _check_same_device("allclose", (a, b))
    with backend.on_device(a.device):  # CuPy answers with a 0-d array on the GPU, NumPy with a bool
        return bool(backend.xp_of(a.array).allclose(a.array, b.array, rtol=rtol, atol=atol,
                                                   equal_nan=equal_nan))


def equal(a: Tensor, b: Tensor) -> bool:
    """Whether a and b have the same shape and the same values, as torch.equal."""
    return a.shape == b.shape and bool((a == b).all())


def integer_arithmetic(op: str, a: Tensor, b: Tensor) -> Tensor:
    """``a // b`` or ``a % b`` of integer tensors (rounding towards minus infinity, as Python)."""
    _check_same_device(op, (a, b))
    for t in (a, b):
        if t.dtype.kind not in "iu":
            raise TypeError(f"{op}: defined here for integer tensors (index arithmetic), got "
                            f"{t.dtype}; for floats write x - y * (x / y) with your own rounding")
    return _on_arrays(_INTEGER[op], a, b)


def all(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Tensor:
    """Whether every element is true (over ``dim``): a bool tensor."""
    return _truth("all", x, dim, keepdim, axis, keepdims)


def any(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Tensor:
    """Whether some element is true (over ``dim``): a bool tensor."""
    return _truth("any", x, dim, keepdim, axis, keepdims)


def _truth(op: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Tensor:
    axis, keepdims = dims(op, dim, keepdim, axis, keepdims)
    return _on_arrays(lambda a: getattr(a, op)(axis=axis, keepdims=keepdims), x)


def _bool_or_integer(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype.kind not in "biu":
            raise TypeError(f"{op}: needs bool or integer tensors, got {t.dtype}; make a mask "
                            f"by comparing first, e.g. (x > 0)")


def argmax(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:
    """Index of the largest value along ``dim`` (of the flattened tensor when it is None)."""
    return _arg("argmax", x, dim, keepdim, axis, keepdims)


def argmin(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:
    return _arg("argmin", x, dim, keepdim, axis, keepdims)


def _arg(op: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Tensor:
    axis, keepdims = dims(op, dim, keepdim, axis, keepdims)

    def found(a: Any) -> Any:
        return getattr(a, op)(axis=axis, keepdims=keepdims).astype(backend.int64, copy=False)

    return _on_arrays(found, x)


def _on_arrays(compute: Callable[..., Any], *tensors: Tensor) -> Tensor:
    """``compute`` of the tensors' arrays, run on their device, as a Tensor with no gradient."""
    with backend.on_device(tensors[0].device):
        return Tensor._make(backend.ensure_array(compute(*(t.array for t in tensors))), None)


# ----------------------------------------------------------------------------
# Questions about values: isnan, isinf, isfinite; and where the nonzero ones are
# ----------------------------------------------------------------------------
def isnan(x: Tensor) -> Tensor:
    """True where x is NaN: the one value not equal to itself (integers never are)."""
    return _on_arrays(lambda a: a != a, x)


def isinf(x: Tensor) -> Tensor:
    """True where x is +inf or -inf (integers and booleans never are)."""
    return _on_arrays(lambda a: backend.xp_of(a).isinf(a) if a.dtype.kind == "f" else a != a, x)


def isfinite(x: Tensor) -> Tensor:
    """True where x is neither NaN nor infinite (every integer and boolean is)."""
    return _on_arrays(lambda a: backend.xp_of(a).isfinite(a) if a.dtype.kind == "f" else a == a, x)


def nonzero(x: Tensor, *, as_tuple: bool = False) -> "Tensor | tuple[Tensor, ...]":
    """The positions of x's nonzero (True) elements, in row-major order, as torch.nonzero.

    A tensor of shape (number found, x.ndim), one row per position; with
    ``as_tuple=True`` one 1-D tensor per dimension instead, which indexes x:
    ``x[x.nonzero(as_tuple=True)]`` are the nonzero values. A 0-d x counts as
    1-D for the tuple, as in PyTorch. How many are found decides the shape, so
    on the GPU this reads one number back to the host (a sync).
    """
    with backend.on_device(x.device):
        array = x.array if x.ndim else x.array.reshape(1)  # NumPy refuses nonzero() of a 0-d array
        found = [ids.astype(backend.int64, copy=False) for ids in array.nonzero()]
        if as_tuple:
            return tuple(Tensor._make(ids, None) for ids in found)
        if x.ndim == 0:  # (1, 0) if x is nonzero, else (0, 0)
            return Tensor._make(found[0].reshape(-1, 1)[:, :0], None)
        columns = [ids.reshape(-1, 1) for ids in found]  # (count, 1) each
        return Tensor._make(backend.xp_of(x.array).concatenate(columns, axis=1), None)  # (count, ndim)
