"""Layer normalization: the "Norm" of Add & Norm, LayerNorm(x + Sublayer(x)).

Over the last dimensions (``normalized_shape``) of each position:

    mu = mean(x)    sigma^2 = mean((x - mu)^2)    x_hat = (x - mu) / sqrt(sigma^2 + eps)
    y = gamma * x_hat + beta

A worked example: x = (1, 3, 5) gives mu = 3, sigma = 1.63 and
x_hat = (-1.22, 0, 1.22) (a well-known lecture slide prints 1.83, an arithmetic slip).

The normalization has an analytic backward (with g = gamma * dL/dy and means
taken over the normalized dimensions):

    dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(sigma^2 + eps)
    dL/dgamma = sum over positions of dL/dy * x_hat      dL/dbeta = sum over positions of dL/dy

It is one node with gamma and beta inside (as PyTorch's layer_norm), which keeps
x, mu and sigma and nothing as big as x besides: x_hat is made again in backward.
Three nodes (normalize, times gamma, plus beta) would keep three arrays the size of x.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from ..autograd.function import Function, Value
from ..ops.broadcast import sum_to
from ..ops.promotion import result_dtype
from ..tensor import Tensor


class LayerNorm(Function):
    """gamma * (x - mean) / sqrt(var + eps) + beta over ``axes``; gamma and beta are optional inputs."""

    def __init__(self, axes: tuple[int, ...], eps: float, has_weight: bool, has_bias: bool) -> None:
        self.axes, self.eps = axes, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, a: Any, *affine: Any) -> Any:
        mean = a.mean(axis=self.axes, keepdims=True)
        out = a - mean
        std = backend.xp_of(a).sqrt((out * out).mean(axis=self.axes, keepdims=True) + self.eps)
        self.saved = (mean, std)  # one number each per position, for backward
        out /= std  # x_hat; out is a new array, so in place saves one
        weight, bias = self.weight_and_bias(affine)
        if weight is not None:
            out *= weight
        if bias is not None:
            out += bias
        return out

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x_hat, std = self.normalized()
        weight, bias = self.weight_and_bias(self.operands[1:])
        g = grad if weight is None else grad * weight
        mean_g = g.mean(self.axes, keepdims=True)
        mean_gx = (g * x_hat).mean(self.axes, keepdims=True)
        grad_x = (g - mean_g - x_hat * mean_gx) / std if self.needs_grad(0) else None
        grads = [grad_x]
        if weight is not None:
            grads.append(sum_to(grad * x_hat, weight.shape) if self.needs_grad(1) else None)
        if bias is not None:
            grads.append(sum_to(grad, bias.shape) if self.needs_grad(len(grads)) else None)
        return tuple(grads)

    def weight_and_bias(self, affine: tuple[Any, ...]) -> tuple[Any, Any]:
        """(gamma or None, beta or None) from the inputs after x."""
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        return weight, bias

    def normalized(self) -> tuple[Any, Any]:
        """(x_hat, sigma) for backward: from the kept mean and sigma, or under ``create_graph``
        recomputed from x with Tensor ops, so second derivatives see how both depend on x."""
        mean, std = self.saved
        return self.saved_or_recomputed(((self.inputs[0].array - mean) / std, std), self.recompute)

    def recompute(self) -> tuple[Tensor, Tensor]:
        x = self.inputs[0]
        centered = x - x.mean(self.axes, keepdims=True)
        std = ((centered * centered).mean(self.axes, keepdims=True) + self.eps) ** 0.5
        return centered / std, std


def layer_norm(x: Tensor, normalized_shape: "int | Sequence[int]", weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last "
                         f"dimensions of the input, shape {x.shape}")
    affine = [p for p in (weight, bias) if p is not None]
    dtype = x.dtype
    for p in affine:
        if p.shape != shape:
            raise ValueError(f"layer_norm: weight and bias must have shape {shape}, got {p.shape}")
        dtype = result_dtype(dtype, p.dtype) or dtype  # one dtype for all three (the widest float)
    inputs = [t if t.dtype == dtype else t.to(dtype) for t in (x, *affine)]  # each gradient in its own
    node = LayerNorm(tuple(range(x.ndim - len(shape), x.ndim)), eps, weight is not None, bias is not None)
    return node(*inputs)
