"""Dropout: during training, zero each element with probability p, scale the rest by 1/(1-p).

The scaling keeps the expected value unchanged, so at evaluation time (no
dropout) the layer needs no correction. Backward lets the gradient through
exactly where the forward let the value through, with the same scale:

    y = x * m / (1 - p)        dL/dx = g * m / (1 - p)      m_i ~ Bernoulli(1 - p)

The mask m is kept as booleans, one byte per element (as PyTorch keeps it), not
as floats: in a Transformer the masks are among the largest arrays a step keeps.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value
from ..tensor import Tensor


class KeepMask:
    """Which elements dropout keeps, m_i ~ Bernoulli(1 - p), and the scale 1 / (1 - p) of the kept."""

    def __init__(self, shape: tuple[int, ...], p: float, dtype: Any, device: Any) -> None:
        self.scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
        with backend.on_device(device):
            self.keep = backend.uniform(shape, dtype, device) >= p  # booleans: one byte each

    def apply(self, t: Value) -> Value:
        """t * m / (1 - p), for an array or a Tensor (dropout and its backward are this product)."""
        if isinstance(t, Tensor):  # under create_graph: recorded, so it can be differentiated again
            return t * Tensor._make(self.keep, None) * self.scale
        out = backend.ensure_array(t * self.keep)
        out *= self.scale  # in place: one array the size of t, not two
        return out


class Dropout(Function):
    keeps_inputs = False

    def __init__(self, mask: KeepMask) -> None:
        self.saved = mask  # as big as the input: release() frees it after backward

    def forward(self, a: Any) -> Any:
        return self.saved.apply(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (self.saved.apply(grad),)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"dropout: needs a floating point tensor, got {x.dtype}; use x.float()")
    if not training or p == 0.0:
        return x
    return Dropout(KeepMask(x.shape, p, x.dtype, x.device))(x)
