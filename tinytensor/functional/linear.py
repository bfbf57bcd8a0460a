"""The affine map y = x W^T + b as one graph node, as torch.nn.functional.linear.

Every Linear layer, every projection of attention, the output layer: a
Transformer step runs dozens of them. Written with the ordinary ops it is a
transpose, a reshape, a matrix product, a reshape back and an add, five nodes
and their backward passes; here it is one, with the three gradients written out:

    x: (..., in), W: (out, in), b: (out,)       the leading dimensions are folded into rows
    dL/dx = G W                  (..., in)
    dL/dW = G^T x                (out, in), in W's own layout (no transposed copy)
    dL/db = sum of G over rows   (out,)

The backward uses tinytensor's own ops, so second derivatives pass through it.
"""
from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function, Value
from ..ops.promotion import promote
from ..tensor import Tensor


class Linear(Function):
    """x W^T (+ b) over the last dimension of x."""

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        out = _matrix(x) @ weight.T  # (rows, out): one product for every position
        if bias is not None:
            out += bias  # out is a new array: adding in place saves one
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x, weight = self.operands[:2]
        rows = _matrix(grad)                                         # (rows, out)
        grad_x = (rows @ weight).reshape(x.shape) if self.needs_grad(0) else None
        grad_w = rows.swapaxes(0, 1) @ _matrix(x) if self.needs_grad(1) else None  # (out, in)
        grad_b = rows.sum(0) if len(self.inputs) == 3 and self.needs_grad(2) else None
        return (grad_x, grad_w, grad_b)[:len(self.inputs)]


def _matrix(a: Value) -> Value:
    """(..., n) as (rows, n). The row count is spelled out: reshape(-1, 0) cannot infer it."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = input W^T + b, for input (..., in_features) and weight (out_features, in_features)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1] or weight.ndim != 2:
        raise ValueError(f"linear: input of shape {input.shape} needs a weight of shape "
                         f"(out_features, {input.shape[-1] if input.ndim else '?'}), got {weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    # One dtype for all three (the widest float), each gradient back in its input's own.
    input, weight = promote(input, weight)
    if bias is None:
        return Linear()(input, weight)
    input, bias = promote(input, bias)
    return Linear()(input, weight if weight.dtype == input.dtype else weight.to(input.dtype), bias)
