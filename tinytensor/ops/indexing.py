"""Indexing, ``x[index]``, and its backward: putting the gradient back where it came from.

Forward picks elements: ``x[[0, 2, 0]]`` takes rows 0, 2 and 0 again. Backward
starts from zeros shaped like x and *adds* each gradient row at the position it
was taken from. Row 0 was taken twice, so it receives the sum of both
gradients: that is why this uses scatter-add (``backend.scatter_add``), not a
plain assignment, whenever the index holds integer arrays that may repeat.

``IndexAdd`` (zeros, then scatter-add) is itself an op whose backward is
indexing again, so second derivatives pass through indexing too.

``gather(x, dim, index)`` (PyTorch's) and ``topk`` are indexing as well: they
build the index and let ``GetItem`` pick, so their gradients come for free.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor
from .axes import normalize_axes


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return backend.as_array(index)
    return index


def _may_repeat(index: Any) -> bool:
    """Whether some position can be picked twice (an integer array in the index)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(getattr(p, "dtype", None) is not None and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    def __init__(self, index: Any) -> None:
        self.index = _plain_index(index)

    @property
    def name(self) -> str:
        return "getitem"

    def forward(self, a: Any) -> Any:
        return a[self.index]

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (IndexAdd(self.inputs[0].shape, self.index)(grad),)


class IndexAdd(Function):
    """zeros(shape), then add ``values`` at ``index`` (repeated positions accumulate)."""

    def __init__(self, shape: tuple[int, ...], index: Any) -> None:
        self.target, self.index = shape, index

    def forward(self, values: Any) -> Any:
        out = backend.xp_of(values).zeros(self.target, dtype=values.dtype)
        if _may_repeat(self.index):
            backend.scatter_add(out, self.index, values)
        else:
            out[self.index] = values
        return out

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (GetItem(self.index)(grad),)


# ----------------------------------------------------------------------------
# Integer indices: checked, because NumPy wraps negative ones around silently
# ----------------------------------------------------------------------------
def integer_ids(op: str, ids: Any, device: Any) -> Any:
    """Token ids or class labels as an integer array on ``device`` (where the data is)."""
    ids = ids.data if isinstance(ids, Tensor) else backend.as_array(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {ids.dtype}; use .long()")
    return backend.to_device(ids, device)


def check_range(op: str, ids: Any, size: int, problem: str) -> None:
    """Every id must be in 0..size-1 (NumPy would wrap negatives around, silently).

    ``problem`` describes a bad id, with ``{}`` where its value goes.
    """
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= size:
            raise IndexError(f"{op}: {problem.format(low if low < 0 else high)} "
                             f"(valid: 0..{size - 1})")


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``out[i][j] = x[i][index[i][j]]`` for dim=1 (any rank, as torch.gather); differentiable in x.

    index has x's number of dimensions; along every other dimension it may be shorter.
    """
    ids = integer_ids("gather", index, x.device)
    if ids.ndim != x.ndim:
        raise ValueError(f"gather: index must have as many dimensions as the input, got index "
                         f"shape {ids.shape} for input shape {x.shape}")
    dim = normalize_axes(dim, x.ndim)[0]
    if any(n > x.shape[d] for d, n in enumerate(ids.shape) if d != dim):
        raise ValueError(f"gather: index shape {ids.shape} is larger than input shape {x.shape} "
                         f"outside dimension {dim}")
    check_range("gather", ids, x.shape[dim], f"index {{}} is out of range for dimension {dim} "
                                             f"of size {x.shape[dim]}")
    xp = backend.xp_of(ids)
    # One integer array per dimension, broadcast together: dimension `dim` takes index,
    # every other dimension d takes arange(n_d) laid along axis d.
    picks = tuple(ids if d == dim else
                  xp.arange(n).reshape([n if e == d else 1 for e in range(ids.ndim)])
                  for d, n in enumerate(ids.shape))
    return GetItem(picks)(x)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (1-D integer ids) along ``dim``, in that order, as torch.index_select."""
    dim = normalize_axes(dim, x.ndim)[0]
    ids = integer_ids("index_select", index, x.device)
    check_range("index_select", ids, x.shape[dim], f"index {{}} is out of range for dimension {dim} "
                                                    f"of size {x.shape[dim]}")
    return GetItem((slice(None),) * dim + (ids,))(x)


TopK = namedtuple("topk", ["values", "indices"])  # what torch.topk returns


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopK:
    """The k largest (or smallest) entries along ``dim`` and their indices, as torch.topk.

    ``values`` carries the gradient (to the entries picked); ``indices`` is int64.
    Ties keep the lower index first. Results are always sorted (``sorted`` is accepted
    for PyTorch's signature).
    """
    if x.ndim == 0:  # a number is its own top 1, as in PyTorch
        values, indices = topk(x.reshape(1), k, 0, largest)
        return TopK(values.reshape(()), indices.reshape(())) if k else TopK(values, indices)
    if not 0 <= k <= x.shape[dim]:
        raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size "
                         f"{x.shape[dim]} (input shape {x.shape})")
    xp = backend.xp_of(x.data)
    order = xp.argsort(-x.data if largest else x.data, axis=dim, kind="stable")
    indices = xp.take(order, xp.arange(k), axis=dim).astype(backend.int64)  # x's shape, k along dim
    return TopK(gather(x, dim, indices), Tensor._make(indices, None))
