"""Describing a tensor in a few words: what a node of the picture prints.

micrograd prints every value and gradient in full, because each is one number.
A tensor can hold millions, so the pictures follow one rule:

* a tensor with at most ``FEW`` elements shows its numbers, ``[0.5000, -1.5000]``;
* a bigger one shows the size of its gradient instead, the norm
  ``|grad| = sqrt(sum of g_i^2)``, printed ``|grad| 3.2100`` (its shape is on
  the line above).

The norm is the one number that says "how much gradient arrived here", which is
what a learner looks for when gradients vanish or explode.
"""
from __future__ import annotations

from typing import Any

from tinytensor import backend

FEW = 4  # tensors this small are printed element by element


def norm(array: Any) -> float:
    """The Euclidean norm of an array of any shape, accumulated in float64.

    float64 because squaring a float32 gradient of 1e20 would overflow to inf.
    Works on NumPy and CuPy arrays alike (``float`` copies the one number back).
    """
    wide = array.astype(backend.float64)
    return float((wide * wide).sum()) ** 0.5


def number(value: float) -> str:
    """4 decimals as micrograd prints them, or scientific notation when that would hide the value."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:.2e}"


def numbers(array: Any) -> str:
    """``0.7071`` for one element, ``[0.5000, -1.5000]`` for a few."""
    flat = backend.to_host(array).ravel().tolist()
    if len(flat) == 1 and array.ndim == 0:
        return number(flat[0])
    return "[" + ", ".join(number(v) for v in flat) + "]"


def is_few(array: Any) -> bool:
    return array is not None and array.size <= FEW  # None: a value the graph did not keep


def gradient(array: Any) -> str:
    """What a node says about its gradient: the values when few, else the norm."""
    if is_few(array):
        return f"grad {numbers(array)}"
    return f"|grad| {number(norm(array))}"


def shape(dims: tuple[int, ...], dtype: Any) -> str:
    """``(4, 8) float32``, ``(4,) float32`` (Python's own tuple, comma and all); a 0-d tensor says ``scalar``.

    ``str(tuple(dims))`` is what ``x.shape`` prints, so a 1-d shape reads ``(4,)``, not ``(4)``,
    which would look like the number 4 in brackets.
    """
    size = "scalar" if len(dims) == 0 else str(tuple(int(d) for d in dims))
    return f"{size} {dtype}"
