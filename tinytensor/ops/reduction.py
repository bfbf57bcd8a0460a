"""Reductions: sum, mean, max, min, var over some axes (``axis=None``: all of them).

A reduction squeezes many inputs into one output, so backward spreads the
output's gradient back over them: reshape it to the kept-dims shape, then
broadcast it to the input's shape.

    sum       every input gets the gradient:            dL/dx_i = g
    mean      the same, divided by the count N:          dL/dx_i = g / N
    max, min  only the winners get it (split on ties):   dL/dx_i = g [x_i = max] / #winners
    var       (correction c, as PyTorch; c=1 unbiased):  dL/dx_i = g 2 (x_i - mean) / (N - c)
"""
from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..tensor import Tensor
from .broadcast import broadcast_to
from .pointwise import mask_like


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``None``, an int or a tuple of ints, as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(a % max(ndim, 1))
    return tuple(sorted(set(normalized)))


class Reduction(Function):
    """What all reductions share: the axes, keepdims, and spreading the gradient back."""

    def __init__(self, axis: Any = None, keepdims: bool = False) -> None:
        self.axis, self.keepdims = axis, keepdims

    def __call__(self, x: Tensor) -> Tensor:
        self.axes = normalize_axes(self.axis, x.ndim)
        return super().__call__(x)

    def count(self) -> int:
        """How many inputs were squeezed into each output (N)."""
        shape = self.inputs[0].shape
        return math.prod(shape[a] for a in self.axes)

    def spread(self, grad: Tensor) -> Tensor:
        """The output's gradient, copied back to every input position."""
        shape = self.inputs[0].shape
        if not self.keepdims:
            grad = grad.reshape(tuple(1 if i in self.axes else n for i, n in enumerate(shape)))
        return broadcast_to(grad, shape)


class Sum(Reduction):
    def forward(self, a: Any) -> Any:
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (self.spread(grad),)


class Mean(Reduction):
    def __call__(self, x: Tensor) -> Tensor:
        _floating_only(self, x)
        return super().__call__(x)

    def forward(self, a: Any) -> Any:
        return a.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (self.spread(grad) * (1.0 / self.count()),)


class Max(Reduction):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x = self.inputs[0]
        best = self.spread(Tensor._make(self.out_data, None)).data
        winners = mask_like(x.data == best, grad)
        share = winners / self.spread(winners.sum(self.axes, keepdims=self.keepdims))
        return (self.spread(grad) * share,)


class Min(Max):
    def forward(self, a: Any) -> Any:
        return a.min(axis=self.axes, keepdims=self.keepdims)


class Var(Reduction):
    def __init__(self, axis: Any = None, keepdims: bool = False, correction: int = 1) -> None:
        super().__init__(axis, keepdims)
        self.correction = correction

    def __call__(self, x: Tensor) -> Tensor:
        _floating_only(self, x)
        return super().__call__(x)

    def forward(self, a: Any) -> Any:
        return a.var(axis=self.axes, ddof=self.correction, keepdims=self.keepdims)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x = self.inputs[0]
        centered = x - x.mean(self.axes, keepdims=True)
        return (self.spread(grad) * centered * (2.0 / (self.count() - self.correction)),)


def _floating_only(op: Function, x: Tensor) -> None:
    """As PyTorch: the mean or variance of integers has no obvious dtype, so ask for one."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op.name}: needs a floating point tensor, got {x.dtype}; use x.float()")
