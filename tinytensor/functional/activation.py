"""Activations and the softmax family, each with its own analytic backward.

softmax(x)_i = exp(x_i) / sum_j exp(x_j). Subtracting max(x) first changes
nothing mathematically (it cancels) but keeps exp from overflowing. Every row
of the result sums to 1: in attention, each row is a weighting of the values.

    softmax      y = softmax(x)        dL/dx = y * (g - sum(g * y))
    log_softmax  y = x - logsumexp(x)  dL/dx = g - softmax(x) * sum(g)
    logsumexp    y = log sum exp(x)    dL/dx = g * exp(x - y) = g * softmax(x)
    logsigmoid   y = log sigmoid(x)    dL/dx = g * sigmoid(-x)     (log_softmax of the pair (0, x))

One fused op instead of exp, sum and divide keeps a Transformer step fast and
its graph small. Masked positions (-inf, from masked_fill) get weight exactly 0:
a masked attention row, (1, 2, -inf, -inf), gives
(e/(e+e^2), e^2/(e+e^2), 0, 0) = (0.2689, 0.7311, 0, 0).

A row that is -inf everywhere (a query allowed to attend to nothing) has no
distribution at all: exp gives 0 / 0. The rule here is that such a row gets all
zero weights, forward and backward, never NaN. (PyTorch's softmax gives NaN;
see pytorch issue 41508.)
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value
from ..ops import pointwise
from ..ops.axes import dims, normalize_axes, one_dim
from ..ops.reduction import Reduction
from ..tensor import Tensor


class Softmax(Function):
    needs_output = True
    keeps_inputs = False  # backward reads the output alone

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, a: Any) -> Any:
        return softmax_array(a, self.axis)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        y = self.output
        return (y * (grad - (grad * y).sum(self.axis, keepdims=True)),)


class LogSoftmax(Function):
    needs_output = True
    keeps_inputs = False  # backward reads the output alone

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, a: Any) -> Any:
        return log_softmax_array(a, self.axis)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad - pointwise.exp(self.output) * grad.sum(self.axis, keepdims=True),)


def softmax_array(a: Any, axis: int) -> Any:
    """softmax on a raw array (attention's fused op uses it too); an all -inf row gives zeros."""
    xp = backend.xp_of(a)
    if not a.shape[axis]:  # a distribution over no values: no values (PyTorch's answer too)
        return xp.zeros_like(a)
    top = a.max(axis=axis, keepdims=True)
    e = xp.exp(a - xp.where(top == -xp.inf, 0, top))  # an all -inf row: exp gives zeros...
    total = e.sum(axis=axis, keepdims=True)
    return e / xp.where(total == 0, 1, total)          # ...and stays zeros, not 0/0


def log_softmax_array(a: Any, axis: int) -> Any:
    """x - max - log(sum(exp(x - max))) on a raw array (LogSoftmax's forward)."""
    xp = backend.xp_of(a)
    if not a.shape[axis]:  # over no values: no values, as softmax
        return xp.zeros_like(a)
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSumExp(Reduction):
    name = "logsumexp"  # PyTorch's name (not log_sum_exp)
    needs_output = True

    def forward(self, a: Any) -> Any:
        xp = backend.xp_of(a)
        if not self.count(a.shape):  # log of a sum of nothing, log 0: -inf, as PyTorch's
            return xp.full_like(a.sum(axis=self.axes, keepdims=self.keepdims), -xp.inf)
        top = a.max(axis=self.axes, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)  # a row of all -inf stays -inf, not nan
        out = top + xp.log(xp.exp(a - top).sum(axis=self.axes, keepdims=True))
        return out if self.keepdims else out.squeeze(self.axes)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.operands[0]
        return (self.spread(grad) * pointwise.exp(x - self.spread(self.output)),)


class LogSigmoid(Function):
    """log sigmoid(x) = -log(1 + e^-x), computed as -(max(-x, 0) + log(1 + e^-|x|)).

    e^-|x| <= 1 never overflows, and the result stays finite for every finite x,
    where log(sigmoid(x)) is log(0) = -inf once sigmoid(x) rounds to 0 (already at
    x = -20 in float32: the loss would be inf, and its gradient NaN).
    """

    def forward(self, a: Any) -> Any:
        xp = backend.xp_of(a)
        return -(xp.maximum(-a, 0) + xp.log1p(xp.exp(-xp.abs(a))))

    def backward(self, grad: Value) -> tuple[Value, ...]:
        # d/dx log sigmoid(x) = sigmoid(-x), computed as exp(log sigmoid(-x)): exact to the last digit
        # far out too, where sigmoid's own form rounds e^-40 down to 0
        return (grad * pointwise.Exp()(LogSigmoid()(-self.operands[0])),)


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)), computed without overflow (torch.nn.functional.logsigmoid)."""
    return LogSigmoid()(x)


def softmax(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """softmax along ``dim`` (default: the last), as torch.softmax."""
    return Softmax(normalize_axes(one_dim("softmax", dim, axis, default=-1), x.ndim)[0])(x)


def log_softmax(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    return LogSoftmax(normalize_axes(one_dim("log_softmax", dim, axis, default=-1), x.ndim)[0])(x)


def logsumexp(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
              keepdims: Any = None) -> Tensor:
    return LogSumExp(*dims("logsumexp", dim, keepdim, axis, keepdims))(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Phi(x), as torch.nn.functional.gelu.

    ``approximate="none"`` (PyTorch's default) is the exact form, 0.5 x (1 + erf(x / sqrt(2)));
    ``"tanh"`` is the tanh form GPT-2 and BERT used. The two differ by less than 1e-3.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' (the exact erf form) or 'tanh', "
                         f"got {approximate!r}")
    return pointwise.Gelu(approximate)(x)
