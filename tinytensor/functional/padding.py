"""pad: widen a tensor at its edges (as torch.nn.functional.pad), e.g. a causal convolution's
left context or a batch of images' border.

``pad`` lists (before, after) pairs starting from the *last* dimension:
``pad(x, (1, 2))`` adds 1 column on the left and 2 on the right of every row;
``pad(x, (1, 2, 3, 4))`` also adds 3 rows above and 4 below. A negative number
crops instead (before anything is added, as PyTorch does). What fills the new
places is the mode's, shown on [a, b, c, d] with (2, 2):

    constant    v v a b c d v v      value (default 0)
    reflect     c b a b c d c b      mirrored at the edge, the edge itself not repeated
    replicate   a a a b c d d d      the edge repeated
    circular    c d a b c d a b      wrapped around

Every mode is made of ops that are already differentiable, one dimension at
a time: ``constant`` joins blocks of the value before and after (``cat``), the
others pick, for each new position, the position of the input it copies
(``index_select``), so a copied element's gradient is the sum over its copies.
"""
from __future__ import annotations

from typing import Sequence

from ..backend import int64
from ..creation import full, tensor
from ..ops.indexing import index_select
from ..ops.shape import cat
from ..tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",  # noqa: A002 - PyTorch's names
        value: float | None = None) -> Tensor:
    """``input`` padded by ``pad`` = (last_before, last_after, second_last_before, ...), as PyTorch's."""
    if mode not in MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; tinytensor has "
                                  f"{', '.join(map(repr, MODES))}")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2 (before, after pairs), got "
                           f"pad={pad}")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length should be less than or equal to two times the input "
                           f"dimension, but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode != "constant" and value not in (None, 0):
        raise RuntimeError(f'pad: padding mode "{mode}" doesn\'t take in value argument (got '
                           f'value={value})')
    out = input
    for i in range(len(pad) // 2):
        dim, before, after = input.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        if mode in ("constant", "circular"):  # crop the negative sides first, then add to the rest
            out = _crop(out, dim, -min(before, 0), -min(after, 0))
            before, after = max(before, 0), max(after, 0)
        if mode == "constant":
            out = _pad_constant(out, dim, before, after, 0 if value is None else value)
        elif before or after:  # reflect and replicate count positions in the uncropped input, as PyTorch
            sources = _sources(mode, out.shape[dim], before, after, dim, input.shape)
            out = index_select(out, dim, tensor(sources, dtype=int64, device=out.device))
    padded = out.shape[input.ndim - len(pad) // 2:]
    if mode in ("reflect", "replicate") and padded and not any(padded):
        raise RuntimeError(f"pad: input {tuple(input.shape)} is too small for {mode} padding {tuple(pad)}: "
                           f"every padded dimension would be empty")
    return out


def _crop(x: Tensor, dim: int, before: int, after: int) -> Tensor:
    """``x`` without ``before`` places at the start of dimension ``dim`` and ``after`` at its end."""
    size = x.shape[dim]
    if before + after > size:
        raise RuntimeError(f"pad: cropping {before} and {after} places from dimension {dim} of size {size} "
                           f"would leave a negative size")
    return x[(slice(None),) * dim + (slice(before, size - after),)] if before or after else x


def _pad_constant(x: Tensor, dim: int, before: int, after: int, value: float) -> Tensor:
    """Join blocks of ``value``, ``before`` places long and ``after`` places long, to the two sides."""
    def block(n: int) -> list[Tensor]:  # n places of value along dim, or nothing
        shape = (*x.shape[:dim], n, *x.shape[dim + 1:])
        return [full(shape, value, dtype=x.dtype, device=x.device)] if n > 0 else []
    parts = [*block(before), x, *block(after)]
    return cat(parts, dim) if len(parts) > 1 else x


def _sources(mode: str, size: int, before: int, after: int, dim: int, shape: tuple[int, ...]) -> list[int]:
    """For each position of the padded dimension, the input position it copies (PyTorch's limits).

    Positions run from -before to size + after - 1 (a negative before or after crops).
    """
    if size == 0:
        raise RuntimeError(f"pad: {mode} padding needs a non-empty dimension {dim}, got input shape "
                           f"{tuple(shape)}")
    if mode == "reflect" and (before >= size or after >= size):
        raise RuntimeError(f"pad: reflect padding size should be less than the corresponding input "
                           f"dimension, but got padding ({before}, {after}) at dimension {dim} of input "
                           f"{tuple(shape)}")
    if mode == "circular" and (before > size or after > size):  # PyTorch would copy unset memory
        raise RuntimeError(f"pad: circular padding ({before}, {after}) at dimension {dim} of input "
                           f"{tuple(shape)} would wrap around more than once")
    if size + before + after < 0:
        raise RuntimeError(f"pad: cropping ({before}, {after}) at dimension {dim} of input {tuple(shape)} "
                           f"would leave a negative size")
    positions = range(-before, size + after)
    if mode == "reflect":
        return [-p if p < 0 else 2 * (size - 1) - p if p >= size else p for p in positions]
    if mode == "replicate":
        return [min(max(p, 0), size - 1) for p in positions]
    return [p % size for p in positions]
