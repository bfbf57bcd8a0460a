"""Scans: running sums and products along one dimension, ``cumsum`` and ``cumprod``.

    cumsum    y_j = x_1 + ... + x_j      dL/dx_i = g_i + g_(i+1) + ... + g_n
    cumprod   y_j = x_1 x_2 ... x_j      dL/dx_i = P_(i-1) S_i  (below)

Each x_i takes part in every y_j with j >= i, so its gradient gathers the
gradients of all of them: for cumsum that is the running sum of g taken from
the end, the *reverse* cumulative sum, ``flip(cumsum(flip(g)))``.

Worked example (cumsum): x = [1, 2, 3] gives y = [1, 3, 6]. With g = [1, 10, 100],
x_1 fed all three outputs and gets 111, x_2 gets 110, x_3 gets 100.

For cumprod, dy_j/dx_i is the product of x_1..x_j without x_i. Dividing y_j by
x_i would give it, except where x_i = 0 (0 / 0). So the gradient is built
without division, from what comes before i and what comes after it:

    dL/dx_i = sum_(j >= i) g_j prod_(k <= j, k != i) x_k = P_(i-1) S_i
    P_(i-1) = x_1 ... x_(i-1)             (1 for i = 1): cumprod shifted one place
    S_i     = g_i + x_(i+1) S_(i+1)       (S_n = g_n):   g_i + x_(i+1) g_(i+1) + x_(i+1) x_(i+2) g_(i+2) ...

S is a recurrence from the end, one step per position, as Horner's rule is.
Worked example: x = [2, 0, 5], y = [2, 0, 0], g = [1, 1, 1]. S = [1 + 0 (1 + 5), 1 + 5, 1]
= [1, 6, 1], P = [1, 2, 0], so dL/dx = [1, 12, 0]: raising x_2 from 0 to e makes
y = [2, 2e, 10e], whose sum grows by 12e.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value, constant
from ..tensor import Tensor
from .axes import normalize_axes
from .shape import Concat, Flip


class CumSum(Function):
    keeps_inputs = False

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, a: Any) -> Any:
        return a.cumsum(axis=self.axis)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (_reversed(CumSum(self.axis)(_reversed(grad, self.axis)), self.axis),)  # sums from the end


class CumProd(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, a: Any) -> Any:
        return a.cumprod(axis=self.axis)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x, axis = self.operands[0], self.axis
        n = x.shape[axis]
        if n == 0:
            return (grad,)

        def at(value: Any, i: int) -> Any:  # position i along the axis, the axis kept with length 1
            return value[(slice(None),) * axis + (slice(i, i + 1),)]

        after = [at(grad, n - 1)]  # S_n, then S_(n-1), ... S_1
        for i in range(n - 2, -1, -1):
            after.append(at(grad, i) + at(x, i + 1) * after[-1])
        return (products_before(x, axis) * Concat(axis)(*reversed(after)),)


def products_before(x: Any, axis: int) -> Any:
    """P_(i-1) = x_1 ... x_(i-1) at each position i along ``axis`` (1 at the first): an array,
    or a Tensor in the graph under ``create_graph``; exact where x holds zeros."""
    n = x.shape[axis]
    first = (slice(None),) * axis + (slice(0, 1),)
    array = x.array if isinstance(x, Tensor) else x
    ones = constant(backend.xp_of(array).ones_like(array[first]), x)
    if n <= 1:
        return ones
    return Concat(axis)(ones, CumProd(axis)(x[(slice(None),) * axis + (slice(0, n - 1),)]))


def products_of_others(x: Any, axis: int) -> Any:
    """prod over k != i of x_k at each position i along ``axis``: the product before i times the
    product after it (the latter is the former of x reversed). No division, so exact at zeros."""
    return products_before(x, axis) * _reversed(products_before(_reversed(x, axis), axis), axis)


def _reversed(value: Any, axis: int) -> Any:
    return Flip((axis,))(value)  # a new node each time: one Function object is one node of the graph


# ----------------------------------------------------------------------------
# The functions, as torch.cumsum and torch.cumprod
# ----------------------------------------------------------------------------
def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``; integers and booleans sum in int64, as in PyTorch."""
    return _scan(CumSum, x, dim, dtype)


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along ``dim``; integers and booleans multiply in int64, as in PyTorch."""
    return _scan(CumProd, x, dim, dtype)


def _scan(op: type, x: Tensor, dim: int, dtype: Any) -> Tensor:
    axis = normalize_axes(dim, x.ndim)[0]  # a bad dim raises here
    if dtype is not None:
        x = x.to(dtype)
    elif not backend.is_floating(x.dtype):
        x = x.to(backend.int64)  # cumsum of int8 or bool would overflow or saturate otherwise
    if x.ndim == 0:  # a single number is its own running sum (NumPy refuses axis 0 of a 0-d array)
        return op(0)(x.reshape(1)).reshape(())
    return op(axis)(x)
