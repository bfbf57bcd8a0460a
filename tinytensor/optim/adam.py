"""Adam: per-parameter step sizes from running averages of the gradient and its square.

PyTorch's rule, for parameter theta with gradient g at step t = 1, 2, ...:

    g <- g + weight_decay * theta                  (L2 penalty, if weight_decay != 0)
    m <- beta1 * m + (1 - beta1) * g               first moment: the mean gradient
    v <- beta2 * v + (1 - beta2) * g^2             second moment: its mean square
    m_hat = m / (1 - beta1^t)                      bias corrections: m and v start at 0,
    v_hat = v / (1 - beta2^t)                      so early averages are too small
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

Dividing by sqrt(v_hat) makes the step about ``lr`` in size whatever the scale
of the gradient: every parameter gets a step size of its own.

The weight decay here is folded into the gradient, so it too is divided by
sqrt(v_hat); AdamW (adamw.py) decays the weights directly instead.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from .. import backend
from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, l2_penalty


class Adam(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        check_non_negative(type(self).__name__, lr=lr, eps=eps, weight_decay=weight_decay)
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _decay(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        """Adam's weight decay: an L2 penalty added to the gradient."""
        return l2_penalty(p, grad, group)

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        g = self._decay(p, grad, group).array
        if not state:
            state.update(step=0, exp_avg=zeros_like(p), exp_avg_sq=zeros_like(p))
        step = state["step"] = state["step"] + 1
        # In place on the arrays, as PyTorch's Adam: an update makes no new running averages,
        # which matters, because the optimizer touches every weight of the model every step.
        m, v = state["exp_avg"].array, state["exp_avg_sq"].array
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        # lr * m_hat / (sqrt(v_hat) + eps), with the bias corrections folded into scalars
        denominator = backend.xp_of(v).sqrt(v) / math.sqrt(1 - beta2 ** step) + group["eps"]
        p.array -= (group["lr"] / (1 - beta1 ** step)) * m / denominator
