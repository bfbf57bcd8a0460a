"""Type promotion: the one dtype a two-operand op computes in, chosen as PyTorch chooses it.

``float32 + float64`` computes in float64, ``int64 * float32`` in float32 (NumPy 2
would pick float64), ``int / int`` in the default float. ``promote`` inserts a
``Cast`` into the graph for the operand that must change, so each gradient comes back
in its own input's dtype. ``Binary`` is the base class of every two-operand op
(arithmetic, maximum, minimum, where, matmul) and promotes before it runs;
``linear`` and ``layer_norm`` call ``promote`` for their three inputs.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor
from .conversion import Cast


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
        if isinstance(a, Tensor) and (a.array.dtype is not b.array.dtype or self.true_division):
            a, b = promote(a, b, self.true_division)
        return Function.__call__(self, a, b)  # not super(): this runs for every + and *, and it is quicker
