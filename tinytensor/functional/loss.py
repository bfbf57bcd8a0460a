"""Losses: cross-entropy for classification (next-token prediction), mean squared error.

cross_entropy(logits, target) = -log softmax(logits)[target], averaged over the
positions that are not ``ignore_index`` (padding does not count, not even in the
denominator). With label smoothing eps (the paper uses 0.1) the target is
(1 - eps) on the true class plus eps spread evenly over all C classes:

    loss_i = -(1 - eps) log p_i[t_i] - (eps / C) sum_c log p_i[c]

The fused backward is the classic  dL/dlogits = (softmax(logits) - target) * w_i,
where w_i is 1/(number of counted positions) for the mean, and 0 for ignored ones.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, constant
from ..ops.indexing import check_range, integer_ids
from ..tensor import Tensor
from .activation import log_softmax_array, softmax


class CrossEntropy(Function):
    """Cross-entropy over (N, C) logits and N integer targets."""

    def __init__(self, target: Any, ignore_index: int, label_smoothing: float, reduction: str) -> None:
        self.target, self.ignore_index = target, ignore_index
        self.smoothing, self.reduction = label_smoothing, reduction

    def forward(self, logits: Any) -> Any:
        log_p = log_softmax_array(logits, axis=1)
        weight = (self.target != self.ignore_index).astype(logits.dtype)  # 0 for an ignored row
        if self.reduction == "mean":
            weight /= weight.sum()
        losses = -(self.wanted(log_p) * log_p).sum(axis=1) * weight
        self.saved = (backend.xp_of(log_p).exp(log_p), weight)  # the softmax: backward's p
        return losses if self.reduction == "none" else losses.sum()

    def wanted(self, like: Any) -> Any:
        """The target distribution q, one row per target: 1 - smoothing on the class, plus
        smoothing / C everywhere (made again in backward rather than kept: it is N x C)."""
        xp = backend.xp_of(like)
        n, classes = like.shape
        q = xp.full_like(like, self.smoothing / classes)
        q[xp.arange(n), xp.where(self.target != self.ignore_index, self.target, 0)] += 1.0 - self.smoothing
        return q

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        p = self.saved_or_recomputed(self.saved[0], lambda: softmax(self.inputs[0], axis=1))
        wanted, weight = constant(self.wanted(self.saved[0]), grad), constant(self.saved[1], grad)
        scale = weight[:, None] * (grad[:, None] if self.reduction == "none" else grad)  # (N, 1)
        return ((p - wanted) * scale,)


def cross_entropy(logits: Tensor, target: Any, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """PyTorch's F.cross_entropy: logits (N, C) or (N, C, d1, ...), integer targets (N, d1, ...)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    ids = integer_ids("cross_entropy", target, logits.device)
    expected = logits.shape[:1] + logits.shape[2:]
    if logits.ndim < 2 or ids.shape != expected:
        raise ValueError(f"cross_entropy: logits of shape {logits.shape} (N, C, ...) need targets of "
                         f"shape {expected}, got {ids.shape}")
    classes = logits.shape[1]
    check_range("cross_entropy", ids, classes,
                f"target {{}} is out of range for {classes} classes (ignore_index={ignore_index})",
                ignore=ignore_index)
    if logits.ndim > 2:  # move classes last, then treat every position as one row
        logits = logits.permute(0, *range(2, logits.ndim), 1).reshape(-1, classes)
    loss = CrossEntropy(ids.reshape(-1), ignore_index, label_smoothing, reduction)(logits)
    return loss.reshape(expected) if reduction == "none" else loss


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, ((input - target)^2).mean()."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"mse_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if input.shape != target.shape:  # (4, 1) against (4,) would broadcast to (4, 4), silently
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} "
                         f"differ; reshape one of them")
    squared = (input - target) ** 2
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()
