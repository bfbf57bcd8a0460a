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

``mm`` and ``bmm`` are matmul for exactly two matrices and for exactly two
batches of B matrices, as PyTorch defines them; ``outer(a, b)`` is the column
a times the row b, (n, 1) * (1, m), so its gradient is Mul's.
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


# ----------------------------------------------------------------------------
# mm, bmm and outer: products with PyTorch's stricter shapes (matmul broadcasts, these do not)
# ----------------------------------------------------------------------------
def mm(a: Tensor, b: Tensor) -> Tensor:
    """(n, k) @ (k, m), two matrices exactly, as torch.mm."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two matrices (2-D), got shapes {a.shape} and {b.shape}; use "
                         f"matmul (or @) for vectors and batches, or bmm for batches of matrices")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """(B, n, k) @ (B, k, m): B matrix products side by side, as torch.bmm.

    Both must be 3-D with the same B, and no dimension broadcasts; matmul (or @)
    is the product that broadcasts.
    """
    for name, t in (("batch1", a), ("batch2", b)):
        if t.ndim != 3:
            raise ValueError(f"bmm: {name} must be a 3-D tensor (batch, rows, columns), got shape "
                             f"{t.shape}; use matmul (or @), which broadcasts, for other shapes")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise ValueError(f"bmm: batch1 of shape {a.shape} needs batch2 of shape ({a.shape[0]}, "
                         f"{a.shape[2]}, m): the same batch size, and as many rows as batch1 has "
                         f"columns; got {b.shape}")
    return MatMul()(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """out[i, j] = a[i] b[j] for two vectors, as torch.outer; its gradient is Mul's."""
    for name, t in (("first", a), ("second", b)):
        if t.ndim != 1:
            raise ValueError(f"outer: expects two vectors (1-D); the {name} has shape {t.shape}. "
                             f"Flatten it first (x.flatten()) if an outer product of all its values is meant")
    return a.reshape(-1, 1) * b.reshape(1, -1)  # (n, 1) * (1, m) -> (n, m)
