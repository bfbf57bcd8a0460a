"""Ops that pick between values: clip, maximum, minimum, where, masked_fill, tril, triu.

Their derivative routes the gradient to whichever input was picked:

    where(c, a, b)    dL/da = grad where c, 0 elsewhere; dL/db the other way
    maximum(a, b)     grad goes to the larger; on a tie each gets half (as PyTorch)
    clip(x, lo, hi)   grad passes where lo <= x <= hi, 0 where x was clipped

``masked_fill(x, mask, value)`` is ``where(mask, value, x)``: the decoder's
causal mask fills future positions with -inf before the softmax.
``tril(x)`` keeps the lower triangle of the last two dimensions and zeros the
rest (``where(lower, x, 0)``), ``triu(x)`` the upper one; ``diagonal=k`` moves the
border k diagonals up (k > 0) or down (k < 0), as in PyTorch. The causal mask is
``triu`` of a matrix of ``-inf`` with ``diagonal=1``: position i may not see j > i.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value, mask_like
from ..tensor import Tensor, as_operand
from .broadcast import sum_to
from .promotion import Binary


class Clip(Function):
    def __init__(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).clip(a, self.low, self.high).astype(a.dtype, copy=False)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.inputs[0].array
        inside = backend.xp_of(x).ones_like(x, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return (grad * mask_like(inside, grad),)


class Maximum(Binary):
    def forward(self, a: Any, b: Any) -> Any:
        return backend.xp_of(a).maximum(a, b)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.inputs
        return _route(self, grad, a_picked=a.array > b.array)


class Minimum(Binary):
    def forward(self, a: Any, b: Any) -> Any:
        return backend.xp_of(a).minimum(a, b)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.inputs
        return _route(self, grad, a_picked=a.array < b.array)


def _route(node: Function, grad: Value, a_picked: Any) -> tuple[Value, Value]:
    """Send grad to the input that was picked; on a tie, half to each."""
    a, b = node.inputs
    share_a = mask_like(a_picked, grad) + mask_like(a.array == b.array, grad) * 0.5
    return (sum_to(grad * share_a, a.shape) if node.needs_grad(0) else None,
            sum_to(grad * (1 - share_a), b.shape) if node.needs_grad(1) else None)


class Where(Binary):
    keeps_inputs = False

    def __init__(self, condition: Any) -> None:
        self.saved = condition  # may be as big as the inputs (x > 0): release() frees it

    def forward(self, a: Any, b: Any) -> Any:
        return backend.xp_of(a).where(self.saved, a, b)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.inputs
        picked_a = mask_like(self.saved, grad)
        return (sum_to(grad * picked_a, a.shape) if self.needs_grad(0) else None,
                sum_to(grad * (1 - picked_a), b.shape) if self.needs_grad(1) else None)


def clip(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Every element into [min, max] (either may be None), as torch.clamp."""
    if not backend.is_floating(x.dtype) and (isinstance(min, float) or isinstance(max, float)):
        x = x.float()  # as PyTorch: integers clipped at 0.5 become floats, not truncated bounds
    return Clip(min, max)(x)


def maximum(a: Tensor, b: Any) -> Tensor:
    return Maximum()(a, as_operand(b, a))


def minimum(a: Tensor, b: Any) -> Tensor:
    return Minimum()(a, as_operand(b, a))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (either or both may be a number)."""
    cond = condition.array if isinstance(condition, Tensor) else backend.as_array(condition)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # two numbers: on cond's device
        b = Tensor(b, device=backend.device_of(cond))
    like = a if isinstance(a, Tensor) else b
    if isinstance(condition, Tensor) and condition.device != like.device:
        raise RuntimeError(f"where: the condition is on {condition.device} but the values are on "
                           f"{like.device}; move it with .to('{like.device}')")
    with backend.on_device(like.device):
        cond = backend.to_device(cond, like.device).astype(bool, copy=False)  # a list or NumPy mask too
    return Where(cond)(as_operand(a, like), as_operand(b, like))


def masked_fill(x: Tensor, mask: Any, value: float) -> Tensor:
    """``x`` with ``value`` wherever ``mask`` is True (mask broadcasts against x)."""
    return where(mask, value, x)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of x's last two dimensions (j <= i + diagonal); zeros above it."""
    return _triangle("tril", x, diagonal, lower=True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of x's last two dimensions (j >= i + diagonal); zeros below it."""
    return _triangle("triu", x, diagonal, lower=False)


def _triangle(op: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dimensions, got shape {x.shape}")
    rows, cols = x.shape[-2:]
    with backend.on_device(x.device):
        keep = backend.xp_of(x.array).tri(rows, cols, diagonal if lower else diagonal - 1,
                                         dtype=bool)  # j <= i + k
        if not lower:
            keep = ~keep  # j >= i + k is the complement of j <= i + k - 1
    return where(keep, x, x.dtype.type(0))  # a zero of x's own dtype: bool masks stay bool
