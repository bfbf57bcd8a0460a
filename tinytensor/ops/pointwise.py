"""Pointwise functions: y = f(x) element by element, so dL/dx = dL/dy * f'(x).

    exp      f' = exp(x) = y
    log      f' = 1 / x
    sqrt     f' = 1 / (2 sqrt(x)) = 1 / (2y)
    sin      f' = cos(x)
    cos      f' = -sin(x)
    tanh     f' = 1 - tanh(x)^2 = 1 - y^2
    sigmoid  f' = s(x)(1 - s(x)) = y(1 - y)
    relu     f' = 1 where x > 0, else 0
    abs      f' = sign(x)
    erf      f' = 2/sqrt(pi) exp(-x^2)
    gelu     GELU(x) = x Phi(x) (Hendrycks & Gimpel), Phi the normal distribution function:
             exact, 0.5 x (1 + erf(x / sqrt(2))) (PyTorch's default), or in the tanh form
             GPT-2 and BERT used, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    sign     f' = 0 (flat on both sides of its step)
    rsqrt    f' = -1/2 x^(-3/2) = -y^3 / 2

Where f' is written with y (the output), backward reads ``self.output``, which
stays connected to the graph, so second derivatives are right too.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .. import backend
from ..autograd.function import Function, Value, constant, mask_like
from .erf_series import TWO_OVER_SQRT_PI, erf_array

if TYPE_CHECKING:
    from ..tensor import Tensor


class Exp(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).exp(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad * self.output,)


class Log(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).log(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad / self.operands[0],)


class Sqrt(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).sqrt(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad / (self.output * 2),)


class Sin(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).sin(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad * cos(self.operands[0]),)


class Cos(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).cos(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad * -sin(self.operands[0]),)


class Tanh(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).tanh(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        y = self.output
        return (grad * (1 - y * y),)


class Sigmoid(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        # 1 / (1 + e^-x) overflows e^-x for very negative x; this form never does
        return 0.5 * (backend.xp_of(a).tanh(0.5 * a) + 1)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        y = self.output
        return (grad * y * (1 - y),)


class Relu(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).maximum(a, 0)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad * mask_like(self.operands[0] > 0, grad),)


class Abs(Function):
    def forward(self, a: Any) -> Any:
        return backend.xp_of(a).abs(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.operands[0]
        return (grad * (mask_like(x > 0, grad) - mask_like(x < 0, grad)),)  # sign(x), 0 at 0


# ----------------------------------------------------------------------------
# erf (computed in erf_series.py), and GELU in its two forms
# ----------------------------------------------------------------------------
class Erf(Function):
    def forward(self, a: Any) -> Any:
        return erf_array(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.operands[0]
        return (grad * exp(-(x * x)) * TWO_OVER_SQRT_PI,)


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu_tanh(a: Any) -> Any:
    """t = tanh(c (x + k x^3)), the tanh form's inner term.

    GELU runs on the largest activations of a Transformer (batch x tokens x 4 d),
    so the tanh form works in place: one new array, not ten.
    """
    u = backend.ensure_array(a * a)  # of a 0-d array NumPy returns a scalar, not writable in place
    u *= _GELU_K
    u += 1
    u *= a
    u *= _GELU_C
    return backend.xp_of(a).tanh(u, out=u)


def _normal_cdf(a: Any) -> Any:
    """Phi(x) = (1 + erf(x / sqrt(2))) / 2, the exact form's weight."""
    phi = erf_array(a * _SQRT_HALF)
    phi += 1
    phi *= 0.5
    return phi


def _normal_pdf(a: Any) -> Any:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the normal density, Phi's derivative."""
    return backend.xp_of(a).exp(a * a * -0.5) * _INV_SQRT_2PI


class Gelu(Function):
    """GELU(x) = x Phi(x): ``approximate="none"`` exactly, ``"tanh"`` in the tanh form."""

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, a: Any) -> Any:
        if self.approximate == "none":
            self.saved = _normal_cdf(a)  # Phi(x): its erf is the costly part, and the derivative's too
            return self.saved * a
        out = _gelu_tanh(a)  # 0.5 x (1 + t)
        out += 1
        out *= 0.5
        out *= a
        return out

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (grad * GeluDerivative(self.approximate, self.saved)(self.operands[0]),)


class GeluDerivative(Function):
    """GELU'(x) as an op of its own: computed in one pass over arrays, and differentiable.

    Exact form:  GELU'(x) = Phi(x) + x phi(x)          GELU''(x) = phi(x) (2 - x^2)
    tanh form, with t = tanh(u), u = c (x + k x^3), u' = c (1 + 3 k x^2), u'' = 6 c k x:
        GELU'(x)  = 0.5 (1 + t) + 0.5 x (1 - t^2) u'
        GELU''(x) = (1 - t^2) (u' + 0.5 x (u'' - 2 t u'^2))
    """

    def __init__(self, approximate: str, cdf: Any = None) -> None:
        self.approximate, self.cdf = approximate, cdf  # cdf: Phi(x), if GELU's forward kept it

    @property
    def name(self) -> str:
        return "gelu'"

    def forward(self, a: Any) -> Any:
        if self.approximate == "none":
            slope = _normal_pdf(a)
            slope *= a
            slope += _normal_cdf(a) if self.cdf is None else self.cdf
            return slope
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

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.operands[0]
        if self.approximate == "none":
            return (grad * exp(x * x * -0.5) * _INV_SQRT_2PI * (2 - x * x),)
        t = tanh(_GELU_C * (x + _GELU_K * x * x * x))
        du = _GELU_C * (1 + 3 * _GELU_K * x * x)
        d2u = (6 * _GELU_C * _GELU_K) * x
        return (grad * (1 - t * t) * (du + 0.5 * x * (d2u - 2 * t * du * du)),)


# ----------------------------------------------------------------------------
# The functions: tt.exp(x), x.exp() and F.relu(x) are all these
# ----------------------------------------------------------------------------
def exp(x: Tensor) -> Tensor:
    return Exp()(x)


def log(x: Tensor) -> Tensor:
    return Log()(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt()(x)


def sin(x: Tensor) -> Tensor:
    return Sin()(x)


def cos(x: Tensor) -> Tensor:
    return Cos()(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh()(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid()(x)


def relu(x: Tensor) -> Tensor:
    return Relu()(x)


def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    return Abs()(x)


def erf(x: Tensor) -> Tensor:
    return Erf()(x)


# ----------------------------------------------------------------------------
# sign and rsqrt
# ----------------------------------------------------------------------------
#   sign     f' = 0 everywhere (a step function; PyTorch's gradient is 0 at 0 too)
#   rsqrt    y = 1/sqrt(x) = x^(-1/2),  f' = -1/2 x^(-3/2) = -y^3 / 2
#
# Worked example: rsqrt(4) = 0.5, and its slope there is -0.5 * 0.5^3 = -0.0625,
# which is (4.01^-0.5 - 3.99^-0.5) / 0.02 to five digits.
class Sign(Function):
    """1 where x > 0, -1 where x < 0, 0 at 0 and at NaN (as PyTorch; NumPy's sign(NaN) is NaN)."""

    keeps_inputs = False  # backward reads only the input's shape, dtype and device

    def forward(self, a: Any) -> Any:
        if a.dtype.kind == "b":  # a bool is its own sign, as in PyTorch
            return a.copy()
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        x = self.inputs[0]
        return (constant(backend.full(x.shape, 0, x.dtype, x.device), grad),)  # 0, even where grad is inf


class Rsqrt(Function):
    needs_output = True

    def forward(self, a: Any) -> Any:
        return 1 / backend.xp_of(a).sqrt(a)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        y = self.output
        return (grad * (y * y * y) * -0.5,)


def sign(x: Tensor) -> Tensor:
    return Sign()(x)


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x); integers and booleans give the default float, as in PyTorch."""
    return Rsqrt()(x if backend.is_floating(x.dtype) else x.to(backend.DEFAULT_FLOAT))
