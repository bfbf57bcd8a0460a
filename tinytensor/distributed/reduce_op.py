"""ReduceOp: how a reducing collective combines the ranks' values, element by element.

    SUM   x_0 + x_1 + ... + x_{N-1}
    AVG   (x_0 + x_1 + ... + x_{N-1}) / N      the mean of the ranks' gradients
    MAX   the largest of the N values
    MIN   the smallest

For bool tensors, as PyTorch's NCCL backend: SUM and MAX are a logical or (True
when any rank has True), MIN a logical and (True when every rank has True); AVG
has no boolean meaning and is refused. AVG of integers is refused too: the mean
of integers is not an integer, and a rounding rule picked here would be a silent
surprise (sum with SUM and divide as you mean to).
"""
from __future__ import annotations

import enum
from typing import Any


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


def checked(what: str, op: Any, dtype: Any) -> ReduceOp:
    """``op`` as a ReduceOp, or a clear error when it is none or has no meaning for ``dtype``."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{what}: op must be a tinytensor.distributed.ReduceOp (SUM, AVG, MAX, MIN), "
                        f"got {op!r}")
    if op is ReduceOp.AVG and dtype.kind == "b":
        raise TypeError(f"{what}: cannot use ReduceOp.AVG with boolean inputs (SUM or MAX is a "
                        f"logical or, MIN a logical and)")
    if op is ReduceOp.AVG and dtype.kind != "f":
        raise TypeError(f"{what}: ReduceOp.AVG of {dtype} tensors: the mean of integers is not an "
                        f"integer; use ReduceOp.SUM and divide, or all_reduce a float tensor")
    return op
