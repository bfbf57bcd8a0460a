"""Linear: the affine map y = x W^T + b, the layer every other layer is built around.

The paper's feed-forward block is two of them, FFN(x) = max(0, x W1 + b1) W2 + b2,
and the attention projections Q = X Wq, K = X Wk, V = X Wv are three more.
W has shape (out_features, in_features), as in PyTorch, so each row of W makes
one output feature. x may have any leading dimensions: (batch, seq, in) maps
to (batch, seq, out), the same W applied at every position.

Initialization follows PyTorch: W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
The arithmetic and its backward are one node, in tinytensor/functional/linear.py.
"""
from __future__ import annotations

import math

from .. import creation, functional
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.zeros(out_features, in_features))
        self.bias = Parameter(creation.zeros(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a = sqrt(5) (PyTorch's choice) has gain sqrt(1/3),
        # so its bound sqrt(3) * gain / sqrt(fan_in) is exactly 1 / sqrt(fan_in).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0  # no input: 0, as PyTorch
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
