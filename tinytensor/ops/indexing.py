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

Integer indices are checked before anything is picked, because the two array
libraries disagree about an index past the end: NumPy raises IndexError, CuPy
wraps it around (index 7 of 5 rows is row 2) and trains on the wrong row
without a word. So ``x[index]``, ``gather``, ``index_select``, embedding,
one_hot and cross_entropy's targets raise one IndexError, the same on every
device. On the GPU the check costs one host-device sync per call: the whole
verdict is reduced to one boolean on the device, and only that is read.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import backend
from ..autograd.function import Function, Value
from ..tensor import Tensor
from .axes import normalize_axes


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``."""
    return GetItem(checked_index("getitem", x, index))(x)


def checked_index(op: str, x: Tensor, index: Any) -> Any:
    """``index`` as arrays on x's device, every integer in it range-checked: numbers on the
    host, arrays on the device with one sync (``x[index]`` and ``x[index] = value`` use it)."""
    index = _plain_index(index, x.device)
    numbers, arrays = [], []
    for part in _integer_parts(index, x.shape):
        (numbers if isinstance(part[0], int) else arrays).append(part)
    for i, dim, size in numbers:
        if not -size <= i < size:
            raise IndexError(_out_of_range(op, i, dim, size))
    if arrays:
        _check_arrays(op, arrays)
    return index


def _plain_index(index: Any, device: Any) -> Any:
    """Tensors and lists inside an index become arrays on ``device``, where x is.

    A tensor's array is copied: backward uses the index again, and the tensor could be
    changed in place (idx.add_(1)) before it runs.
    """
    if isinstance(index, tuple):
        return tuple(_plain_index(i, device) for i in index)
    if isinstance(index, Tensor):
        return _own_copy(index.array, device)
    if isinstance(index, list):
        return backend.as_array(index, device=device)
    return index


def _integer_parts(index: Any, shape: tuple[int, ...]) -> list[tuple[Any, int, int]]:
    """(integer or integer array, dimension, its size) for each integer entry of the index."""
    parts = index if isinstance(index, tuple) else (index,)
    dims = [0 if p is None or p is Ellipsis else p.ndim if _is_mask(p) else 1 for p in parts]
    found, dim = [], 0
    for part, used in zip(parts, dims):
        if part is Ellipsis:
            dim += len(shape) - sum(dims)
        elif _is_integer(part) and dim < len(shape):
            found.append((part, dim, shape[dim]))
        dim += used
    return found


def _is_integer(part: Any) -> bool:
    if isinstance(part, int):
        return not isinstance(part, bool)
    return getattr(part, "dtype", None) is not None and part.dtype.kind in "iu"


def _is_mask(part: Any) -> bool:
    return getattr(part, "dtype", None) is not None and part.dtype.kind == "b"


def _check_arrays(op: str, parts: list[tuple[Any, int, int]]) -> None:
    """Each index array must hold -size..size-1 for its dimension (negatives count from the end)."""
    with backend.on_device(backend.device_of(parts[0][0])):
        flags = [((ids < -size) | (ids >= size)).any() for ids, _, size in parts if ids.size]
        if not flags or not _any(flags):  # the one host-device sync
            return
        for ids, dim, size in parts:
            bad = (ids < -size) | (ids >= size)
            if bad.any():
                raise IndexError(_out_of_range(op, int(ids[bad][0]), dim, size))


def _any(flags: list[Any]) -> bool:
    """Whether some of the 0-d device booleans is true, read from the device at once."""
    verdict = flags[0]
    for flag in flags[1:]:
        verdict = verdict | flag
    return bool(verdict)


def _out_of_range(op: str, index: int, dim: int, size: int) -> str:
    return (f"{op}: index {index} is out of range for dimension {dim} of size {size} "
            f"(valid: {-size}..{size - 1})")


def _may_repeat(index: Any) -> bool:
    """Whether some position can be picked twice (an integer array in the index)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(getattr(p, "dtype", None) is not None and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """``a[index]`` for an index of arrays on a's device, already checked (``getitem``)."""

    keeps_inputs = False

    def __init__(self, index: Any) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return "getitem"

    def forward(self, a: Any) -> Any:
        return a[self.index]

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (IndexAdd(self.inputs[0].shape, self.index)(grad),)


class IndexAdd(Function):
    """zeros(shape), then add ``values`` at ``index`` (repeated positions accumulate)."""

    keeps_inputs = False

    def __init__(self, shape: tuple[int, ...], index: Any) -> None:
        self.target, self.index = shape, index

    def forward(self, values: Any) -> Any:
        out = backend.xp_of(values).zeros(self.target, dtype=values.dtype)
        if _may_repeat(self.index):
            backend.scatter_add(out, self.index, values)
        else:
            out[self.index] = values
        return out

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (GetItem(self.index)(grad),)


# ----------------------------------------------------------------------------
# Ids and labels: 0..size-1, checked (NumPy wraps negative ones around, CuPy every one)
# ----------------------------------------------------------------------------
def integer_ids(op: str, ids: Any, device: Any) -> Any:
    """Token ids or class labels as an integer array on ``device`` (where the data is), of the
    op's own: a copy of a tensor's, which could be changed in place before backward reads it."""
    array = ids.array if isinstance(ids, Tensor) else backend.as_array(ids)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {array.dtype}; use .long()")
    return _own_copy(array, device) if isinstance(ids, Tensor) else backend.to_device(array, device)


def _own_copy(array: Any, device: Any) -> Any:
    """``array`` on ``device``, in memory of its own (moving copies; staying needs a copy)."""
    moved = backend.to_device(array, backend.Device(device))
    return backend.copy(moved) if moved is array else moved


def check_range(op: str, ids: Any, size: int, problem: str, ignore: int | None = None) -> None:
    """Every id must be in 0..size-1, except those equal to ``ignore``; one host-device sync.

    ``problem`` describes a bad id, with ``{}`` where its value goes.
    """
    if not ids.size:
        return
    with backend.on_device(backend.device_of(ids)):
        bad = (ids < 0) | (ids >= size)
        if ignore is not None:
            bad &= ids != ignore
        if bad.any():  # the one sync; reading the culprit after it costs only a failing call
            raise IndexError(f"{op}: {problem.format(int(ids[bad][0]))} (valid: 0..{size - 1})")


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
    return _pick_along(x, dim, ids)


def _pick_along(x: Tensor, dim: int, ids: Any) -> Tensor:
    """gather without the check, for indices known to be in range (topk's)."""
    return GetItem(positions_along(dim, ids, x.device))(x)


def positions_along(dim: int, ids: Any, device: Any) -> tuple[Any, ...]:
    """The index of the positions ``ids`` names along ``dim`` (gather reads them, scatter writes them).

    One integer array per dimension, broadcast together: dimension ``dim`` takes
    ids, every other dimension d takes arange(n_d) laid along axis d.
    """
    return tuple(ids if d == dim else
                 backend.arange(0, n, 1, backend.int64, device).reshape(
                     [n if e == d else 1 for e in range(ids.ndim)])
                 for d, n in enumerate(ids.shape))


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
    axis = normalize_axes(dim, x.ndim)[0]  # a bad dim raises here, naming itself
    if not 0 <= k <= x.shape[axis]:
        raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size "
                         f"{x.shape[axis]} (input shape {x.shape})")
    dim = axis
    with backend.on_device(x.device):
        xp = backend.xp_of(x.array)
        order = xp.argsort(-x.array if largest else x.array, axis=dim, kind="stable")
        indices = xp.take(order, xp.arange(k), axis=dim).astype(backend.int64)  # x's shape, k along dim
    return TopK(_pick_along(x, dim, indices), Tensor._make(indices, None))


# ----------------------------------------------------------------------------
# diag: a vector onto a matrix's diagonal, or a matrix's diagonal out as a vector
# ----------------------------------------------------------------------------
#   diag(matrix, k)   picks matrix[i, i + k]: GetItem, whose backward puts the gradient back there
#   diag(vector, k)   puts vector[i] at [i, i + k] of zeros: PutDiagonal, whose backward picks it again
#
# Worked example: diag([1, 2], 1) = [[0, 1, 0], [0, 0, 2], [0, 0, 0]], and diag of that with
# k = 1 is [1, 2] again; a gradient G on the matrix reaches the vector as [G[0, 1], G[1, 2]].
class PutDiagonal(Function):
    """zeros((size, size)), then the vector written at ``index`` (the positions of one diagonal)."""

    keeps_inputs = False
    name = "diag"

    def __init__(self, size: int, index: tuple[Any, Any]) -> None:
        self.size, self.index = size, index

    def forward(self, v: Any) -> Any:
        out = backend.xp_of(v).zeros((self.size, self.size), dtype=v.dtype)
        out[self.index] = v  # each position once, so a plain write (CuPy's add.at refuses bools)
        return out

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (GetItem(self.index)(grad),)


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """As torch.diag: a 1-D x becomes the square matrix with x on diagonal ``diagonal`` (0 the main
    one, k > 0 above it, k < 0 below) and zeros elsewhere; a 2-D x gives that diagonal as a vector."""
    if x.ndim == 1:
        n = x.shape[0]
        return PutDiagonal(n + abs(diagonal), _diagonal(n, max(-diagonal, 0), diagonal, x.device))(x)
    if x.ndim == 2:
        rows, columns = x.shape
        first = max(-diagonal, 0)  # the first row the diagonal crosses
        length = max(0, min(rows, columns - diagonal) - first)
        return GetItem(_diagonal(length, first, diagonal, x.device))(x)
    raise ValueError(f"diag: expects a vector (1-D) or a matrix (2-D), got shape {x.shape}")


def _diagonal(length: int, first_row: int, diagonal: int, device: Any) -> tuple[Any, Any]:
    """(rows, columns) of the ``length`` positions [i, i + diagonal] from row ``first_row`` on."""
    rows = backend.arange(first_row, first_row + length, 1, backend.int64, device)
    return rows, rows + diagonal
