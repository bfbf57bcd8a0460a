"""SGD: step against the gradient, optionally with momentum, Nesterov momentum and weight decay.

PyTorch's rule, for parameter theta with gradient g at step t:

    g <- g + weight_decay * theta                          (L2 penalty, if weight_decay != 0)
    b <- g                              at the first step  (momentum buffer, if momentum != 0)
    b <- momentum * b + (1 - dampening) * g      after that
    g <- g + momentum * b    with nesterov, else    g <- b
    theta <- theta - lr * g

Momentum is a running sum of past gradients: directions that agree build up
speed, directions that flip sign cancel. Nesterov momentum looks one step
ahead along the buffer before stepping.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import Optimizer, _assign, check_non_negative, l2_penalty


class SGD(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        check_non_negative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        grad = l2_penalty(p, grad, group)
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            # A copy of the gradient, as PyTorch's: a .grad may be rewritten in place later (a view of
            # DistributedDataParallel's bucket, with gradient_as_bucket_view=True, is, every step).
            buffer = grad.clone() if buffer is None else momentum * buffer + (1 - group["dampening"]) * grad
            state["momentum_buffer"] = buffer
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        _assign(p, p - group["lr"] * grad)
