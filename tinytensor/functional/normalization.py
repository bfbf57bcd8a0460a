"""Layer normalization: the "Norm" of Add & Norm, LayerNorm(x + Sublayer(x)).

Over the last dimensions (``normalized_shape``) of each position:

    mu = mean(x)    sigma^2 = mean((x - mu)^2)    x_hat = (x - mu) / sqrt(sigma^2 + eps)
    y = gamma * x_hat + beta

A worked example: x = (1, 3, 5) gives mu = 3, sigma = 1.63 and
x_hat = (-1.22, 0, 1.22) (a well-known lecture slide prints 1.83, an arithmetic slip).

The normalization has an analytic backward (with g the incoming gradient and
means taken over the normalized dimensions):

    dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(sigma^2 + eps)

gamma and beta are an ordinary multiply and add, which have their own backward.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor


class LayerNorm(Function):
    """x_hat = (x - mean) / sqrt(var + eps) over ``axes`` (gamma and beta come after)."""

    needs_output = True

    def __init__(self, axes: tuple[int, ...], eps: float) -> None:
        self.axes, self.eps = axes, eps

    @property
    def name(self) -> str:
        return "layer_norm"

    def forward(self, a: Any) -> Any:
        centered = a - a.mean(axis=self.axes, keepdims=True)
        variance = (centered * centered).mean(axis=self.axes, keepdims=True)
        std = backend.xp_of(a).sqrt(variance + self.eps)
        self.saved = 1 / std  # one number per position, for backward
        return centered / std

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x_hat = self.output
        inv_std = self.saved_or_recomputed(self.saved, lambda: (
            self.inputs[0].var(self.axes, keepdims=True, correction=0) + self.eps) ** -0.5)
        mean_g = grad.mean(self.axes, keepdims=True)
        mean_gx = (grad * x_hat).mean(self.axes, keepdims=True)
        return ((grad - mean_g - x_hat * mean_gx) * inv_std,)


def layer_norm(x: Tensor, normalized_shape: "int | Sequence[int]", weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last "
                         f"dimensions of the input, shape {x.shape}")
    y = LayerNorm(tuple(range(x.ndim - len(shape), x.ndim)), eps)(x)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
