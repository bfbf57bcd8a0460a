"""LayerNorm: the "Norm" of the paper's Add & Norm, LayerNorm(x + Sublayer(x)).

Each position is normalized over its last dimensions (``normalized_shape``),
then scaled and shifted by learned gamma (``weight``) and beta (``bias``):

    y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta

gamma starts at 1 and beta at 0, so a fresh layer just normalizes (``bias=False``
leaves beta out, as in PyTorch). The arithmetic and its backward are in
tinytensor/functional/normalization.py.
"""
from __future__ import annotations

from typing import Sequence

from .. import creation, functional
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    def __init__(self, normalized_shape: "int | Sequence[int]", eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(creation.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(creation.zeros(shape)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
