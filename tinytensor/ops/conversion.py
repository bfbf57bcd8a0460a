"""Conversions: ``.to(dtype)`` and ``.to(device)``. Both are differentiable.

The gradient of a cast is cast back; the gradient of a move to the GPU moves
back to where the input was. So ``loss.backward()`` reaches a CPU leaf even
when the model ran on "cuda".
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function
from ..backend import Device
from ..tensor import Tensor


class Cast(Function):
    def __init__(self, dtype: Any) -> None:
        self.target = dtype

    def forward(self, a: Any) -> Any:
        return a.astype(self.target)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (Cast(self.inputs[0].dtype)(grad),)


class ToDevice(Function):
    def __init__(self, device: Device) -> None:
        self.target = device

    @property
    def name(self) -> str:
        return f"to {self.target}"

    def forward(self, a: Any) -> Any:
        return backend.to_device(a, self.target)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (ToDevice(self.inputs[0].device)(grad),)
