"""Losses: cross-entropy for classification (next-token prediction), mean squared error,
binary cross-entropy (one yes/no per output), Kullback-Leibler divergence.

cross_entropy(logits, target) = -log softmax(logits)[target], averaged over the
positions that are not ``ignore_index`` (padding does not count, not even in the
denominator; with every position ignored the mean is 0/0, NaN as in PyTorch, and
the gradient is zero, so an optimizer step changes nothing). With label smoothing
eps (the paper uses 0.1) the target is a distribution q: (1 - eps) on the true
class plus eps spread evenly over all C classes:

    loss_i = -sum_c q_i[c] log p_i[c] * w_i     w_i = 1/(counted positions) for the mean, 0 if ignored

Class weights v (PyTorch's ``weight``) multiply each q_i[c] by v[c], and the mean then
divides by the sum of v[target_i] over the counted positions, as PyTorch's does.

It is two nodes, as in PyTorch (log_softmax, then the negative log-likelihood):

    log_softmax   dL/dlogits = g - softmax(logits) * sum(g)     (it keeps log p, nothing else)
    nll_loss      dL/dlog p  = -q * w                            (it keeps w; q is made again)

Together they give the classic dL/dlogits = (softmax(logits) - q) * w, and the graph
keeps one array of N x C numbers, log p, where a fused node would keep the logits too.

Binary cross-entropy, for a probability x of "yes" and a target y in [0, 1]:

    binary_cross_entropy(x, y)   = -(y log x + (1 - y) log(1 - x)),  each log at least -100
    with logits, x = sigmoid(z):   (1 - y) z - (1 + (pos_weight - 1) y) log sigmoid(z)

The first is one node, with PyTorch's backward dL/dx = g (x - y) / max(x (1 - x), ~1e-12):
its clamps keep a confident wrong answer (x = 0 for y = 1) at loss 100, not inf, and its
gradient finite. The second is the first rewritten for logits, so that sigmoid never
rounds to 0 or 1: it needs only logsigmoid (activation.py), and its gradient is the classic
sigmoid(z) - y (times the weights). Prefer it: it is exact where the first has to clamp.

KL divergence, for log-probabilities ``input`` and probabilities ``target`` (both over the
last dimension, usually): sum target * (log target - input), with 0 log 0 = 0.
"""
from __future__ import annotations

import warnings
from typing import Any

from .. import backend
from ..autograd.function import Function, Value, constant
from ..ops import pointwise
from ..ops.broadcast import broadcasts_to
from ..ops.indexing import check_range, integer_ids
from ..ops.selection import Clip, where
from ..tensor import Tensor
from .activation import log_softmax, logsigmoid


class NLLLoss(Function):
    """-sum_c q[c] log p[c] per row, weighted, from log p (N, C) and N integer targets.

    With class weights v (PyTorch's ``weight``), q[c] becomes q[c] v[c], and the mean
    divides by the sum of v[target] over the counted rows instead of their number.
    """

    name = "nll_loss"
    keeps_inputs = False  # backward needs q and the weights: constants

    def __init__(self, target: Any, ignore_index: int, label_smoothing: float, reduction: str,
                 class_weight: Any = None) -> None:
        self.target, self.ignore_index, self.class_weight = target, ignore_index, class_weight
        self.smoothing, self.reduction = label_smoothing, reduction

    def forward(self, log_p: Any) -> Any:
        xp = backend.xp_of(log_p)
        # The targets, an ignored one replaced by class 0 (its row's weight is 0 anyway); made
        # here, on the node's device, and kept for backward.
        self.safe_target = xp.where(self.target != self.ignore_index, self.target, 0)
        mask = (self.target != self.ignore_index).astype(log_p.dtype)  # 0 for an ignored row
        weight = mask
        if self.reduction == "mean":
            counted = mask if self.class_weight is None else mask * self.class_weight[self.safe_target]
            total = counted.sum()
            weight = mask / xp.where(total != 0, total, 1)  # every row ignored: all 0, never 0/0
        self.saved = weight
        losses = -(self.wanted(log_p.shape, log_p.dtype) * log_p).sum(axis=1) * weight
        if self.reduction != "mean":
            return losses if self.reduction == "none" else losses.sum()
        return xp.where(total != 0, losses.sum(), xp.nan)  # the mean of no row: NaN, as PyTorch's

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
        q[xp.arange(n), self.safe_target] += 1.0 - self.smoothing
        return q if self.class_weight is None else q * self.class_weight.astype(dtype)


def cross_entropy(input: Tensor, target: Any, weight: Tensor | None = None,  # noqa: A002 - PyTorch's names
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """PyTorch's F.cross_entropy: logits ``input`` (N, C) or (N, C, d1, ...), integer targets
    (N, d1, ...); ``weight`` (C,), if given, weighs each class. Targets given as probabilities
    are not supported."""
    reduction = legacy_reduction("cross_entropy", size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == input.shape:
        raise TypeError(f"cross_entropy: targets of class probabilities (float, shape {target.shape}) are "
                        f"not supported here; give the class indices (int64, shape "
                        f"{input.shape[:1] + input.shape[2:]}), e.g. target.argmax(1) for one-hot rows")
    rows, ids, shape = _rows("cross_entropy", "logits", input, target, ignore_index, reduction)
    class_weight = _class_weight("cross_entropy", weight, rows)
    loss = NLLLoss(ids, ignore_index, label_smoothing, reduction, class_weight)(log_softmax(rows, 1))
    return loss.reshape(shape) if reduction == "none" else loss


def nll_loss(input: Tensor, target: Any, weight: Tensor | None = None,  # noqa: A002 - PyTorch's names
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """PyTorch's F.nll_loss: -input[target] averaged over the counted positions, for
    log-probabilities ``input`` (N, C) or (N, C, d1, ...) and integer targets (N, d1, ...).

    ``cross_entropy(logits, t)`` is ``nll_loss(log_softmax(logits, 1), t)``; ``weight`` (C,),
    if given, weighs each class.
    """
    reduction = legacy_reduction("nll_loss", size_average, reduce, reduction)
    rows, ids, shape = _rows("nll_loss", "input", input, target, ignore_index, reduction)
    loss = NLLLoss(ids, ignore_index, 0.0, reduction, _class_weight("nll_loss", weight, rows))(rows)
    return loss.reshape(shape) if reduction == "none" else loss


def _rows(op: str, called: str, input: Tensor, target: Any, ignore_index: int,  # noqa: A002
          reduction: str) -> tuple[Tensor, Any, tuple[int, ...]]:
    """Check a classification loss's arguments (``called``: the input's name in errors); return
    ``input`` (N, C, d1, ...) as rows (N d1 ..., C), the targets flat, and the shape (N, d1, ...)
    of the per-position losses."""
    _check_reduction(op, reduction)
    ids = integer_ids(op, target, input.device)
    expected = input.shape[:1] + input.shape[2:]
    if input.ndim < 2 or ids.shape != expected:
        raise ValueError(f"{op}: {called} of shape {input.shape} (N, C, ...) go with targets of "
                         f"shape {expected}, got {ids.shape}")
    classes = input.shape[1]
    check_range(op, ids, classes, f"target {{}} is out of range for {classes} classes "
                f"(ignore_index={ignore_index})", ignore=ignore_index)
    if input.ndim > 2:  # move classes last, then treat every position as one row
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)  # (N d1 ..., C)
    return input, ids.reshape(-1), expected


def _class_weight(op: str, weight: Tensor | None, rows: Tensor) -> Any:
    """``weight`` (PyTorch's third argument): None, or one float per class on the input's
    device, returned as a constant array."""
    if weight is None:
        return None
    classes = rows.shape[1]
    if not isinstance(weight, Tensor) or weight.shape != (classes,) or weight.dtype.kind != "f":
        raise ValueError(f"{op}: weight must be a float Tensor of shape ({classes},), one weight per "
                         f"class, got {getattr(weight, 'shape', type(weight).__name__)} "
                         f"{getattr(weight, 'dtype', '')}".rstrip())
    if weight.device != rows.device:
        raise RuntimeError(f"{op}: weight is on {weight.device} but the input on {rows.device}; "
                           f"move it with .to('{rows.device}')")
    return weight.array


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, ((input - target)^2).mean()."""
    _check_reduction("mse_loss", reduction)
    if input.shape != target.shape:  # (4, 1) against (4,) would broadcast to (4, 4), silently
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} "
                         f"differ; reshape one of them")
    return _reduced((input - target) ** 2, reduction)


# ----------------------------------------------------------------------------
# Binary cross-entropy
# ----------------------------------------------------------------------------
LOG_FLOOR = -100.0   # PyTorch's: log(0) counts as -100
EPSILON = 9.999999960041972e-13  # PyTorch's floor of x (1 - x) in the gradient: 1e-12 rounded to float32


class BinaryCrossEntropy(Function):
    """-(y log x + (1 - y) log(1 - x)) per element, each log at least -100, as PyTorch's."""

    def forward(self, x: Any, y: Any) -> Any:
        return -(y * _floored_log(x) + (1 - y) * _floored_log(1 - x))

    def backward(self, grad: Value) -> tuple[Value | None, ...]:
        x, y = self.operands
        # dL/dx = (x - y) / (x (1 - x)), its denominator kept from 0 as PyTorch does;
        # dL/dy = log(1 - x) - log(x), unclamped, as PyTorch's (inf at x = 0 or 1).
        grad_x = grad * (x - y) / Clip(EPSILON, None)((1 - x) * x) if self.needs_grad(0) else None
        grad_y = grad * (pointwise.Log()(1 - x) - pointwise.Log()(x)) if self.needs_grad(1) else None
        return grad_x, grad_y


def _floored_log(a: Any) -> Any:
    """max(log a, -100) on an array, with log(0) = -100 (and no divide-by-zero warning)."""
    xp = backend.xp_of(a)
    positive = a > 0
    return xp.where(positive, xp.maximum(xp.log(xp.where(positive, a, 1)), LOG_FLOOR), LOG_FLOOR)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` (in [0, 1]) and ``target``, as PyTorch's.

    ``weight`` (broadcast against input) rescales each element's loss.
    ``size_average`` and ``reduce`` are PyTorch's deprecated spellings of ``reduction``.
    """
    reduction = legacy_reduction("binary_cross_entropy", size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _check_pair("binary_cross_entropy", input, target, weight=weight)
    if input.dtype != target.dtype:
        raise TypeError(f"binary_cross_entropy: input is {input.dtype} but target is {target.dtype}; "
                        f"make them one dtype, e.g. target.to(input.dtype)")
    with backend.on_device(input.device):
        inside = bool(backend.to_host(((input.array >= 0) & (input.array <= 1)).all()))  # NaN is outside too
    if not inside:
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(probabilities); for logits use binary_cross_entropy_with_logits")
    losses = BinaryCrossEntropy()(input, target)
    return _reduced(losses if weight is None else losses * weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,  # noqa: A002 - PyTorch's names
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` and ``target``, computed from the logits, as PyTorch's.

    ``pos_weight`` multiplies the loss of the positive class (the y log x term),
    broadcast against target's last dimension: pos_weight = negatives / positives
    balances a rare class. ``weight`` rescales each element's loss.
    """
    reduction = legacy_reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _check_pair("binary_cross_entropy_with_logits", input, target, weight=weight, pos_weight=pos_weight)
    log_p = logsigmoid(input)                                # log sigmoid(z), finite for every z
    if pos_weight is not None:
        log_p = (1 + (pos_weight - 1) * target) * log_p
    losses = (1 - target) * input - log_p                    # -y log p - (1 - y) log(1 - p)
    return _reduced(losses if weight is None else losses * weight, reduction)


# ----------------------------------------------------------------------------
# Kullback-Leibler divergence
# ----------------------------------------------------------------------------
def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
           reduce: bool | None = None, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) per element, as PyTorch's: ``input`` holds log-probabilities.

        log_target=False:  target * (log target - input)      (0 where target is 0)
        log_target=True:   exp(target) * (target - input)     (target holds log-probabilities too)

    ``reduction="batchmean"`` (sum / batch size) is the divergence as mathematics
    defines it; ``"mean"`` divides by the number of elements too, and PyTorch
    warns about it, as here.
    """
    reduction = legacy_reduction("kl_div", size_average, reduce, reduction)
    _check_reduction("kl_div", reduction, "batchmean")
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"kl_div: input and target must be Tensors, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if log_target:
        losses = pointwise.exp(target) * (target - input)
    else:  # xlogy(target, target) - target * input, with log(1) = 0 standing in where target is 0
        losses = target * (pointwise.log(where(target == 0, 1.0, target)) - input)
    if reduction == "batchmean":
        return losses.sum() / input.shape[0] if input.ndim else losses.sum()
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size, and aligns with the KL "
                      "div math definition (PyTorch says 'mean' will change to 'batchmean')",
                      UserWarning, stacklevel=2)
    return _reduced(losses, reduction)


# ----------------------------------------------------------------------------
# Checks shared by the losses
# ----------------------------------------------------------------------------
def _check_reduction(op: str, reduction: str, *more: str) -> None:
    allowed = [repr(name) for name in ("mean", "sum", "none", *more)]
    if reduction not in ("mean", "sum", "none", *more):
        raise ValueError(f"{op}: reduction must be {', '.join(allowed[:-1])} or {allowed[-1]}, got "
                         f"{reduction!r}")


def _reduced(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()


def legacy_reduction(op: str, size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` arguments as the ``reduction`` they mean."""
    if size_average is None and reduce is None:
        return reduction
    meant = "none" if reduce is False else "sum" if size_average is False else "mean"
    warnings.warn(f"{op}: size_average and reduce are deprecated; use reduction={meant!r} instead",
                  UserWarning, stacklevel=3)
    return meant


def _check_pair(op: str, input: Tensor, target: Tensor, **weights: Tensor | None) -> None:  # noqa: A002
    """Tensors of one shape (PyTorch refuses to broadcast them), and weights that broadcast to it."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"{op}: target size {target.shape} must be the same as input size "
                         f"{input.shape} (one target per output); reshape one of them")
    for name, weight in weights.items():
        if weight is not None and not broadcasts_to(weight.shape, input.shape):
            raise ValueError(f"{op}: {name} of shape {weight.shape} does not broadcast to the input's "
                             f"shape {input.shape}")
