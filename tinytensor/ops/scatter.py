"""Writing at indices: ``scatter``, ``scatter_add`` and ``index_fill``, gather's opposites.

``gather`` reads ``out[i][j] = x[i][index[i][j]]`` (dim=1); ``scatter`` writes
there instead, into a copy of x:

    out = x;  out[i][index[i][j]] = src[i][j]              (scatter, dim=1)
    out = x;  out[i][index[i][j]] += src[i][j]             (scatter_add, or reduce="add")
    out = x;  out[..., index[k], ...] = value              (index_fill, every slice index names)

Derivatives (g = dL/dout):

    dL/dx   = g where nothing was written, 0 where src overwrote x   (scatter_add: g everywhere)
    dL/dsrc = g read back where each src[i][j] went: gather(g, dim, index)
    dL/dvalue (index_fill with a 0-d tensor) = the sum of g over the filled positions

Worked example: x = [0, 0, 0], index = [2, 0], src = [5, 7] gives out = [7, 0, 5];
with g = [a, b, c], x gets [0, b, 0] (its 0 and 2 were overwritten) and src gets
[c, a], the gradients of the places they went to.

Where index names one position twice, scatter keeps one of the values written
there, which one is not defined (as in PyTorch), and every src element still
gets the gradient of where it went, as PyTorch's does; scatter_add adds them all.
The in-place forms, ``scatter_``, ``scatter_add_`` and ``index_fill_``, are in inplace.py.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value, mask_like
from ..tensor import Tensor
from .axes import normalize_axes
from .indexing import GetItem, IndexAdd, check_range, checked_index, integer_ids, positions_along
from .selection import where


class Scatter(Function):
    """x with ``src[block]`` written (or added, ``accumulate``) at ``positions`` (see ``prepare``)."""

    keeps_inputs = False  # backward reads only the shapes

    def __init__(self, positions: tuple[Any, ...], block: tuple[slice, ...], accumulate: bool) -> None:
        self.positions, self.block, self.accumulate = positions, block, accumulate

    @property
    def name(self) -> str:
        return "scatter_add" if self.accumulate else "scatter"

    def forward(self, a: Any, src: Any) -> Any:
        out = a.copy()
        self.write_into(out, src)
        return out

    def write_into(self, out: Any, src: Any) -> None:
        """out[positions] = src, or += with repeated positions adding up: forward's work, and scatter_'s."""
        if self.accumulate:
            backend.scatter_add(out, self.positions, src[self.block])
        else:
            out[self.positions] = src[self.block]

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x, src = self.inputs
        grad_x = grad_src = None
        if self.needs_grad(0):
            grad_x = grad if self.accumulate else grad * mask_like(self._kept(x), grad)
        if self.needs_grad(1):  # each src element's gradient is that of where it went; 0 beyond index
            grad_src = IndexAdd(src.shape, self.block)(GetItem(self.positions)(grad))
        return grad_x, grad_src

    def _kept(self, x: Any) -> Any:
        """True where x's value survived: everywhere but the positions written."""
        kept = backend.full(x.shape, True, bool, x.device)
        kept[self.positions] = False
        return kept


def prepare(op: str, x: Tensor, dim: int, index: Any, src: Any, value: Any,
            reduce: str | None) -> tuple[Scatter, Tensor]:
    """Check scatter's arguments by PyTorch's rules; return the op that writes, and src as a Tensor.

    index has x's number of dimensions (and src's; 0-d counts as 1-d); along every dimension it is no
    longer than src, and along every dimension but ``dim`` no longer than x; its
    values are positions 0..x.shape[dim]-1 (no negatives: PyTorch refuses them).
    """
    if reduce not in (None, "add"):
        raise ValueError(f"{op}: reduce={reduce!r} is not supported: tinytensor has reduce='add' "
                         f"(the same as scatter_add), and no product, which CuPy cannot do at "
                         f"repeated positions (it has no multiply.at)")
    if (src is None) == (value is None):
        raise TypeError(f"{op}: give the values to write once, as src (a tensor) or value (a number)")
    if x.ndim == 0:
        raise ValueError(f"{op}: needs a tensor with at least one dimension, got a 0-d one; "
                         f"use x.reshape(1)")
    ids = integer_ids(op, index, x.device)
    axis = normalize_axes(dim, x.ndim)[0]
    if ids.ndim == 0 and x.ndim == 1:  # one position, as a 0-d tensor: PyTorch counts it as 1-d
        ids = ids.reshape(1)
        src = src.reshape(1) if isinstance(src, Tensor) else src
    if ids.ndim != x.ndim:
        raise ValueError(f"{op}: index must have as many dimensions as the input, got index shape "
                         f"{ids.shape} for input shape {x.shape}")
    if isinstance(src, Tensor):
        if src.dtype != x.dtype:
            raise TypeError(f"{op}: src is {src.dtype} but the input is {x.dtype}; PyTorch requires "
                            f"one dtype: convert src with src.to(tinytensor.{x.dtype})")
        if src.device != x.device:
            raise RuntimeError(f"{op}: the input is on {x.device} but src on {src.device}; move src "
                               f"with .to('{x.device}')")
        if src.ndim != ids.ndim:
            raise ValueError(f"{op}: index must have as many dimensions as src, got index shape "
                             f"{ids.shape} for src shape {src.shape}")
    else:
        number = src if value is None else value
        if isinstance(number, Tensor):
            raise TypeError(f"{op}: value must be a number; for a tensor of values, pass it as src")
        src = Tensor._make(backend.full(ids.shape, number, x.dtype, x.device), None)
    if any(n > x.shape[d] for d, n in enumerate(ids.shape) if d != axis) or \
            any(n > m for n, m in zip(ids.shape, src.shape)):
        raise ValueError(f"{op}: index of shape {ids.shape} is too large: it may be no larger than "
                         f"the input {x.shape} outside dimension {axis}, and no larger than src "
                         f"{src.shape} anywhere")
    check_range(op, ids, x.shape[axis], f"index {{}} is out of range for dimension {axis} of size "
                                        f"{x.shape[axis]}")
    block = tuple(slice(0, n) for n in ids.shape)  # the part of src that is written
    return Scatter(positions_along(axis, ids, x.device), block, reduce == "add"), src


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """A copy of x with src (a tensor) or value (a number) written at ``index`` along ``dim``, as
    torch.scatter; ``reduce="add"`` adds instead of writing. Differentiable in x and src."""
    op, src = prepare("scatter", x, dim, index, src, value, reduce)
    return op(x, src)


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of x with src added at ``index`` along ``dim`` (repeated positions add up), as
    torch.scatter_add."""
    return scatter(x, dim, index, src, reduce="add")


def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """A copy of x with every slice along ``dim`` that ``index`` names (1-D or 0-d, negatives count
    from the end) filled with ``value``, as torch.index_fill: a number, or a 0-d tensor that then
    gets the gradient of every filled position."""
    filled = filled_slices("index_fill", x, dim, index)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.to(x.dtype)
    else:
        value = Tensor._make(backend.full((), value, x.dtype, x.device), None)  # x's dtype, as PyTorch
    return where(filled, value, x)


def filled_slices(op: str, x: Tensor, dim: int, index: Any) -> Any:
    """A boolean array, True on every slice along ``dim`` that ``index`` names, broadcastable to x."""
    ids = integer_ids(op, index, x.device)
    if ids.ndim > 1:
        raise ValueError(f"{op}: index must be 1-D or 0-d (positions along dim), got shape {ids.shape}")
    axis = normalize_axes(dim, x.ndim)[0]
    picks = checked_index(op, x, (slice(None),) * axis + (ids.reshape(-1),))  # -n..n-1, as PyTorch
    filled = backend.full(x.shape[axis:axis + 1], False, bool, x.device)  # (n,) along dim
    with backend.on_device(x.device):
        filled[picks[axis]] = True
    return filled.reshape(tuple(n if d == axis else 1 for d, n in enumerate(x.shape)))
