"""Dropout: in training, zero each element with probability p and scale the rest by 1/(1 - p).

The paper applies it (p = 0.1) to each sublayer's output before the residual
add, and to the sum of embeddings and positional encodings. It is the one layer
whose behaviour depends on ``module.training``: after ``model.eval()`` it
passes its input through unchanged.
"""
from __future__ import annotations

from .. import functional
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
