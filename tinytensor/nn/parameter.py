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

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is not None and not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}; make one first, "
                            f"e.g. nn.Parameter(tinytensor.tensor(values))")
        self._adopt((Tensor() if data is None else data).array)  # shares data's memory, as PyTorch
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
