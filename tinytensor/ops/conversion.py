"""Conversions: ``.to(dtype)``, ``.to(device)`` and ``.clone()``. All are differentiable.

The gradient of a cast is cast back; the gradient of a move to the GPU moves
back to where the input was. So ``loss.backward()`` reaches a CPU leaf even
when the model ran on "cuda". A clone is a copy in new memory (what to change
in place when the original must stay); its gradient passes through unchanged.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function
from ..backend import Device
from ..tensor import Tensor


class Cast(Function):
    keeps_inputs = False

    def __init__(self, dtype: Any) -> None:
        self.target = dtype

    def forward(self, a: Any) -> Any:
        return a.astype(self.target)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (Cast(self.inputs[0].dtype)(grad),)


class ToDevice(Function):
    keeps_inputs = False

    def __init__(self, device: Device) -> None:
        self.target = device

    @property
    def name(self) -> str:
        return f"to {self.target}"

    def forward(self, a: Any) -> Any:
        return backend.to_device(a, self.target)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (ToDevice(self.inputs[0].device)(grad),)


class Clone(Function):
    keeps_inputs = False

    def forward(self, a: Any) -> Any:
        return a.copy()

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad,)


def clone(x: Tensor) -> Tensor:
    return Clone()(x)


def contiguous(x: Tensor) -> Tensor:
    """x itself when its memory is one row-major block, else a copy that is (as PyTorch)."""
    return x if x.data.flags.c_contiguous else Clone()(x)


def type_as(x: Tensor, other: Tensor) -> Tensor:
    return x.to(other.dtype)


def result_dtype(a: Any, b: Any, true_division: bool = False) -> Any:
    """The dtype a binary op computes in, as PyTorch chooses it (None: leave it to NumPy).

    * a float and an integer: the float's dtype. NumPy 2 computes int64 * float32
      in float64; PyTorch keeps float32, so a float32 model stays float32.
    * two floats: the wider one.
    * true division of two integers: the default float (``tensor([1, 2]) / 2`` is float32).
    * two integers otherwise: None, NumPy's rule (int32 with int64 is int64) is PyTorch's.
    """
    a_float, b_float = backend.is_floating(a), backend.is_floating(b)
    if a_float and b_float:
        return a if a.itemsize >= b.itemsize else b
    if a_float or b_float:
        return a if a_float else b
    return backend.DEFAULT_FLOAT if true_division else None


def promote(a: Tensor, b: Tensor, true_division: bool = False) -> tuple[Tensor, Tensor]:
    """Bring the two operands of a binary op to one dtype first (see ``result_dtype``).

    The ``Cast`` is part of the graph, so each input's gradient comes back in its
    own dtype: a float32 weight never receives a float64 gradient.
    """
    if a.dtype == b.dtype and (not true_division or backend.is_floating(a.dtype)):
        return a, b
    target = result_dtype(a.dtype, b.dtype, true_division)
    if target is None:
        return a, b
    return (a if a.dtype == target else Cast(target)(a),
            b if b.dtype == target else Cast(target)(b))


class Binary(Function):
    """A two-operand op: both operands are brought to one dtype first (see ``promote``).

    Arithmetic, maximum, minimum, where and matmul subclass it. The check costs
    one comparison when the dtypes already agree, which is nearly always.
    """

    true_division = False  # Div sets it: int / int gives a float

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        if isinstance(a, Tensor) and (a.data.dtype is not b.data.dtype or self.true_division):
            a, b = promote(a, b, self.true_division)
        return Function.__call__(self, a, b)  # not super(): this runs for every + and *, and it is quicker
