"""``out=``: a function's result written into a tensor the caller gives, as ``torch.mul(a, b, out=c)``.

PyTorch lets a function write its result into existing memory. Here the
result is computed as usual, then copied into ``out`` with ``copy_`` (so the
in-place rules of inplace.py hold), and ``out`` is returned. PyTorch's rules:

* no gradient flows through ``out=``: an input that requires grad, while the
  graph is recorded, is refused (compute ``c = a * b`` instead);
* the result must fit ``out``'s kind: a float result into an integer ``out`` is
  refused, an integer one into a float ``out`` is cast;
* an ``out`` of another shape is resized (with a warning unless it was empty).
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from ..autograd import grad_mode
from ..tensor import Tensor
from .inplace import copy_

KINDS = "biuf"  # bool, then integers, then floats: a result may go into its own kind or a later one


def accepts_out(function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``function`` taking ``out=`` too (tinytensor/__init__.py wraps add, mul, matmul... with it)."""
    @functools.wraps(function)
    def with_out(*args: Any, out: Tensor | None = None, **kwargs: Any) -> Tensor:
        result = function(*args, **kwargs)
        return result if out is None else write_out(function.__name__, out, result)
    return with_out


def write_out(op: str, out: Any, result: Tensor) -> Tensor:
    """Copy ``result`` into ``out`` by PyTorch's rules (the module docstring), and return ``out``."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_mode.is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad. Write the result "
                           f"to a new tensor (c = {op}(a, b)), or work under no_grad")
    if KINDS.index(result.dtype.kind) > KINDS.index(out.dtype.kind):
        raise RuntimeError(f"{op}(): result type {result.dtype} can't be cast to the desired output "
                           f"type {out.dtype}")
    if out.device != result.device:
        raise RuntimeError(f"{op}(): expected the out tensor on {result.device}, where the inputs are, "
                           f"but it is on {out.device}")
    if out.shape != result.shape:
        if out.numel():
            warnings.warn(f"{op}(): an output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}", UserWarning, stacklevel=3)
        out.data = result.to(out.dtype)  # new memory of the right shape, as PyTorch resizes
        return out
    return copy_(out, result)
