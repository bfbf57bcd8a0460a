"""Conversions: ``.to(dtype)``, ``.to(device)`` and ``.clone()``. All are differentiable.

The gradient of a cast is cast back; the gradient of a move to the GPU moves
back to where the input was. So ``loss.backward()`` reaches a CPU leaf even
when the model ran on "cuda". A clone is a copy in new memory (what to change
in place when the original must stay); its gradient passes through unchanged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import backend
from ..autograd.function import Function, Value
from ..backend import Device

if TYPE_CHECKING:
    from ..tensor import Tensor


class Cast(Function):
    keeps_inputs = False

    def __init__(self, dtype: Any) -> None:
        self.target = dtype

    def forward(self, a: Any) -> Any:
        return a.astype(self.target)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (Cast(self.inputs[0].dtype)(grad),)


class ToDevice(Function):
    keeps_inputs = False

    def __init__(self, device: Device) -> None:
        self.target = device

    @property
    def name(self) -> str:
        return f"to {self.target}"

    def forward(self, a: Any) -> Any:
        return backend.to_device(a, self.target)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (ToDevice(self.inputs[0].device)(grad),)


class Clone(Function):
    keeps_inputs = False

    def forward(self, a: Any) -> Any:
        return a.copy()

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad,)


def clone(x: Tensor) -> Tensor:
    return Clone()(x)


def contiguous(x: Tensor) -> Tensor:
    """x itself when its memory is one row-major block, else a copy that is (as PyTorch)."""
    return x if x.array.flags.c_contiguous else Clone()(x)


def type_as(x: Tensor, other: Tensor) -> Tensor:
    return x.to(other.dtype)
