"""Comparisons, logic and argmax: their results are booleans and indices, which have no gradient.

They are plain functions, not ``Function`` ops: nothing to record in the graph.
``&``, ``|``, ``^`` and ``~`` combine masks (a padding mask | a causal mask); on
integer tensors they work bit by bit, as in PyTorch and NumPy. ``//`` and ``%``
are index arithmetic on integer tensors (beam search splits a flat index into
hypothesis and token); ``all`` and ``any`` ask whether a mask holds anywhere.
"""
from __future__ import annotations

import operator
from typing import Any

from .. import backend
from ..autograd.function import _check_same_device
from ..tensor import Tensor

_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
            "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_LOGIC = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}
_INTEGER = {"floor_divide": operator.floordiv, "remainder": operator.mod}


def compare(op: str, a: Tensor, b: Tensor) -> Tensor:
    _check_same_device(op, (a, b))
    try:
        return Tensor._make(_COMPARE[op](a.data, b.data), None)
    except ValueError as error:
        raise ValueError(f"{op}: cannot compare shapes {a.shape} and {b.shape}: {error}") from None


def logical(op: str, a: Tensor, b: Tensor) -> Tensor:
    """``a & b``, ``a | b`` or ``a ^ b`` of bool (or integer) tensors."""
    _check_same_device(op, (a, b))
    _bool_or_integer(op, a, b)
    try:
        return Tensor._make(backend.ensure_array(_LOGIC[op](a.data, b.data)), None)
    except ValueError as error:
        raise ValueError(f"{op}: cannot combine shapes {a.shape} and {b.shape}: {error}") from None


def logical_not(a: Tensor) -> Tensor:
    """``~a``: True where a is False (bitwise not for integers)."""
    _bool_or_integer("not", a)
    return Tensor._make(backend.ensure_array(~a.data), None)


def integer_arithmetic(op: str, a: Tensor, b: Tensor) -> Tensor:
    """``a // b`` or ``a % b`` of integer tensors (rounding towards minus infinity, as Python)."""
    _check_same_device(op, (a, b))
    for t in (a, b):
        if t.dtype.kind not in "iu":
            raise TypeError(f"{op}: defined here for integer tensors (index arithmetic), got "
                            f"{t.dtype}; for floats write x - y * (x / y) with your own rounding")
    return Tensor._make(backend.ensure_array(_INTEGER[op](a.data, b.data)), None)


def all_or_any(op: str, x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Whether every (``all``) or some (``any``) element is true, over ``axis``: a bool tensor."""
    reduce = x.data.all if op == "all" else x.data.any
    return Tensor._make(backend.ensure_array(reduce(axis=axis, keepdims=keepdims)), None)


def _bool_or_integer(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype.kind not in "biu":
            raise TypeError(f"{op}: needs bool or integer tensors, got {t.dtype}; make a mask "
                            f"by comparing first, e.g. (x > 0)")


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over everything when ``axis`` is None)."""
    return Tensor._make(backend.ensure_array(x.data.argmax(axis=axis, keepdims=keepdims)), None)
