"""Dropout: during training, zero each element with probability p, scale the rest by 1/(1-p).

The scaling keeps the expected value unchanged, so at evaluation time (no
dropout) the layer needs no correction. Backward lets the gradient through
exactly where the forward let the value through, with the same scale:

    y = x * m / (1 - p)        dL/dx = g * m / (1 - p)      m_i ~ Bernoulli(1 - p)
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, constant
from ..tensor import Tensor


class Dropout(Function):
    def __init__(self, scaled_mask: Any) -> None:
        self.saved = scaled_mask  # as big as the input: release() frees it after backward

    def forward(self, a: Any) -> Any:
        return a * self.saved

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad * constant(self.saved, grad),)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"dropout: needs a floating point tensor, got {x.dtype}; use x.float()")
    if not training or p == 0.0:
        return x
    return Dropout(scaled_keep_mask(x.shape, p, x.dtype, x.device))(x)


def scaled_keep_mask(shape: tuple[int, ...], p: float, dtype: Any, device: Any) -> Any:
    """m / (1 - p) with m_i ~ Bernoulli(1 - p): the array dropout multiplies by (attention's too)."""
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    with backend.on_device(device):
        return (backend.uniform(shape, dtype, device) >= p).astype(dtype) * dtype.type(scale)
