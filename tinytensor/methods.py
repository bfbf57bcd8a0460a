"""Tensor's methods beyond the core: ``x.exp()``, ``x.sum(dim=1)``, ``x.view(2, 3)``, ``x.add_(y)``...

tensor.py holds what autograd needs: the values, the links of the graph,
backward, devices, and the operators (+ - * / ** @ == < & ...) backward
formulas are written with. Everything else a Tensor can do is one of the
functions of ``tinytensor.ops`` (or ``functional``), the very function that
tinytensor exports under the same name: ``x.exp()`` is ``tinytensor.exp(x)``,
``x.sum(dim=1)`` is ``tinytensor.sum(x, dim=1)``. This file attaches them to the
class, so that each exists once and a reader of the core need not wade through
them. Names are PyTorch's, with NumPy's where a PyTorch user might reach for one
(``clip``, ``swapaxes``, ``axis=``), and an attribute that does not exist gets
an error that says what to use instead.
"""
from __future__ import annotations

from typing import Any

from . import backend, creation, functional, tensor_types
from .ops import (arithmetic, broadcast, comparison, conversion, indexing, inplace, matmul, pointwise,
                  reduction, selection)
from .ops import sampling, scan, scatter, sorting
from .ops import shape as shape_ops
from .hints import did_you_mean
from .tensor import Tensor

METHODS = {
    # pointwise functions (ops/pointwise.py)
    "exp": pointwise.exp, "log": pointwise.log, "sqrt": pointwise.sqrt, "sin": pointwise.sin,
    "cos": pointwise.cos, "tanh": pointwise.tanh, "sigmoid": pointwise.sigmoid, "relu": pointwise.relu,
    "abs": pointwise.abs, "erf": pointwise.erf,
    # arithmetic under PyTorch's names (ops/arithmetic.py)
    "add": arithmetic.add, "sub": arithmetic.sub, "mul": arithmetic.mul, "div": arithmetic.div,
    "pow": arithmetic.pow, "neg": arithmetic.neg, "square": arithmetic.square, "matmul": matmul.matmul,
    # picking values (ops/selection.py, ops/indexing.py)
    "clip": selection.clip, "clamp": selection.clip, "masked_fill": selection.masked_fill,
    "tril": selection.tril, "triu": selection.triu, "gather": indexing.gather, "topk": indexing.topk,
    "index_select": indexing.index_select,
    # reductions (ops/reduction.py, ops/comparison.py)
    "sum": reduction.sum, "mean": reduction.mean, "max": reduction.max, "min": reduction.min,
    "amax": reduction.amax, "amin": reduction.amin, "var": reduction.var, "std": reduction.std,
    "norm": reduction.norm, "argmax": comparison.argmax, "argmin": comparison.argmin,
    "all": comparison.all, "any": comparison.any,
    # comparisons under PyTorch's names
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y,
    "allclose": comparison.allclose, "equal": comparison.equal,
    # the softmax family (functional/activation.py)
    "softmax": functional.softmax, "log_softmax": functional.log_softmax,
    "logsumexp": functional.logsumexp,
    # shapes (ops/shape.py, ops/broadcast.py)
    "reshape": shape_ops.reshape, "view": shape_ops.reshape, "view_as": shape_ops.view_as,
    "reshape_as": shape_ops.view_as, "transpose": shape_ops.transpose, "swapaxes": shape_ops.transpose,
    "permute": shape_ops.permute, "t": shape_ops.t, "squeeze": shape_ops.squeeze,
    "unsqueeze": shape_ops.unsqueeze, "flatten": shape_ops.flatten, "expand": shape_ops.expand,
    "expand_as": shape_ops.expand_as, "broadcast_to": broadcast.broadcast_to, "split": shape_ops.split,
    "chunk": shape_ops.chunk, "unbind": shape_ops.unbind, "repeat": shape_ops.repeat,
    # copies and casts (ops/conversion.py)
    "clone": conversion.clone, "contiguous": conversion.contiguous, "type_as": conversion.type_as,
    "float": lambda x: x.to(backend.float32), "double": lambda x: x.to(backend.float64),
    "half": lambda x: x.to(backend.float16), "long": lambda x: x.to(backend.int64),
    "int": lambda x: x.to(backend.int32), "bool": lambda x: x.to(backend.bool_),
    # in place (ops/inplace.py)
    "add_": inplace.add_, "sub_": inplace.sub_, "mul_": inplace.mul_, "div_": inplace.div_,
    "fill_": inplace.fill_, "zero_": inplace.zero_, "copy_": inplace.copy_, "clamp_": inplace.clamp_,
    "clip_": inplace.clamp_, "masked_fill_": inplace.masked_fill_, "normal_": inplace.normal_,
    "uniform_": inplace.uniform_, "__setitem__": inplace.setitem,  # x[index] = value
    # x += y is in place, as in PyTorch (without these, Python would rebind x to a new tensor)
    "__iadd__": inplace.add_, "__isub__": inplace.sub_, "__imul__": inplace.mul_,
    "__itruediv__": inplace.div_,
    # a few words for what tensor.py has under another name
    "dim": lambda x: x.ndim, "ndimension": lambda x: x.ndim, "nelement": lambda x: x.numel(),
    "type": tensor_types.type_, "byte": lambda x: x.to(backend.uint8), "char": lambda x: x.to(backend.int8),
    "short": lambda x: x.to(backend.int16),
    # more of PyTorch's: signs and tests of values, orders, scans, products, writing at indices, drawing
    "sign": pointwise.sign, "rsqrt": pointwise.rsqrt, "isnan": comparison.isnan,
    "isinf": comparison.isinf, "isfinite": comparison.isfinite, "nonzero": comparison.nonzero,
    "sort": sorting.sort, "argsort": sorting.argsort, "unique": sorting.unique,
    "cumsum": scan.cumsum, "cumprod": scan.cumprod, "prod": reduction.prod, "flip": shape_ops.flip,
    "roll": shape_ops.roll, "diag": indexing.diag, "mm": matmul.mm, "bmm": matmul.bmm,
    "outer": matmul.outer, "scatter": scatter.scatter, "scatter_add": scatter.scatter_add,
    "index_fill": scatter.index_fill, "scatter_": inplace.scatter_, "scatter_add_": inplace.scatter_add_,
    "index_fill_": inplace.index_fill_, "multinomial": sampling.multinomial,
    # new tensors of x's dtype and device (creation.py), and where with x as the values kept
    "new_zeros": creation.new_zeros, "new_ones": creation.new_ones, "new_empty": creation.new_empty,
    "new_full": creation.new_full, "new_tensor": creation.new_tensor,
    "where": lambda x, condition, other: selection.where(condition, x, other),
}

PROPERTIES = {"is_cuda": lambda x: x.device.type == "cuda"}

# Names from NumPy and elsewhere that tinytensor spells differently: what to write instead.
INSTEAD = {
    "astype": "x.to(dtype), e.g. x.to(tinytensor.float64), or x.double()",
    "ndims": "x.ndim, or x.dim()", "dims": "x.ndim, or x.dim()",
    "get": "x.numpy() (a NumPy array on the CPU) or x.cpu()",
    "asnumpy": "x.numpy()", "flat": "x.flatten() or x.reshape(-1)",
    "ravel": "x.flatten() or x.reshape(-1)", "copy": "x.clone()", "fill": "x.fill_(value)",
    "zero_grad": "x.grad = None (zero_grad belongs to a Module or an optimizer)",
}


def _missing(x: Tensor, name: str) -> Any:
    """Called only when normal lookup fails: an AttributeError that says what to use instead."""
    if name.startswith("__"):  # Python's own protocols (copy, pickle...) probe for these
        raise AttributeError(name)
    hint = INSTEAD.get(name)
    raise AttributeError(f"'Tensor' object has no attribute {name!r}"
                         + (f"; use {hint}" if hint else did_you_mean(name, dir(Tensor), prefix="x.")))


for _name, _function in METHODS.items():
    setattr(Tensor, _name, _function)
for _name, _getter in PROPERTIES.items():
    setattr(Tensor, _name, property(_getter))
Tensor.__getattr__ = _missing
