"""Adagrad: each parameter's step shrinks with the sum of its squared gradients (Duchi et al., 2011).

PyTorch's rule, for parameter theta with gradient g at step t = 1, 2, ...:

    g <- g + weight_decay * theta                 (L2 penalty, if weight_decay != 0)
    lr_t = lr / (1 + (t - 1) * lr_decay)
    G <- G + g^2                                   from G = initial_accumulator_value
    theta <- theta - lr_t * g / (sqrt(G) + eps)

G only grows, so every step is smaller than the last for the same gradient: a
parameter that has had large gradients (a frequent word's embedding) slows
down, a rarely touched one keeps large steps. On long runs the steps shrink
towards zero, which RMSprop and Adam avoid by averaging instead of summing.

As in PyTorch, every parameter's G is made when the optimizer is built (with
the optimizer's ``initial_accumulator_value``), so the state holds every
parameter from the start; a group added later gets its G at its first step.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import backend
from ..creation import full_like
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, l2_penalty


class Adagrad(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        check_non_negative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))
        for group in self.param_groups:
            for p in group["params"]:
                self._start(p, self.state.setdefault(p, {}))

    def _start(self, p: Tensor, state: dict[str, Any]) -> None:
        state.update(step=0, sum=full_like(p, self.defaults["initial_accumulator_value"]))

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            self._start(p, state)
        step = state["step"] = state["step"] + 1
        g = l2_penalty(p, grad, group).array
        G = state["sum"].array  # noqa: N806 - the paper's name
        G += g * g
        lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        p.array -= lr * g / (backend.xp_of(G).sqrt(G) + group["eps"])
