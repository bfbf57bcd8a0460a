"""AdamW: Adam with *decoupled* weight decay (Loshchilov and Hutter, 2019).

Adam's L2 penalty is added to the gradient and then divided by sqrt(v_hat), so
weights with large gradients are hardly decayed at all. AdamW shrinks the
weights directly, by the same fraction for every weight, and then takes a
plain Adam step (PyTorch's rule):

    theta <- theta * (1 - lr * weight_decay)
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)      (adam.py, without the L2 term)

The default weight_decay is 1e-2, as in PyTorch.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .adam import Adam


class AdamW(Adam):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def _decay(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        """Shrink the weights themselves; the gradient goes to Adam untouched."""
        p.array *= 1 - group["lr"] * group["weight_decay"]
        return grad
