"""A scalar autograd engine checked against torch, the way small autograd engines test themselves.

`Scalar` below is a complete reverse-mode autograd on Python floats: each
result keeps its inputs and the local derivative with respect to each. Every
check builds one expression twice, with Scalars and with one-element float64
torch tensors (`torch.Tensor([x]).double()`, `requires_grad = True`), runs
backward on both and asserts that values and gradients agree.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py, where
`torch` may be another library, whose answers these checks then test.
"""
import math

import torch


class Scalar:
    """A float with a gradient; `parents` pairs each input with d(self)/d(input)."""

    def __init__(self, value, parents=()):
        self.value = value
        self.grad = 0.0
        self.parents = parents

    @staticmethod
    def lift(x):
        return x if isinstance(x, Scalar) else Scalar(float(x))

    def __add__(self, other):
        other = Scalar.lift(other)
        return Scalar(self.value + other.value, ((self, 1.0), (other, 1.0)))

    def __mul__(self, other):
        other = Scalar.lift(other)
        return Scalar(self.value * other.value, ((self, other.value), (other, self.value)))

    def __pow__(self, k):
        return Scalar(self.value ** k, ((self, k * self.value ** (k - 1)),))

    def relu(self):
        return Scalar(max(self.value, 0.0), ((self, float(self.value > 0)),))

    def tanh(self):
        t = math.tanh(self.value)
        return Scalar(t, ((self, 1.0 - t * t),))

    def exp(self):
        e = math.exp(self.value)
        return Scalar(e, ((self, e),))

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Scalar.lift(other))

    def __rsub__(self, other):
        return Scalar.lift(other) - self

    def __truediv__(self, other):
        return self * Scalar.lift(other) ** -1

    def __rtruediv__(self, other):
        return Scalar.lift(other) * self ** -1

    def backward(self):
        """Chain rule from the output back: visit nodes after everything that uses them."""
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent, _ in node.parents:
                    visit(parent)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad


def leaf(x):
    """The torch twin of Scalar(x): a one-element float64 tensor that requires grad."""
    t = torch.Tensor([x]).double()
    t.requires_grad = True
    return t


def polynomial_with_kinks(x):
    """Works on Scalars and on tensors alike."""
    u = 3 * x - 1 + x * x
    v = (u * x).relu() + u / 4
    w = (u - 7).relu() * v + v * v / 10
    return w + 2 * v - x


def check_polynomial_with_kinks():
    for x0 in (-2.5, 0.5, 1.75):
        xs = Scalar(x0)
        ys = polynomial_with_kinks(xs)
        ys.backward()
        xt = leaf(x0)
        yt = polynomial_with_kinks(xt)
        yt.backward()
        assert abs(ys.value - yt.data.item()) < 1e-9 * max(1.0, abs(ys.value))
        assert abs(xs.grad - xt.grad.item()) < 1e-9 * max(1.0, abs(xs.grad))
        print(f"kinks at {x0}: y = {yt.data.item():.6f}, dy/dx = {xt.grad.item():.6f}")


def two_inputs(a, b):
    s = a * b - b ** 3 + 2
    s = s + s * 0.5 + (a - b).relu()
    t = (b + a * 2).relu() * s - 1 / (s * s + 1)
    return t ** 2 / 3 + s


def check_two_inputs():
    a_s, b_s = Scalar(1.5), Scalar(-0.75)
    out_s = two_inputs(a_s, b_s)
    out_s.backward()
    a_t, b_t = leaf(1.5), leaf(-0.75)
    out_t = two_inputs(a_t, b_t)
    out_t.backward()
    pairs = ((out_s.value, out_t.data.item()), (a_s.grad, a_t.grad.item()), (b_s.grad, b_t.grad.item()))
    for mine, theirs in pairs:
        assert abs(mine - theirs) < 1e-9 * max(1.0, abs(mine))
    print(f"two inputs: {out_t.item():.6f}, d/da = {a_t.grad.item():.6f}, d/db = {b_t.grad.item():.6f}")


def check_unary_methods():
    """Tensor methods taken from the class itself, `torch.Tensor.tanh(t)`."""
    for name, scalar_fn, tensor_fn in [("tanh", Scalar.tanh, torch.Tensor.tanh),
                                       ("exp", Scalar.exp, torch.Tensor.exp),
                                       ("relu", Scalar.relu, torch.Tensor.relu)]:
        for x0 in (-1.25, 0.375, 1.875):  # float32 holds them exactly, as torch.Tensor does
            xs = Scalar(x0)
            scalar_fn(xs).backward()
            xt = leaf(x0)
            yt = tensor_fn(xt)
            yt.backward()
            assert abs(scalar_fn(Scalar(x0)).value - yt.data.item()) < 1e-12
            assert abs(xs.grad - xt.grad.item()) < 1e-12
            print(f"{name}({x0}) = {yt.item():.6f}, derivative {xt.grad.item():.6f}")


def check_a_neuron_against_linear():
    """One tanh neuron by hand and as nn.Linear + tanh: the same output and gradients."""
    weights, bias, inputs = [0.5, -1.5, 2.0], 0.25, [1.0, 0.5, -0.75]
    ws, bs = [Scalar(w) for w in weights], Scalar(bias)
    out = sum((w * x for w, x in zip(ws, inputs)), bs).tanh()
    out.backward()

    layer = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weights], dtype=torch.float64))
        layer.bias.fill_(bias)
    y = torch.tanh(layer(torch.tensor([inputs], dtype=torch.float64))).sum()
    y.backward()
    assert abs(out.value - y.item()) < 1e-12
    for w, g in zip(ws, layer.weight.grad[0].tolist()):
        assert abs(w.grad - g) < 1e-12
    assert abs(bs.grad - layer.bias.grad.item()) < 1e-12
    print("neuron:", f"{y.item():.6f}", [f"{g:.6f}" for g in layer.weight.grad[0].tolist()])


check_polynomial_with_kinks()
check_two_inputs()
check_unary_methods()
check_a_neuron_against_linear()
print("all checks passed")
