"""RMSprop: divide each step by a running root mean square of the gradient (Hinton, lecture 6e).

PyTorch's rule, for parameter theta with gradient g:

    g <- g + weight_decay * theta               (L2 penalty, if weight_decay != 0)
    v <- alpha * v + (1 - alpha) * g^2          running mean square, from v = 0
    centered:  m <- alpha * m + (1 - alpha) * g         running mean, from m = 0
               s = sqrt(v - m^2) + eps                   the running standard deviation
    else:      s = sqrt(v) + eps
    momentum:  b <- momentum * b + g / s,  theta <- theta - lr * b     (b starts at 0)
    else:      theta <- theta - lr * g / s

Like Adam (which came after it) each parameter gets a step size of its own:
small where gradients are large, large where they are small. Unlike Adam, v
has no bias correction, so the first steps (v still near 0) are large.
``centered`` divides by the variance rather than the mean square, so a
steady gradient, whose variance is small, takes bigger steps.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import backend
from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, l2_penalty


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        check_non_negative("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                           alpha=alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        g = l2_penalty(p, grad, group).array
        if not state:
            state.update(step=0, square_avg=zeros_like(p))
        state["step"] += 1
        # In place on the arrays, as Adam: the running averages are updated, not made anew.
        v = state["square_avg"].array
        v *= alpha
        v += (1 - alpha) * g * g
        xp = backend.xp_of(v)
        if group["centered"]:
            m = state.setdefault("grad_avg", zeros_like(p)).array
            m += (1 - alpha) * (g - m)
            s = xp.sqrt(v - m * m) + group["eps"]
        else:
            s = xp.sqrt(v) + group["eps"]
        if momentum > 0:  # the buffer appears when momentum does (OneCycleLR may switch it on)
            b = state.setdefault("momentum_buffer", zeros_like(p)).array
            b *= momentum
            b += g / s
            p.array -= group["lr"] * b
        else:
            p.array -= group["lr"] * g / s
