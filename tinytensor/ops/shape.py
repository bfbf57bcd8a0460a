"""Shape ops: the values stay the same, only their arrangement changes.

So backward only rearranges the gradient back:

    reshape(x, s)       backward: reshape(grad, x.shape)
    permute(x, axes)    backward: permute(grad, inverse of axes)
    concat([a, b], k)   backward: cut grad along k into a's and b's pieces
    flip(x, dims)       backward: flip(grad, dims)
    roll(x, s, dims)    backward: roll(grad, -s, dims)

squeeze, unsqueeze, flatten and view are reshapes; transpose and swapaxes are
permutes; stack is concat of unsqueezed tensors; split and chunk are slices;
expand is broadcast_to (broadcast.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .. import backend
from ..autograd import inplace
from ..autograd.function import Function, Value
from .conversion import Cast, Clone
from .broadcast import broadcast_to
from .axes import dims, normalize_axes, one_dim, shape_arg

if TYPE_CHECKING:
    from ..tensor import Tensor


class Reshape(Function):
    keeps_inputs = False

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.target = shape

    def forward(self, a: Any) -> Any:
        return a.reshape(self.target)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad.reshape(self.inputs[0].shape),)


class Permute(Function):
    keeps_inputs = False

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, a: Any) -> Any:
        return a.transpose(self.axes)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return (Permute(tuple(inverse))(grad),)


class Concat(Function):
    keeps_inputs = False

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *arrays: Any) -> Any:
        return backend.xp_of(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        sizes = [t.shape[self.axis] for t in self.inputs]
        return tuple(split(grad, sizes, self.axis))


def reshape(x: Tensor, *shape: Any) -> Tensor:
    shape = shape_arg(shape)
    return x if shape == x.shape else Reshape(shape)(x)


def view(x: Tensor, *shape: Any) -> Tensor:
    """reshape that never copies, as torch's view: the result shares x's memory (a write into
    one shows in the other), so a layout that cannot be read in the new shape is refused."""
    out = reshape(x, *shape)
    if x.array.size and inplace.owner(out.array) is not inplace.owner(x.array):
        raise RuntimeError(f"view: a tensor of shape {x.shape} whose memory is not laid out in that "
                           f"order cannot be seen as shape {out.shape} without a copy; use "
                           f".reshape(...) (which copies when it must) or x.contiguous().view(...)")
    return out


def expand(x: Tensor, *shape: Any) -> Tensor:
    """PyTorch's expand: broadcast_to, where -1 keeps a dimension as it is."""
    shape = shape_arg(shape)
    lead = len(shape) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape)))


def permute(x: Tensor, *axes: Any) -> Tensor:
    given = shape_arg(axes)
    axes = tuple(normalize_axes(a, x.ndim)[0] for a in given)  # out-of-range axes raise here
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {given} is not an ordering of the {x.ndim} axes of shape {x.shape}")
    return Permute(axes)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = list(range(x.ndim))
    (dim0, dim1) = normalize_axes(dim0, x.ndim)[0], normalize_axes(dim1, x.ndim)[0]
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def squeeze(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (only ``dim``, if given and of size 1)."""
    axes = normalize_axes(dims("squeeze", dim, None, axis)[0], x.ndim)
    return reshape(x, *(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (negative counts from the new end)."""
    axis = normalize_axes(one_dim("unsqueeze", dim, axis), x.ndim + 1)[0]
    return reshape(x, *x.shape[:axis], 1, *x.shape[axis:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = normalize_axes(start_dim, x.ndim)[0], normalize_axes(end_dim, x.ndim)[0]
    if start > end:  # else the reshape below would insert a dimension
        raise ValueError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim}) for shape "
                         f"{x.shape}; give start_dim <= end_dim")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def cat(tensors: Sequence[Tensor], dim: Any = None, *, axis: Any = None) -> Tensor:
    """Join tensors along ``dim`` (default 0), as torch.cat (NumPy: concatenate)."""
    axis = one_dim("cat", dim, axis, default=0)
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    floats = [t.dtype for t in tensors if backend.is_floating(t.dtype)]
    if floats:  # one float dtype for all (as promotion.promote): each gradient keeps its input's dtype
        target = max(floats, key=lambda dtype: dtype.itemsize)
        tensors = [t if t.dtype == target else Cast(target)(t) for t in tensors]
    return Concat(normalize_axes(axis, tensors[0].ndim)[0])(*tensors)


concat = cat  # NumPy's name


def stack(tensors: Sequence[Tensor], dim: Any = None, *, axis: Any = None) -> Tensor:
    """Join tensors of one shape along a new dimension ``dim`` (default 0)."""
    axis = one_dim("stack", dim, axis, default=0)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    axis = normalize_axes(axis, tensors[0].ndim + 1)[0]
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def split(x: Tensor, split_size_or_sections: "int | Sequence[int]", dim: Any = None, *,
          axis: Any = None) -> list[Tensor]:
    """Cut ``x`` along ``dim`` (default 0) into pieces of the given size (an int) or sizes (a list)."""
    axis = normalize_axes(one_dim("split", dim, axis, default=0), x.ndim)[0]
    length = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: the size of a piece must be positive, got {step}")
        sizes = [min(step, length - start) for start in range(0, length, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, but dimension {axis} "
                             f"of shape {x.shape} has length {length}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(x[(slice(None),) * axis + (slice(start, start + size),)])
        start += size
    return pieces


def chunk(x: Tensor, chunks: int, dim: Any = None, *, axis: Any = None) -> list[Tensor]:
    """``chunks`` pieces of (almost) equal length along ``dim`` (default 0), as torch.chunk."""
    axis = one_dim("chunk", dim, axis, default=0)
    if chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be positive, got {chunks}")
    length = x.shape[normalize_axes(axis, x.ndim)[0]]
    return split(x, -(-length // chunks), axis)


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix (a vector or a number stays as it is), as torch.t."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {x.shape}; "
                         f"use transpose(dim0, dim1) or mT for batches of matrices")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def unbind(x: Tensor, dim: Any = None, *, axis: Any = None) -> tuple[Tensor, ...]:
    """The slices of x along ``dim`` (default 0), each without that dimension."""
    axis = normalize_axes(one_dim("unbind", dim, axis, default=0), x.ndim)[0]
    return tuple(x[(slice(None),) * axis + (i,)] for i in range(x.shape[axis]))


def repeat(x: Tensor, *repeats: Any) -> Tensor:
    """x tiled ``repeats`` times along each dimension, as torch's Tensor.repeat (NumPy: tile)."""
    repeats = shape_arg(repeats)
    if len(repeats) < x.ndim:
        raise ValueError(f"repeat: give at least one count per dimension of shape {x.shape}, got {repeats}")
    shape = (1,) * (len(repeats) - x.ndim) + tuple(x.shape)
    interleaved = [n for size in shape for n in (1, size)]       # (1, s1, 1, s2, ...)
    copies = [n for r, size in zip(repeats, shape) for n in (r, size)]  # (r1, s1, r2, s2, ...)
    tiled = broadcast_to(x.reshape(interleaved), copies)
    return tiled.reshape(tuple(r * size for r, size in zip(repeats, shape)))


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return view(x, other.shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


# ----------------------------------------------------------------------------
# flip and roll: the same values in another order along some dimensions
# ----------------------------------------------------------------------------
#   flip(x, dims)          y[i] = x[n-1-i]    backward: flip the gradient the same way
#   roll(x, shifts, dims)  y[i] = x[i-s]      backward: roll the gradient back by -s
#
# Worked example: flip([1, 2, 3]) = [3, 2, 1]; a gradient [a, b, c] on it comes back
# as [c, b, a], since the 3 at position 0 came from position 2.
class Flip(Function):
    keeps_inputs = False

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, a: Any) -> Any:
        backwards = tuple(slice(None, None, -1) if d in self.axes else slice(None) for d in range(a.ndim))
        return a[backwards].copy()  # a copy, as torch.flip: writing into it leaves x alone

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (Flip(self.axes)(grad),)


class Roll(Function):
    keeps_inputs = False

    def __init__(self, shifts: tuple[int, ...], axes: tuple[int, ...]) -> None:
        self.shifts, self.axes = shifts, axes

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).roll(a, self.shifts, axis=self.axes)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (Roll(tuple(-s for s in self.shifts), self.axes)(grad),)


def flip(x: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """x with the order of ``dims`` reversed, as torch.flip (``x.flip(0, 1)`` or ``x.flip([0, 1])``)."""
    given = shape_arg(args) if args else (dims,) if isinstance(dims, int) else tuple(dims or ())
    axes = [normalize_axes(d, x.ndim)[0] for d in given]
    if len(set(axes)) < len(axes):
        raise ValueError(f"flip: dims {given} name a dimension twice (for shape {x.shape}); give each once")
    return Flip(tuple(axes))(x)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """x shifted ``shifts`` places along ``dims``, the ones that fall off the end coming back at the start,
    as torch.roll; without ``dims``, along x flattened, then reshaped back."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims there is one (flattened) dimension to roll, so give one "
                             f"shift, not {len(shifts)}; or give dims, one per shift")
        return Roll(shifts, (0,))(x.reshape(-1)).reshape(x.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: give one shift per dimension, got shifts={shifts} and dims={dims}")
    axes = tuple(normalize_axes(d, x.ndim)[0] for d in dims)
    return Roll(shifts, axes)(x) if x.ndim else Clone()(x)  # a single number rolls onto itself
