"""Matrix multiplication, ``a @ b``, batched over leading dimensions.

For C = A B (A: n x k, B: k x m), each C_ij = sum_k A_ik B_kj, so

    dL/dA = dL/dC B^T        dL/dB = A^T dL/dC

Leading (batch) dimensions broadcast as in NumPy: (8, n, k) @ (k, m) multiplies
each of the 8 matrices by the same B. B was reused 8 times, so its gradient is
summed over the batch with ``sum_to``. A 1-D operand is a vector: it is made a
1-row (or 1-column) matrix for the product, and that dimension is removed again.

The commonest case, a batch of positions times one weight matrix (every Linear
layer), folds the batch into the rows: (64, 32, 256) @ (256, 1024) is computed as
(2048, 256) @ (256, 1024). Same result, but one large matrix product instead of
64 small ones, and dL/dB = A^T dL/dC is one product too, instead of 64
per-batch gradients that would then be summed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..autograd.function import Value
from .broadcast import sum_to
from .promotion import Binary

if TYPE_CHECKING:
    from ..tensor import Tensor


class MatMul(Binary):
    name = "matmul"  # PyTorch's name (not mat_mul)

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.operands
        return (sum_to(grad @ b.swapaxes(-1, -2), a.shape) if self.needs_grad(0) else None,
                sum_to(a.swapaxes(-1, -2) @ grad, b.shape) if self.needs_grad(1) else None)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * to multiply by a scalar")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} @ {b.shape} do not fit: the last dimension of "
                         f"the first ({a.shape[-1]}) must equal the "
                         f"{'second-to-last' if b.ndim > 1 else 'only'} dimension of the second "
                         f"({b.shape[-2 if b.ndim > 1 else 0]})")
    if a.ndim == 1:  # (k,) @ (..., k, m): a 1-row matrix; (k,) @ (k,) gives a 0-d result
        return matmul(a.unsqueeze(0), b).squeeze(-2 if b.ndim > 1 else -1)
    if b.ndim == 1:
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    if a.ndim > 2 and b.ndim == 2:  # (..., n, k) @ (k, m): one big product, not one per batch
        return MatMul()(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    return MatMul()(a, b)
