"""Indexing, ``x[index]``, and its backward: putting the gradient back where it came from.

Forward picks elements: ``x[[0, 2, 0]]`` takes rows 0, 2 and 0 again. Backward
starts from zeros shaped like x and *adds* each gradient row at the position it
was taken from. Row 0 was taken twice, so it receives the sum of both
gradients: that is why this uses scatter-add (``backend.scatter_add``), not a
plain assignment, whenever the index holds integer arrays that may repeat.

``IndexAdd`` (zeros, then scatter-add) is itself an op whose backward is
indexing again, so second derivatives pass through indexing too.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return backend.as_array(index)
    return index


def _may_repeat(index: Any) -> bool:
    """Whether some position can be picked twice (an integer array in the index)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(getattr(p, "dtype", None) is not None and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    def __init__(self, index: Any) -> None:
        self.index = _plain_index(index)

    @property
    def name(self) -> str:
        return "getitem"

    def forward(self, a: Any) -> Any:
        return a[self.index]

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (IndexAdd(self.inputs[0].shape, self.index)(grad),)


class IndexAdd(Function):
    """zeros(shape), then add ``values`` at ``index`` (repeated positions accumulate)."""

    def __init__(self, shape: tuple[int, ...], index: Any) -> None:
        self.target, self.index = shape, index

    def forward(self, values: Any) -> Any:
        out = backend.xp_of(values).zeros(self.target, dtype=values.dtype)
        if _may_repeat(self.index):
            backend.scatter_add(out, self.index, values)
        else:
            out[self.index] = values
        return out

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (GetItem(self.index)(grad),)
