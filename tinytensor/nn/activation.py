"""Activations as layers, so a model can list them: Sequential(Linear, ReLU(), Linear).

    ReLU(x) = max(0, x)                          the paper's feed-forward block
    GELU(x) = x Phi(x) = x/2 (1 + erf(x / sqrt(2)))   GPT and BERT (approximate="tanh": the tanh form)
    Tanh(x) = (e^x - e^-x) / (e^x + e^-x)
    Sigmoid(x) = 1 / (1 + e^-x)
    Softmax(dim), LogSoftmax(dim)                over one dimension
    Flatten(start_dim=1)                         (B, C, H, W) -> (B, C H W), PyTorch's image habit
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


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.sigmoid(x)


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return functional.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return functional.log_softmax(x, self.dim)


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x
