"""Naming axes and shapes: the one place that reads ``dim=``/``axis=`` and shape arguments.

PyTorch calls an axis a *dimension* (``x.sum(dim=1, keepdim=True)``), NumPy an
*axis* (``x.sum(axis=1, keepdims=True)``). Every reduction, softmax-like function
and joining function here accepts both spellings through ``dims``; given both
at once it refuses, rather than guess. ``normalize_axes`` turns what was given
(None for all axes, an int, negative ints counting from the end, a tuple) into
a sorted tuple of non-negative axes, with a clear error for one out of range.
"""
from __future__ import annotations

import operator
from typing import Any


def dims(op: str, dim: Any, keepdim: Any, axis: Any = None, keepdims: Any = None) -> tuple[Any, bool]:
    """(axis, keepdims) from either spelling: PyTorch's dim= / keepdim= or NumPy's axis= / keepdims=."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: got dim={dim!r} (PyTorch's name) and axis={axis!r} (NumPy's name) "
                        f"for the same thing; give one of them")
    if keepdim is not None and keepdims is not None:
        raise TypeError(f"{op}: got keepdim= (PyTorch's name) and keepdims= (NumPy's name) for the "
                        f"same thing; give one of them")
    return (axis if dim is None else dim), bool(keepdims if keepdim is None else keepdim)


def one_dim(op: str, dim: Any, axis: Any, default: Any = None) -> Any:
    """The one dimension an op works along, from dim= or axis= (``default`` when neither is given)."""
    given = dims(op, dim, None, axis)[0]
    if given is None and default is None:
        raise TypeError(f"{op}: say which dimension, with dim= (or axis=)")
    return default if given is None else given


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``None``, an int or a tuple of ints, as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    normalized = []
    for a in axes:
        try:
            a = operator.index(a)  # an int, NumPy's too
        except TypeError:
            raise TypeError(f"a dimension must be an int (or a tuple of ints), got {a!r}") from None
        size = max(ndim, 1)
        if not -size <= a < size:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(a % size)
    return tuple(sorted(set(normalized)))


def shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both ``reshape(2, 3)`` and ``reshape((2, 3))``, as PyTorch does (creation ops too)."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def refuse_empty(op: str, shape: tuple[int, ...], axes: tuple[int, ...]) -> None:
    """max, min and their arg- forms have no answer over no values (a sum has 0, a mean NaN)."""
    for a in axes:
        if shape[a] == 0:
            raise IndexError(f"{op}: dimension {a} of shape {shape} is empty, and the {op} of no "
                             f"values is undefined; reduce over a dimension that is not empty "
                             f"(dim=...), or check that the input is not empty")
