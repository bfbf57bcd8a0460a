"""In-place operations: ``x.add_(y)``, ``x.mul_(2)``, ``x.zero_()``, ``w.normal_(0, 0.02)``...

An in-place op writes its result into the tensor's own memory instead of a new
array, and returns the tensor itself (PyTorch's trailing underscore; ``x += y``,
``x -= y``, ``x *= y`` and ``x /= y`` are the same ops, and ``x[index] = value``
writes part of x). They are what
initialization and hand-written optimizers use:

    with tinytensor.no_grad():
        w -= lr * w.grad               # w <- w - lr * dL/dw, in the same memory

Two rules keep the gradients right:

* an in-place op is not recorded in the graph, so it is refused on a tensor
  that requires grad while the graph is being recorded (a leaf parameter
  outside ``no_grad``, or any result of an op on one); write ``x = x + y``
  there, or do it under ``no_grad`` as above;
* every write is registered (autograd/inplace.py): if a recorded backward still
  needs the old values, that backward refuses to run, rather than compute a
  wrong gradient.
"""
from __future__ import annotations

from typing import Any, Callable

from .. import backend
from ..autograd import grad_mode, inplace
from ..tensor import Tensor
from . import indexing, scatter


def add_(x: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """x += alpha * other."""
    return _write("add_", x, lambda a: _add(a, _operand("add_", other, x), alpha), other)


def sub_(x: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """x -= alpha * other."""
    return _write("sub_", x, lambda a: _add(a, _operand("sub_", other, x), -alpha), other)


def mul_(x: Tensor, other: Any) -> Tensor:
    return _write("mul_", x, lambda a: a.__imul__(_operand("mul_", other, x)), other)


def div_(x: Tensor, other: Any) -> Tensor:
    return _write("div_", x, lambda a: a.__itruediv__(_operand("div_", other, x)), other)


def fill_(x: Tensor, value: Any) -> Tensor:
    """Every element becomes ``value``."""
    return _write("fill_", x, lambda a: a.fill(value.item() if isinstance(value, Tensor) else value))


def zero_(x: Tensor) -> Tensor:
    return fill_(x, 0)


def copy_(x: Tensor, src: Any) -> Tensor:
    """x's values become src's (broadcast to x's shape, cast to x's dtype, moved to x's device)."""
    values = src.array if isinstance(src, Tensor) else backend.as_array(src)
    return _write("copy_", x, lambda a: a.__setitem__(Ellipsis, backend.to_device(values, x.device)), src)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clip every element into [min, max] (either may be None)."""
    return _write("clamp_", x, lambda a: backend.xp_of(a).clip(a, min, max, out=a))


def masked_fill_(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``value`` wherever ``mask`` (broadcast to x) is True.

    A ``where``, not ``putmask``: CuPy's putmask with a number is ``a[mask] = value``,
    which reads the number of True values back to the host, a sync.
    """
    blocked = mask.array if isinstance(mask, Tensor) else backend.as_array(mask)
    return _write("masked_fill_", x, lambda a: a.__setitem__(
        Ellipsis, backend.xp_of(a).where(backend.to_device(blocked, x.device), value, a)))


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``: the indexed elements take value (broadcast, cast to x's dtype)."""
    index = indexing.checked_index("setitem", x, index)
    values = _operand("setitem", value, x) if isinstance(value, Tensor) else backend.as_array(value)
    _write("setitem", x, lambda a: a.__setitem__(index, backend.to_device(values, x.device)), value)


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Samples of N(mean, std^2), from the device's seeded generator."""
    return _write("normal_", x, lambda a: a.__setitem__(
        Ellipsis, backend.normal(a.shape, a.dtype, x.device) * std + mean))


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Samples of U(a, b), from the device's seeded generator."""
    return _write("uniform_", x, lambda data: data.__setitem__(
        Ellipsis, backend.uniform(data.shape, data.dtype, x.device) * (b - a) + a))


def _write(op: str, x: Tensor, write: Callable[[Any], Any], *operands: Any) -> Tensor:
    """Check the rules, write into x's array, register the write; x itself is the result."""
    if grad_mode.is_grad_enabled() and (x.requires_grad or any(
            isinstance(o, Tensor) and o.requires_grad for o in operands)):
        raise RuntimeError(_recorded(op, x))
    if any(stride == 0 and n > 1 for stride, n in zip(x.array.strides, x.shape)):
        raise ValueError(f"{op}: cannot write into a tensor of shape {x.shape}: it is a broadcast view "
                         f"(from expand), read-only, since several of its elements are one memory "
                         f"location (NumPy refuses to write it, CuPy would write each location several "
                         f"times at once); make a copy with .clone()")
    try:
        with backend.on_device(x.device):
            write(x.array)
    except (TypeError, ValueError) as error:  # dtypes that do not cast, shapes that do not fit
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{op}: cannot write into a tensor of shape {x.shape} and dtype "
                          f"{x.dtype}: {error}. In-place results keep the tensor's shape and dtype") from None
    inplace.mark_written(x.array)
    return x


def _operand(op: str, other: Any, x: Tensor) -> Any:
    if isinstance(other, Tensor):
        if other.device != x.device:
            raise RuntimeError(f"{op}: the tensor is on {x.device} but the operand on {other.device}; "
                               f"move one with .to()")
        return other.array
    return other  # a Python number: it takes x's dtype (NumPy's weak scalars)


def _add(a: Any, b: Any, alpha: float) -> Any:
    a += b if alpha == 1 else b * alpha
    return a


def _recorded(op: str, x: Tensor) -> str:
    if x.requires_grad and x.is_leaf:
        return (f"{op}: this is a leaf tensor that requires grad (a parameter, say), and changing it "
                f"in place while the graph is recorded would break its gradient (a leaf Variable that "
                f"requires grad is being used in an in-place operation). Do it under "
                f"`with tinytensor.no_grad():`, as optimizers and nn.init do.")
    return (f"{op}: in-place operations are not recorded in the graph, and this takes part in one "
            f"(it or the operand requires grad). Write the out-of-place op (x = x + y), or do it "
            f"under `with tinytensor.no_grad():` if no gradient should flow through it.")


def scatter_(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
             reduce: str | None = None) -> Tensor:
    """src (a tensor) or value (a number) written into x at ``index`` along ``dim`` (ops/scatter.py)."""
    op, values = scatter.prepare("scatter_", x, dim, index, src, value, reduce)
    return _write("scatter_", x, lambda a: op.write_into(a, values.array), values)


def scatter_add_(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """src added into x at ``index`` along ``dim``, repeated positions adding up (ops/scatter.py)."""
    op, values = scatter.prepare("scatter_add_", x, dim, index, src, None, "add")
    return _write("scatter_add_", x, lambda a: op.write_into(a, values.array), values)


def index_fill_(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """``value`` (a number or a 0-d tensor) into every slice along ``dim`` that ``index`` names."""
    filled = scatter.filled_slices("index_fill_", x, dim, index)
    if isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"index_fill_: value must be a number or a 0-d tensor, got shape {value.shape}")
    number = _operand("index_fill_", value, x)
    return _write("index_fill_", x, lambda a: a.__setitem__(
        Ellipsis, backend.xp_of(a).where(filled, number, a)), value)
