"""Arithmetic: + - * / ** and unary minus, with broadcasting.

Each backward is the derivative you learn in school, times the incoming
gradient (the chain rule), then ``sum_to`` the input's shape because
broadcasting may have copied the input (see broadcast.py):

    z = a + b    dz/da = 1             dz/db = 1
    z = a - b    dz/da = 1             dz/db = -1
    z = a * b    dz/da = b             dz/db = a
    z = a / b    dz/da = 1/b           dz/db = -a/b^2
    z = a ** b   dz/da = b a^(b-1)     dz/db = a^b ln a
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..autograd.function import Function, Value
from .broadcast import sum_to
from .promotion import Binary
from .pointwise import Log

if TYPE_CHECKING:
    from ..tensor import Tensor


class Add(Binary):
    keeps_inputs = False

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.inputs  # only their shapes
        return (sum_to(grad, a.shape) if self.needs_grad(0) else None,
                sum_to(grad, b.shape) if self.needs_grad(1) else None)


class Sub(Binary):
    keeps_inputs = False

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.inputs  # only their shapes
        return (sum_to(grad, a.shape) if self.needs_grad(0) else None,
                sum_to(-grad, b.shape) if self.needs_grad(1) else None)


class Mul(Binary):
    def forward(self, a: Any, b: Any) -> Any:
        return a * b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.operands
        return (sum_to(grad * b, a.shape) if self.needs_grad(0) else None,
                sum_to(grad * a, b.shape) if self.needs_grad(1) else None)


class Div(Binary):
    true_division = True  # int / int is a float, as in PyTorch

    def forward(self, a: Any, b: Any) -> Any:
        return a / b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        a, b = self.operands
        grad_a = grad / b
        return (sum_to(grad_a, a.shape) if self.needs_grad(0) else None,
                sum_to(-grad_a * a / b, b.shape) if self.needs_grad(1) else None)


class Pow(Binary):
    needs_output = True

    def forward(self, a: Any, b: Any) -> Any:
        return a ** b

    def backward(self, grad: Value) -> tuple[Value, ...]:
        # As PyTorch: where b = 0, dz/da is 0 even at a = 0 (not 0 * 0^-1 = nan), and
        # where a = 0 and b >= 0, dz/db is 0 (not 0 * log 0 = nan). Adding a comparison
        # (True is 1) moves the exponent to 0 and the logarithm's argument to 1 at those
        # points only, so both factors are finite there and the product is the 0 wanted.
        a, b = self.operands
        grad_a = grad_b = None
        if self.needs_grad(0):
            slope = b * a ** (b - 1 + (b == 0))
            grad_a = sum_to(grad * slope, a.shape)
        if self.needs_grad(1):
            slope = self.output * Log()(a + ((a == 0) & (b >= 0)))
            grad_b = sum_to(grad * slope, b.shape)
        return grad_a, grad_b


class Neg(Function):
    keeps_inputs = False

    def forward(self, a: Any) -> Any:
        return -a

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return (-grad,)


# ----------------------------------------------------------------------------
# The functions under PyTorch's names: tt.add(x, y) and x.add(y) are x + y
# ----------------------------------------------------------------------------
def add(x: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """x + alpha * other."""
    return x + (other if alpha == 1 else other * alpha)


def sub(x: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """x - alpha * other."""
    return x - (other if alpha == 1 else other * alpha)


def mul(x: Tensor, other: Any) -> Tensor:
    return x * other


def div(x: Tensor, other: Any) -> Tensor:
    return x / other


def pow(x: Tensor, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    return x ** exponent


def neg(x: Tensor) -> Tensor:
    return -x


def square(x: Tensor) -> Tensor:
    return x * x
