"""Activations as layers, so a model can list them: Sequential(Linear, ReLU(), Linear).

    ReLU(x) = max(0, x)                          the paper's feed-forward block
    GELU(x) = x Phi(x) = x/2 (1 + erf(x / sqrt(2)))   GPT and BERT (approximate="tanh": the tanh form)
    Tanh(x) = (e^x - e^-x) / (e^x + e^-x)
    Identity(x) = x                              a placeholder where a layer is optional

Each forwards to tinytensor.functional, where the arithmetic and backward live.
"""
from __future__ import annotations

from .. import functional
from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.relu(x)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return functional.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.tanh(x)


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x
