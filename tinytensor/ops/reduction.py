"""Reductions: sum, mean, max, min, var, std, norm, prod over some axes (``axis=None``: all of them).

A reduction squeezes many inputs into one output, so backward spreads the
output's gradient back over them: reshape it to the kept-dims shape, then
broadcast it to the input's shape.

    sum       every input gets the gradient:            dL/dx_i = g
    mean      the same, divided by the count N:          dL/dx_i = g / N   (N = 0: the mean is NaN)
    max, min  only the winners get it (split on ties):   dL/dx_i = g [x_i = max] / #winners
    var       (correction c, as PyTorch; c=1 unbiased):  dL/dx_i = g 2 (x_i - mean) / (N - c)
              (N <= c, too few values: NaN, and a warning, as PyTorch's)
    norm      ||x|| = sqrt(sum x^2):                     dL/dx_i = g x_i / ||x||  (0 where ||x|| = 0)
    prod      y = x_1 x_2 ... x_N:                       dL/dx_i = g prod_(k != i) x_k  (no division)

The axes can be named the PyTorch way, ``x.sum(dim=1, keepdim=True)``, or the
NumPy way, ``x.sum(axis=1, keepdims=True)``; ``dims`` (axes.py) is the one place
that reads both. The one difference in meaning is PyTorch's: ``x.max(dim=1)`` (or
``x.max(1)``) gives the values and their indices, as torch.max does, while
``x.max(axis=1)``, NumPy's spelling, gives the values alone, as NumPy's max does.
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple
from typing import TYPE_CHECKING, Any

from .. import backend
from ..autograd.function import Function, Value, mask_like
from . import comparison
from .axes import dims, normalize_axes, refuse_empty
from .broadcast import broadcast_to
from .scan import products_of_others

if TYPE_CHECKING:
    from ..tensor import Tensor


class Reduction(Function):
    """What all reductions share: the axes, keepdims, and spreading the gradient back."""

    floating_only = False  # the mean of integers has no obvious dtype: ask for floats, as PyTorch
    nonempty = False       # max and min of nothing have no value: refuse, as PyTorch

    def __init__(self, axis: Any = None, keepdims: bool = False) -> None:
        self.axis, self.keepdims = axis, keepdims

    def __call__(self, x: Tensor) -> Tensor:
        if self.floating_only and x.dtype.kind != "f":
            raise TypeError(f"{self.name}: needs a floating point tensor, got {x.dtype}; use x.float()")
        self.axes = normalize_axes(self.axis, x.ndim)
        if self.nonempty:
            refuse_empty(self.name, x.shape, self.axes)
        return super().__call__(x)

    def count(self, shape: tuple[int, ...]) -> int:
        """How many inputs of ``shape`` are squeezed into each output (N)."""
        return math.prod(shape[a] for a in self.axes)

    def spread(self, grad: Value) -> Value:
        """The output's gradient, copied back to every input position."""
        shape = self.inputs[0].shape
        if not self.keepdims:
            grad = grad.reshape(tuple(1 if i in self.axes else n for i, n in enumerate(shape)))
        return broadcast_to(grad, shape)


class Sum(Reduction):
    keeps_inputs = False

    def forward(self, a: Any) -> Any:
        whole = a.dtype.kind != "f"  # integers and booleans sum in int64, as PyTorch (NumPy: uint8 in uint64)
        return a.sum(axis=self.axes, keepdims=self.keepdims, dtype=backend.int64 if whole else None)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (self.spread(grad),)


class Mean(Reduction):
    keeps_inputs = False
    floating_only = True

    def forward(self, a: Any) -> Any:
        if not self.count(a.shape):  # the mean of nothing: NaN, as PyTorch's (NumPy's warns too)
            return backend.xp_of(a).full_like(a.sum(axis=self.axes, keepdims=self.keepdims), math.nan)
        return a.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        n = self.count(self.inputs[0].shape)
        return (self.spread(grad) * (1.0 / (n or 1)),)  # N = 0: no input, an empty gradient


class Max(Reduction):
    needs_output = True
    nonempty = True

    def forward(self, a: Any) -> Any:
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        winners = mask_like(self.inputs[0].array == self.spread(self.out_data), grad)
        share = winners / self.spread(winners.sum(self.axes, keepdims=self.keepdims))
        return (self.spread(grad) * share,)


class Min(Max):
    def forward(self, a: Any) -> Any:
        return a.min(axis=self.axes, keepdims=self.keepdims)


class Var(Reduction):
    floating_only = True

    def __init__(self, axis: Any = None, keepdims: bool = False, correction: int = 1) -> None:
        super().__init__(axis, keepdims)
        self.correction = correction

    def forward(self, a: Any) -> Any:
        n = self.count(a.shape)
        if n > self.correction:
            return a.var(axis=self.axes, ddof=self.correction, keepdims=self.keepdims)
        # Too few values: the sum of squared deviations over N - c <= 0 is NaN (0 / 0, where
        # they are all equal or there are none) or inf, as PyTorch's, which warns too.
        warnings.warn(f"var: degrees of freedom <= 0 ({n} values, correction={self.correction}): "
                      f"the variance is NaN (or inf)", UserWarning, stacklevel=4)
        xp = backend.xp_of(a)
        centered = a - a.sum(axis=self.axes, keepdims=True) / (n or 1)
        squares = (centered * centered).sum(axis=self.axes, keepdims=self.keepdims)
        return xp.where(squares > 0, xp.inf, xp.nan).astype(a.dtype, copy=False)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        degrees_of_freedom = self.count(self.inputs[0].shape) - self.correction
        if degrees_of_freedom <= 0:  # too few values for a variance: NaN, as its value (and PyTorch's)
            return (self.spread(grad) * math.nan,)
        x = self.operands[0]
        centered = x - x.mean(self.axes, keepdims=True)
        return (self.spread(grad) * centered * (2.0 / degrees_of_freedom),)


class Norm(Reduction):
    """The Euclidean norm sqrt(sum x^2); its gradient at x = 0 is 0 (a subgradient, as PyTorch's)."""

    floating_only = True
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).sqrt((a * a).sum(axis=self.axes, keepdims=self.keepdims))

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x, norm = self.operands[0], self.spread(self.output)
        safe = norm + (norm == 0)  # 1 where the norm is 0 (so is x there): 0 / 1, not 0 / 0
        return (self.spread(grad) * x / safe,)


# ----------------------------------------------------------------------------
# The functions: tt.sum(x, ...) and x.sum(...) are these
# ----------------------------------------------------------------------------
Max_ = namedtuple("max", ["values", "indices"])  # what torch.max(x, dim) returns
Min_ = namedtuple("min", ["values", "indices"])


def sum(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Tensor:
    return Sum(*dims("sum", dim, keepdim, axis, keepdims))(x)


def mean(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    return Mean(*dims("mean", dim, keepdim, axis, keepdims))(x)


def var(x: Tensor, dim: Any = None, keepdim: Any = None, *, correction: int = 1, axis: Any = None,
        keepdims: Any = None, unbiased: bool | None = None) -> Tensor:
    """Variance with PyTorch's ``correction`` (1: unbiased, N - 1 below; 0: NumPy's default)."""
    correction = correction if unbiased is None else int(unbiased)
    return Var(*dims("var", dim, keepdim, axis, keepdims), correction)(x)


def std(x: Tensor, dim: Any = None, keepdim: Any = None, *, correction: int = 1, axis: Any = None,
        keepdims: Any = None, unbiased: bool | None = None) -> Tensor:
    return var(x, dim, keepdim, correction=correction, axis=axis, keepdims=keepdims, unbiased=unbiased).sqrt()


def norm(x: Tensor, p: Any = 2, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
         keepdims: Any = None) -> Tensor:
    """The p-norm over ``dim`` (all by default): p = 2 ("fro"), 1, or inf (the largest |x|)."""
    axis, keepdims = dims("norm", dim, keepdim, axis, keepdims)
    if p in (2, "fro"):
        return Norm(axis, keepdims)(x)
    if p == 1:
        return Sum(axis, keepdims)(x.abs())
    if p == math.inf:
        return Max(axis, keepdims)(x.abs())
    raise ValueError(f"norm: p must be 2 ('fro'), 1 or inf, got {p!r}")


def max(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> "Tensor | Max_":
    """The largest value (``x.max()``, ``x.max(axis=0)``), or with ``dim``, as torch.max,
    the values and their indices: ``values, indices = x.max(dim=1)``."""
    return _extreme("max", Max, Max_, x, dim, keepdim, axis, keepdims)


def min(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> "Tensor | Min_":
    return _extreme("min", Min, Min_, x, dim, keepdim, axis, keepdims)


def amax(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    """The largest values over ``dim`` (several dimensions allowed), without indices, as torch.amax."""
    return Max(*dims("amax", dim, keepdim, axis, keepdims))(x)


def amin(x: Tensor, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    return Min(*dims("amin", dim, keepdim, axis, keepdims))(x)


def _extreme(op: str, reduction: type, pair: type, x: Tensor, dim: Any, keepdim: Any, axis: Any,
             keepdims: Any) -> Any:
    axis_, keep = dims(op, dim, keepdim, axis, keepdims)
    values = reduction(axis_, keep)(x)
    if dim is None:  # no dim: NumPy's meaning, the values alone
        return values
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim={dim!r} must be one dimension (an int) when the indices come "
                        f"back too; for the {op}imum over several, use a{op}(x, dim) or axis=")
    indices = (comparison.argmax if op == "max" else comparison.argmin)(x, dim, keep)
    return pair(values, indices)


# ----------------------------------------------------------------------------
# prod: every input gets the product of all the others
# ----------------------------------------------------------------------------
class Prod(Reduction):
    """dL/dx_i = g prod_(k != i) x_k: the product before i times the product after it (scan.py).

    Not g y / x_i: that is 0 / 0 where x_i = 0, whose true gradient is the product
    of the others, nonzero when x_i is the only zero. Worked example: x = [2, 0, 5],
    y = 0; dy/dx = [0, 10, 0], since raising x_2 to e makes y = 10e.
    """

    def forward(self, a: Any) -> Any:
        return a.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        (axis,) = self.axes  # one dimension: prod() of all of x runs on x flattened
        return (self.spread(grad) * products_of_others(self.operands[0], axis),)


def prod(x: Tensor, dim: Any = None, keepdim: Any = None, *, dtype: Any = None, axis: Any = None,
         keepdims: Any = None) -> Tensor:
    """The product of all elements, or along one dimension ``dim``, as torch.prod.

    Integers and booleans multiply in int64 (as PyTorch; ``dtype=`` picks another).
    """
    axis, keepdims = dims("prod", dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = x.to(dtype)
    elif not backend.is_floating(x.dtype):
        x = x.to(backend.int64)
    if axis is None:
        product = Prod(0)(x.reshape(-1))
        return product.reshape((1,) * x.ndim) if keepdims else product
    if not isinstance(axis, int):
        raise TypeError(f"prod: dim={axis!r} must be one dimension (an int), as in torch.prod; "
                        f"for several, take the product over one after the other")
    axis = normalize_axes(axis, x.ndim)[0]  # a bad dim raises here, for a 0-d x too
    return Prod(axis, keepdims)(x) if x.ndim else Prod(0)(x.reshape(1)).reshape(())
