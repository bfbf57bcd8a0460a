"""Comparisons and argmax: their results are booleans and indices, which have no gradient.

They are plain functions, not ``Function`` ops: nothing to record in the graph.
"""
from __future__ import annotations

import operator

from .. import backend
from ..autograd.function import _check_same_device
from ..tensor import Tensor

_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
            "le": operator.le, "gt": operator.gt, "ge": operator.ge}


def compare(op: str, a: Tensor, b: Tensor) -> Tensor:
    _check_same_device(op, (a, b))
    try:
        return Tensor._make(_COMPARE[op](a.data, b.data), None)
    except ValueError as error:
        raise ValueError(f"{op}: cannot compare shapes {a.shape} and {b.shape}: {error}") from None


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over everything when ``axis`` is None)."""
    return Tensor._make(backend.ensure_array(x.data.argmax(axis=axis, keepdims=keepdims)), None)
