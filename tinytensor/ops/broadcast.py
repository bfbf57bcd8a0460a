"""Broadcasting and its adjoint, ``sum_to``: the one reducer every op's backward uses.

Broadcasting copies a tensor along new or size-1 dimensions: (3,) + (2, 3)
adds the row to both rows. In the backward pass every copy sent gradient back,
so the copies' gradients must be *summed* back to the original shape:

    forward:  broadcast_to(x, shape)   (3,) -> (2, 3)
    backward: sum_to(grad, x.shape)    (2, 3) -> (3,)   summing over the new rows

The two are each other's backward, which is why second derivatives through
broadcasting work.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .. import backend
from ..autograd.function import Function, Value

if TYPE_CHECKING:
    from ..tensor import Tensor


class BroadcastTo(Function):
    keeps_inputs = False

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.target = shape

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).broadcast_to(a, self.target)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (sum_to(grad, self.inputs[0].shape),)


class SumTo(Function):
    keeps_inputs = False

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.target = shape

    def forward(self, a: Any) -> Any:
        lead = a.ndim - len(self.target)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.target) if n == 1 and a.shape[lead + i] != 1)
        out = a.sum(axis=axes, keepdims=True) if axes else a
        return out.reshape(self.target) if lead else out

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (broadcast_to(grad, self.inputs[0].shape),)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(shape)
    return x if x.shape == shape else BroadcastTo(shape)(x)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape``, undoing a broadcast (x itself when nothing to do)."""
    return x if x.shape == tuple(shape) else SumTo(tuple(shape))(x)


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without making it larger: dims matched from
    the right, each 1 or equal (so a gradient of shape ``target`` sums down to ``shape``)."""
    return len(shape) <= len(target) and all(n in (1, m) for n, m in zip(shape[::-1], target[::-1]))
