"""In-place changes and the graph: was an array a node saved for backward changed since?

A recorded node keeps the arrays its backward will read: its inputs, sometimes
its output. Change one of them in place after the forward ran (``x.mul_(2)``,
an optimizer step) and backward would compute the gradient of a function that
never ran, a silently wrong gradient. So backward refuses, as PyTorch does
("a variable needed for gradient computation has been modified by an inplace
operation").

PyTorch counts a version per tensor. Here every in-place write registers the
array it wrote, by its *owner* (the array that owns the memory: a view and its
base share it, so writing one changes the other), together with the running
count of in-place writes. A node remembers that count when it is recorded;
backward looks at a node's arrays only when the count has moved since, so a
graph built and differentiated with no in-place write in between pays a
single integer comparison per node.

Because the register is keyed by memory, not by Tensor, a write through
``t.data`` (a second Tensor on t's memory, ``w.data.mul_(2)``) is seen too.
PyTorch's ``.data`` has a version counter of its own, so there such a write goes
unnoticed and backward computes with the new values (the reason PyTorch's docs
recommend ``detach()``). Here backward refuses, as it does for any other write.
"""
from __future__ import annotations

import weakref
from typing import Any

writes = 0  # in-place writes so far, in the whole program
_written: dict[int, tuple[Any, int]] = {}  # id(owner) -> (weak reference to it, count at its last write)


def mark_written(array: Any) -> None:
    """Register an in-place write into ``array`` (call it after writing)."""
    global writes
    writes += 1
    root = owner(array)
    key = id(root)
    _written[key] = (weakref.ref(root, lambda _, key=key: _written.pop(key, None)), writes)


def written_since(array: Any, count: int) -> bool:
    """Whether ``array``'s memory was written in place after the first ``count`` writes."""
    root = owner(array)
    entry = _written.get(id(root))
    return entry is not None and entry[0]() is root and entry[1] > count


def owner(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself, unless it is a view)."""
    while isinstance(getattr(array, "base", None), type(array)):
        array = array.base
    return array


def check(node: Any) -> None:
    """Raise if an array ``node``'s backward reads was written in place after it was recorded."""
    arrays = [t.array for t in node.inputs] if node.keeps_inputs else []  # else no input is read
    arrays.append(node.out_data)
    arrays += node.saved if isinstance(node.saved, tuple) else [node.saved]
    for array in arrays:
        if array is not None and hasattr(array, "shape") and written_since(array, node.recorded_at):
            raise RuntimeError(
                f"backward through {node.name}: a tensor of shape {tuple(array.shape)} ({array.dtype}) "
                f"that its gradient needs was modified by an in-place operation after the forward "
                f"pass (a variable needed for gradient computation has been modified by an inplace "
                f"operation). Writes through t.data and `t.data = ...` count too. Change it after "
                f"backward, or change a copy (x.clone()), or use the out-of-place op (x = x * 2 "
                f"instead of x.mul_(2)).")
