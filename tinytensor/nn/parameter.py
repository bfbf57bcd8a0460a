"""Parameter: a Tensor that is a learnable weight of a Module.

A Parameter is an ordinary Tensor (every op accepts it) with two differences:
it requires grad by default, and assigning it to a Module attribute registers
it, so ``model.parameters()`` finds it and an optimizer can update it:

    self.weight = Parameter(tinytensor.randn(out_features, in_features))
    ...
    loss.backward()          # fills self.weight.grad = dL/dW
"""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    __slots__ = ()

    def __init__(self, data: Tensor, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)  # shares data's memory, as PyTorch

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
