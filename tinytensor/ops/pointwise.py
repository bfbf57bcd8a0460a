"""Pointwise functions: y = f(x) element by element, so dL/dx = dL/dy * f'(x).

    exp      f' = exp(x) = y
    log      f' = 1 / x
    sqrt     f' = 1 / (2 sqrt(x)) = 1 / (2y)
    tanh     f' = 1 - tanh(x)^2 = 1 - y^2
    sigmoid  f' = s(x)(1 - s(x)) = y(1 - y)
    relu     f' = 1 where x > 0, else 0
    abs      f' = sign(x)
    gelu     GELU(x) = x * Phi(x), in the tanh form of Hendrycks & Gimpel (used by
             GPT-2 and BERT): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

Where f' is written with y (the output), backward reads ``self.output``, which
stays connected to the graph, so second derivatives are right too.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor


def mask_like(condition: Any, like: Tensor) -> Tensor:
    """A constant 0/1 tensor of like's dtype (for derivatives that are piecewise constant)."""
    return Tensor._make(backend.ensure_array(condition.astype(like.dtype)), None)


class Exp(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).exp(a)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad * self.output,)


class Log(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).log(a)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad / self.inputs[0],)


class Sqrt(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).sqrt(a)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad / (self.output * 2),)


class Tanh(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).tanh(a)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        y = self.output
        return (grad * (1 - y * y),)


class Sigmoid(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        # 1 / (1 + e^-x) overflows e^-x for very negative x; this form never does
        return 0.5 * (backend.xp_of(a).tanh(0.5 * a) + 1)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        y = self.output
        return (grad * y * (1 - y),)


class Relu(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).maximum(a, 0)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x = self.inputs[0]
        return (grad * mask_like(x.data > 0, grad),)


class Abs(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).abs(a)

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x = self.inputs[0]
        return (grad * mask_like(backend.xp_of(x.data).sign(x.data), grad),)


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _gelu_tanh(a: Any) -> Any:
    """t = tanh(c (x + k x^3)), GELU's inner term.

    GELU runs on the largest activations of a Transformer (batch x tokens x 4 d),
    so this and the two forwards below work in place: one new array, not ten.
    """
    u = backend.ensure_array(a * a)  # of a 0-d array NumPy returns a scalar, not writable in place
    u *= _GELU_K
    u += 1
    u *= a
    u *= _GELU_C
    return backend.xp_of(a).tanh(u, out=u)


class Gelu(Function):
    def forward(self, a: Any) -> Any:
        t = _gelu_tanh(a)  # 0.5 x (1 + t)
        t += 1
        t *= a
        t *= 0.5
        return t

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        return (grad * GeluDerivative()(self.inputs[0]),)


class GeluDerivative(Function):
    """GELU'(x) as an op of its own: computed in one pass over arrays, and differentiable.

    With t = tanh(u), u = c (x + k x^3), u' = c (1 + 3 k x^2), u'' = 6 c k x:
        GELU'(x)  = 0.5 (1 + t) + 0.5 x (1 - t^2) u'
        GELU''(x) = (1 - t^2) (u' + 0.5 x (u'' - 2 t u'^2))
    """

    @property
    def name(self) -> str:
        return "gelu'"

    def forward(self, a: Any) -> Any:
        t = _gelu_tanh(a)
        slope = backend.ensure_array(a * a)  # 0.5 x (1 - t^2) u'
        slope *= 3 * _GELU_K
        slope += 1
        slope *= _GELU_C
        slope *= a
        slope *= 0.5
        slope *= 1 - t * t
        t += 1  # + 0.5 (1 + t)
        t *= 0.5
        t += slope
        return t

    def backward(self, grad: Tensor) -> tuple[Tensor]:
        x = self.inputs[0]
        t = (_GELU_C * (x + _GELU_K * x * x * x)).tanh()
        du = _GELU_C * (1 + 3 * _GELU_K * x * x)
        d2u = (6 * _GELU_C * _GELU_K) * x
        return (grad * (1 - t * t) * (du + 0.5 * x * (d2u - 2 * t * du * du)),)
