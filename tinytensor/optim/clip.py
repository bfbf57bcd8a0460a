"""Gradient clipping by global norm: keep one bad batch from throwing training off.

The norm is taken over all gradients together, as if they were one long vector:

    total_norm = sqrt(sum over parameters of sum(grad^2))
    grad <- grad * min(1, max_norm / (total_norm + 1e-6))

Scaling every gradient by the same factor keeps the direction of the update and
only shortens it. The 1e-6 is PyTorch's guard against dividing by zero.

The factor stays a tensor on the gradients' device, as in PyTorch: asking
``total_norm > max_norm`` in Python would read the norm back from the GPU, a
host-device sync in every training step. Multiplying by a factor of exactly 1
when nothing needs clipping leaves the gradients bit for bit as they were.
"""
from __future__ import annotations

from typing import Iterable

from ..autograd.grad_mode import no_grad
from ..creation import zeros
from ..tensor import Tensor


@no_grad()
def clip_grad_norm_(parameters: "Tensor | Iterable[Tensor]", max_norm: float) -> Tensor:
    """Rescale the gradients so their global L2 norm is at most ``max_norm``; return the norm before.

    As torch.nn.utils.clip_grad_norm_, except that the gradients are replaced
    by scaled copies rather than changed in place.
    """
    params = [parameters] if isinstance(parameters, Tensor) else parameters
    params = [p for p in params if p.grad is not None]
    if not params:
        return zeros(())
    total_norm = sum((p.grad * p.grad).sum() for p in params).sqrt()
    scale = (max_norm / (total_norm + 1e-6)).clip(max=1.0)
    for p in params:  # in each gradient's own dtype: a float16 gradient stays float16
        p.grad = p.grad * (scale if scale.dtype == p.grad.dtype else scale.to(p.grad.dtype))
    return total_norm
