"""Sorting: ``sort``, ``argsort``, ``topk`` and ``unique``, with PyTorch's order for ties and NaN.

``argsort`` finds the order; ``sort`` gives the values in that order, picked
with ``gather``'s indexing (indexing.py), so their gradient comes for free: each
sorted value came from one input, and its gradient goes back there.

    values, indices = x.sort()     values[i] = x[indices[i]]    dL/dx[indices[i]] = g[i]

Worked example: x = [3, 1, 2] sorts to values [1, 2, 3], indices [1, 2, 0]; a
gradient [a, b, c] on the values comes back to x as [c, a, b].

The order is PyTorch's, on every device:

* equal values keep the order they had in x, ascending or descending (a stable
  sort; ``stable=False`` allows any order of ties, and this one is allowed);
* NaN counts as larger than everything: last ascending, first descending.

NumPy's stable sort does both ascending. Descending is not the ascending order
read backwards (ties would come out reversed): sort x read backwards, then read
that order backwards, and ties come out first-in-x first.

``topk`` is the first k of that order (descending for the largest), so NaN is
the largest value there too, as for ``max`` and ``argmax``. (Not ``argsort(-x)``:
that ranks NaN last, and -x overflows for the smallest int64 and for every unsigned
integer but 0.)

``unique`` sorts too: equal neighbours in the sorted order are one value.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import backend
from ..tensor import Tensor
from .axes import normalize_axes
from .indexing import _pick_along
from .shape import Flip

Sort = namedtuple("sort", ["values", "indices"])  # what torch.sort returns
TopK = namedtuple("topk", ["values", "indices"])  # what torch.topk returns


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Sort:
    """The values of x sorted along ``dim``, and where each came from (int64), as torch.sort."""
    if x.ndim == 0:  # a single number, at position 0
        values, indices = sort(x.reshape(1))
        return Sort(values.reshape(()), indices.reshape(()))
    axis = normalize_axes(dim, x.ndim)[0]
    order = _order(x, axis, descending)
    return Sort(_pick_along(x, axis, order), Tensor._make(order, None))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Where each sorted value of x comes from along ``dim`` (int64), as torch.argsort."""
    if x.ndim == 0:
        return argsort(x.reshape(1)).reshape(())
    return Tensor._make(_order(x, normalize_axes(dim, x.ndim)[0], descending), None)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopK:  # noqa: A002
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
    order = _order(x, axis, descending=largest)
    with backend.on_device(x.device):
        xp = backend.xp_of(order)
        indices = xp.take(order, xp.arange(k), axis=axis)  # x's shape, k along dim
    return TopK(_pick_along(x, axis, indices), Tensor._make(indices, None))


def _order(x: Tensor, axis: int, descending: bool) -> Any:
    """The stable sorting order of x along ``axis``: an int64 array (see the module docstring)."""
    with backend.on_device(x.device):
        xp = backend.xp_of(x.array)
        if not descending:
            return xp.argsort(x.array, axis=axis, kind="stable").astype(backend.int64, copy=False)
        backwards = xp.argsort(Flip((axis,))(x.array), axis=axis, kind="stable")  # of x read backwards
        order = Flip((axis,))(backwards)  # position k of x read backwards is position n-1-k of x
        return (x.shape[axis] - 1 - order).astype(backend.int64, copy=False)


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002 - PyTorch's name
           return_counts: bool = False, dim: int | None = None) -> "Tensor | tuple[Tensor, ...]":
    """The distinct values of x in ascending order, as torch.unique (no gradient).

    With ``return_inverse``, also where each element of x is among them (int64,
    x's shape; with ``dim``, one per slice), so ``values[inverse]`` is x again; with
    ``return_counts``, how often each occurs. ``dim=None`` looks at single values
    of x flattened; ``dim=d`` at the slices along d, e.g. the distinct rows of a
    matrix for d = 0. NaN differs from every value, itself included, so each NaN
    is kept, as PyTorch keeps them. ``sorted=False`` lets PyTorch return any
    order; this returns the sorted one either way. How many values are distinct
    decides the shape, so on the GPU this reads one number back (a sync).
    """
    axes = tuple(range(x.ndim)) if dim is None else _to_front(normalize_axes(dim, x.ndim)[0], x.ndim)
    with backend.on_device(x.device):
        if dim is None:
            items = x.array.reshape(-1, 1)  # (n, 1): each value an item of its own
        else:
            items = x.array.transpose(axes).reshape(x.shape[axes[0]], -1)  # (n, numbers in a slice)
        values, inverse, counts = _distinct(items)
        if dim is None:
            values, inverse = values.reshape(-1), inverse.reshape(x.shape)
        else:  # the slices back in their own shape, the dimension back in its place
            values = values.reshape(-1, *(x.shape[d] for d in axes[1:])).transpose(_inverse(axes))
    found = [values] + [inverse] * return_inverse + [counts] * return_counts
    found = [Tensor._make(array, None) for array in found]
    return found[0] if len(found) == 1 else tuple(found)


def _distinct(items: Any) -> tuple[Any, Any, Any]:
    """The distinct rows of ``items`` (n, m) in lexicographic order, where each row is among
    them, and how often each occurs: sort the rows, then a row unlike the one before starts
    a new value."""
    xp = backend.xp_of(items)
    n, m = items.shape
    order = xp.arange(n, dtype=backend.int64)
    for column in reversed(range(m)):  # by the last column, then stably by each one before it:
        keys = items[order, column]     # the first column decides last, so it matters most
        order = order[xp.argsort(keys, kind="stable")]
    ranked = items[order]
    new = xp.full(n, True)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)  # NaN != NaN: every NaN is new
    starts = new.nonzero()[0]  # where each distinct value starts in the sorted order (the sync)
    inverse = xp.zeros(n, dtype=backend.int64)
    inverse[order] = new.cumsum() - 1  # the k-th new value is number k - 1
    bounds = xp.concatenate([starts, xp.full(1, n, dtype=starts.dtype)])  # each value's start, then n
    return ranked[starts], inverse, (bounds[1:] - bounds[:-1]).astype(backend.int64, copy=False)


def _to_front(axis: int, ndim: int) -> tuple[int, ...]:
    """The order of dimensions that moves ``axis`` to the front and keeps the others' order."""
    return (axis, *(d for d in range(ndim) if d != axis))


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)
