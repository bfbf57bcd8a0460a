"""Losses: cross-entropy for classification (next-token prediction), mean squared error.

cross_entropy(logits, target) = -log softmax(logits)[target], averaged over the
positions that are not ``ignore_index`` (padding does not count, not even in the
denominator). With label smoothing eps (the paper uses 0.1) the target is a
distribution q: (1 - eps) on the true class plus eps spread evenly over all C classes:

    loss_i = -sum_c q_i[c] log p_i[c] * w_i     w_i = 1/(counted positions) for the mean, 0 if ignored

It is two nodes, as in PyTorch (log_softmax, then the negative log-likelihood):

    log_softmax   dL/dlogits = g - softmax(logits) * sum(g)     (it keeps log p, nothing else)
    nll_loss      dL/dlog p  = -q * w                            (it keeps w; q is made again)

Together they give the classic dL/dlogits = (softmax(logits) - q) * w, and the graph
keeps one array of N x C numbers, log p, where a fused node would keep the logits too.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value, constant
from ..ops.indexing import check_range, integer_ids
from ..tensor import Tensor
from .activation import log_softmax


class NLLLoss(Function):
    """-sum_c q[c] log p[c] per row, weighted, from log p (N, C) and N integer targets."""

    name = "nll_loss"
    keeps_inputs = False  # backward needs q and the weights: constants

    def __init__(self, target: Any, ignore_index: int, label_smoothing: float, reduction: str) -> None:
        self.target, self.ignore_index = target, ignore_index
        self.smoothing, self.reduction = label_smoothing, reduction

    def forward(self, log_p: Any) -> Any:
        weight = (self.target != self.ignore_index).astype(log_p.dtype)  # 0 for an ignored row
        if self.reduction == "mean":
            weight /= weight.sum()
        self.saved = weight
        losses = -(self.wanted(log_p.shape, log_p.dtype) * log_p).sum(axis=1) * weight
        return losses if self.reduction == "none" else losses.sum()

    def backward(self, grad: Value) -> tuple[Value, ...]:
        log_p = self.inputs[0]
        wanted = constant(self.wanted(log_p.shape, log_p.dtype), grad)
        weight = constant(self.saved, grad)
        scale = weight[:, None] * (grad[:, None] if self.reduction == "none" else grad)  # (N, 1)
        return (-(wanted * scale),)

    def wanted(self, shape: tuple[int, int], dtype: Any) -> Any:
        """q, one row per target: 1 - smoothing on the class, plus smoothing / C everywhere."""
        xp = backend.xp_of(self.target)
        n, classes = shape
        q = xp.full(shape, self.smoothing / classes, dtype=dtype)
        q[xp.arange(n), xp.where(self.target != self.ignore_index, self.target, 0)] += 1.0 - self.smoothing
        return q


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
    loss = NLLLoss(ids.reshape(-1), ignore_index, label_smoothing, reduction)(log_softmax(logits, 1))
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
